"""Widgets shared by the panels: the session-time scrubber, the pooled heat map and the split's
spin boxes (``split.SplitSpins``, for the Controls and Baselines sections)."""
