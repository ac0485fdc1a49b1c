"""The three input modes: break-beam/reed, decoder board, direct IR period decoding.

Each reader opens its pins in ``open()`` and publishes from the GPIO callback thread
(lgpio's alert thread on the Pi). Callbacks only read pins, start a background pulse or
feed a pure decoder, so they never hold that thread for longer than a publish call.
"""

from __future__ import annotations

import logging

from gpiozero import DigitalOutputDevice, InputDevice
from gpiozero.pins import Factory

from pitwall.core import decoder_board
from pitwall.core.ir import IrDecoder
from pitwall.settings import LaneSettings, SettingsError

from .reader import LaneReader, Publish

log = logging.getLogger(__name__)


class BeamReader(LaneReader):
    """Break-beam or reed switch: one pass per active edge, no car ID."""

    source = "gpio"

    def __init__(self, settings: LaneSettings, factory: Factory, publish: Publish) -> None:
        super().__init__(settings.lane, factory, publish)
        self.settings = settings

    def open(self) -> None:
        self._watch(self.settings.pin, active_low=self.settings.active_low,
                    handler=self._on_edge)

    def _on_edge(self, t_ns: int) -> None:
        # Every edge is reported, bounces included: dropping them here would need a
        # time window, and that is the lap service's minimum lap time.
        self.emit(t_ns)


class DecoderReader(LaneReader):
    """ZoomRoom-style decoder board: FLAG edge, three car-ID bits, HSHAKE acknowledge."""

    source = "decoder"

    def __init__(self, settings: LaneSettings, factory: Factory, publish: Publish) -> None:
        super().__init__(settings.lane, factory, publish)
        self.settings = settings
        self.bits: list[InputDevice] = []
        self.hshake: DigitalOutputDevice | None = None

    def open(self) -> None:
        s = self.settings
        # ID lines are driven by the board; the pull-down makes a loose wire read 0.
        self.bits = [self._open(InputDevice, pin, pull_up=False) for pin in s.id_pins]
        self.hshake = self._open(DigitalOutputDevice, s.hshake_pin, initial_value=False)
        # FLAG last, so no edge can arrive before the ID lines and HSHAKE exist.
        self._watch(s.pin, active_low=s.active_low, handler=self._on_flag)

    def _on_flag(self, t_ns: int) -> None:
        # The board holds the ID lines until it is acknowledged, so read them first.
        car = decoder_board.car_id([bit.value for bit in self.bits])
        # blink() runs the pulse on its own thread: the callback returns at once instead
        # of holding the GPIO thread (and the interpreter) for hshake_ms.
        self.hshake.blink(on_time=self.settings.hshake_ms / 1000, off_time=0, n=1,
                          background=True)
        self.emit(t_ns, car)


class IrReader(LaneReader):
    """Digital cars identified by their IR blink period (see pitwall.core.ir)."""

    source = "ir"

    def __init__(self, settings: LaneSettings, factory: Factory, publish: Publish) -> None:
        super().__init__(settings.lane, factory, publish)
        self.settings = settings
        self.decoder = IrDecoder(settings.ir_system, tolerance_us=settings.ir_tolerance_us,
                                 holdoff_ms=settings.ir_holdoff_ms)

    def open(self) -> None:
        # One edge direction only (the start of each flash): its spacing is the period.
        self._watch(self.settings.pin, active_low=self.settings.active_low,
                    handler=self._on_edge)

    def _on_edge(self, t_ns: int) -> None:
        detection = self.decoder.feed(t_ns)
        if detection is not None:
            self.emit(detection.t_ns, detection.car)


READERS = {"beam": BeamReader, "decoder": DecoderReader, "ir": IrReader}


def check(settings: LaneSettings) -> None:
    """Raise SettingsError for a lane whose pins cannot work in its mode."""
    where = f"lane {settings.lane} ({settings.mode} mode)"
    pins = [settings.pin]
    if settings.mode == "decoder":
        if len(settings.id_pins) != decoder_board.ID_BITS:
            raise SettingsError(f"{where}: id_pins needs {decoder_board.ID_BITS} BCM pins "
                                f"[b1, b2, b3], got {settings.id_pins}")
        if settings.hshake_pin is None:
            raise SettingsError(f"{where}: hshake_pin is required")
        pins += [*settings.id_pins, settings.hshake_pin]
    if len(set(pins)) != len(pins):
        raise SettingsError(f"{where}: a pin is used twice: {pins}")


def build_reader(settings: LaneSettings, factory: Factory, publish: Publish) -> LaneReader:
    """Check the settings, open the lane's pins and return the running reader.

    Raises SettingsError for bad settings and whatever gpiozero / lgpio raise for pins
    that cannot be opened (the pins opened so far are closed again).
    """
    check(settings)
    reader = READERS[settings.mode](settings, factory, publish)
    try:
        reader.open()
    except BaseException:
        reader.close()
        raise
    return reader
