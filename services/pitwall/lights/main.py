"""``pitwall lights``: drive the start lights, flag LEDs, buzzer and track-power relays
from the lap service's lights state, and send the director's button presses.

Runs until SIGINT or SIGTERM, then switches the track power and every lamp off. Exit
codes: 0 after a clean stop, 1 when the GPIO hardware is missing or a pin cannot be
opened (one line on stderr), 2 for bad ``[lights]``/``[[buttons]]`` settings.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from gpiozero.pins.mock import MockFactory

from pitwall.lane.hardware import GpioUnavailable, gpio_errors, hardware_factory
from pitwall.settings import Settings
from pitwall.signals import stop_on_signals

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mock", action="store_true",
                        help="use gpiozero's mock pins instead of the GPIO hardware "
                        "(a dry run: the log shows what the lights would do)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from pitwall.lights.buttons import Buttons
    from pitwall.lights.outputs import Outputs, check
    from pitwall.lights.service import LightsService

    check(settings.lights)  # SettingsError: the CLI prints it and exits 2
    stopping = stop_on_signals()
    try:
        factory = MockFactory() if args.mock else hardware_factory()
    except GpioUnavailable as exc:
        print(f"pitwall lights: no GPIO hardware found ({exc}); use --mock for a dry run",
              file=sys.stderr)
        return 1
    outputs = buttons = None
    try:
        outputs = Outputs(settings.lights, factory)
        service = LightsService(settings, outputs,
                                log_level=logging.INFO if args.mock else logging.DEBUG)
        buttons = Buttons(settings.buttons, factory,
                          lambda cmd: service.bus.publish(service.topics.race_command, cmd),
                          time.monotonic_ns)
    except gpio_errors() as exc:
        if outputs is not None:
            outputs.all_off()
            outputs.close()
        factory.close()
        print(f"pitwall lights: cannot open the GPIO pins ({type(exc).__name__}: {exc})",
              file=sys.stderr)
        return 1
    try:
        log.info("lights on %s, %d button(s); following %s", "mock pins" if args.mock
                 else "GPIO", len(settings.buttons), service.topics.lights_state)
        service.start(wait=None)
        while not stopping.wait(0.5):  # short waits let the signal handler run
            pass
    finally:
        buttons.close()
        service.stop()
        outputs.close()
        factory.close()
    return 0
