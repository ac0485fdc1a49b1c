"""Logging set-up shared by every process: one line per event, service name first.

Under systemd the journal adds its own timestamps, so none are printed there.
"""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(level: str = "INFO", service: str = "pitwall") -> None:
    under_journal = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(name)s: %(message)s" if under_journal else \
        f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
