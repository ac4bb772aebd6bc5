"""Widgets shared by the panels: the session-time scrubber and the pooled heat map."""
