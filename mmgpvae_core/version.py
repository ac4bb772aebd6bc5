"""The package's version, in a module of its own: the project file and the NWB export write it
without importing the package's facade (which would tie them into an import circle)."""

__version__ = "0.1.0"
