"""``pitwall laps``: run the lap service until SIGINT/SIGTERM."""

from __future__ import annotations

import signal


def run(settings, args) -> int:
    from pitwall.laps.service import LapService

    service = LapService(settings)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: service.stop())
    service.start(wait=None)
    service.run()
    return 0
