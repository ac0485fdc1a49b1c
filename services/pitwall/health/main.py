"""``pitwall health``: publish the box's health every ``[health] interval_s`` seconds
(retained ``health/state``) and each warning once (``health/warning``). Runs until
SIGINT or SIGTERM. ``--once`` prints one reading as JSON and exits (no broker needed)."""

from __future__ import annotations

import argparse
import sys

from pitwall import contract
from pitwall.settings import Settings
from pitwall.signals import stop_on_signals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true",
                        help="print one reading as JSON and exit (no broker needed)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from pitwall.health.service import HealthService

    service = HealthService(settings)
    if args.once:
        service._units = service.systemd()
        state = service.state(0.0, service.readings.read())
        sys.stdout.write(contract.encode(state).decode() + "\n")
        return 0
    service.run(stop_on_signals())
    return 0
