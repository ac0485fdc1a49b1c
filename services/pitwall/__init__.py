"""Pitwall: race timing for slot-car tracks."""

from importlib import metadata


def version() -> str:
    """The installed package's version ("unknown" when run from an uninstalled tree)."""
    try:
        return metadata.version("pitwall")
    except metadata.PackageNotFoundError:
        return "unknown"
