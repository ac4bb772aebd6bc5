"""Optional integrations with other tools, each imported only when used (``ray``: Ray Tune)."""
