"""MM-GPVAE Studio desktop app (PySide6 + pyqtgraph). Depends on mmgpvae_core, never the reverse."""
