"""Tagspace core: all logic behind the app and the ``python -m core`` command line."""

__version__ = "0.1.0"
