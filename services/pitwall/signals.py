"""Graceful stop for every process: SIGINT (Ctrl-C) and SIGTERM (systemd) set one event."""

from __future__ import annotations

import signal
import threading


def stop_on_signals() -> threading.Event:
    """An event that is set when the process is asked to stop. Call from the main thread."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    return stopping
