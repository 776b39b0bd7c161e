"""Privacy Workbench: a desktop tool for working with sensitive data."""

__version__ = "0.1.0"
