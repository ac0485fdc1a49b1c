"""``pitwall lane --lane N``: read one lane's sensor and publish its passes.

Runs until SIGINT or SIGTERM, then closes the pins and says "offline" on the bus.
Exit codes: 0 after a clean stop, 1 when the GPIO hardware is missing or a pin cannot be
opened (one line on stderr, no traceback), 2 for a lane that is not (properly)
configured (raised as SettingsError; the CLI prints it).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from gpiozero.pins.mock import MockFactory

from pitwall import contract
from pitwall.bus.mqtt import Bus
from pitwall.settings import LaneSettings, Settings

from .hardware import GpioUnavailable, gpio_errors, hardware_factory
from .modes import build_reader, check
from .reader import Publish

log = logging.getLogger(__name__)

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lane", type=int, required=True, metavar="N",
                        help="lane number: reads the [[lanes]] entry with lane = N")
    parser.add_argument("--mock", action="store_true",
                        help="use gpiozero's mock pins instead of the GPIO hardware "
                        "(a dry run: nothing drives the pins, so nothing is published)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    lane = settings.lane(args.lane)  # SettingsError: the CLI prints it and exits 2
    check(lane)
    # Block the stop signals before any thread exists (lgpio's, paho's, HSHAKE pulses):
    # every thread inherits the mask, and sigwait() below collects the signal without a
    # Python-level handler racing the main thread for a lock.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        return _serve(settings, lane, mock=args.mock)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def publisher(bus: Bus, lane: int) -> Publish:
    """publish(Pass) for a reader: QoS 1 on the lane's topic, queued while offline."""
    topic = bus.topics.lane_pass(lane)

    def publish(message: contract.Pass) -> None:
        bus.publish(topic, message)

    return publish


def _serve(settings: Settings, lane: LaneSettings, *, mock: bool) -> int:
    name = f"pitwall lane {lane.lane}"
    bus = Bus(settings, f"lane{lane.lane}")  # connects only in start()
    publish = publisher(bus, lane.lane)
    try:
        factory = MockFactory() if mock else hardware_factory()
    except GpioUnavailable as exc:
        print(f"{name}: no GPIO hardware found ({exc}); use --mock for a dry run",
              file=sys.stderr)
        return 1
    try:
        reader = build_reader(lane, factory, publish)
    except gpio_errors() as exc:
        factory.close()
        print(f"{name}: cannot open the GPIO pins for {lane.mode} mode "
              f"({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    try:
        log.info("lane %s: %s mode on GPIO%s%s, publishing on %s", lane.lane, lane.mode,
                 lane.pin, " (mock pins)" if mock else "", bus.topics.lane_pass(lane.lane))
        bus.start(wait=None)  # passes published before the connection are queued
        received = signal.sigwait(STOP_SIGNALS)
        log.info("lane %s: %s, stopping", lane.lane, signal.Signals(received).name)
    finally:
        reader.close()
        factory.close()
        bus.stop()
    return 0
