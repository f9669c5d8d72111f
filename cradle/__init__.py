"""Cradle: offline-first field data backend for child health programmes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cradle")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
