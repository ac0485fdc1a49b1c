"""``pitwall laps``: run the lap service until SIGINT/SIGTERM."""

from __future__ import annotations

import threading

from pitwall.signals import stop_on_signals


def run(settings, args) -> int:
    from pitwall.laps.service import LapService

    service = LapService(settings)
    stopping = stop_on_signals()
    threading.Thread(target=lambda: (stopping.wait(), service.stop()), daemon=True).start()
    service.start(wait=None)
    service.run()
    return 0
