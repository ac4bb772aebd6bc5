"""The main window's panels. Each owns its widgets and talks to the window through signals."""
