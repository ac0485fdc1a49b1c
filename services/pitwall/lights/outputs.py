"""The lights' outputs through gpiozero: start lights (an LEDBoard), flag LEDs, buzzer and
the track-power relays. Each pin is active-high unless listed in ``active_low_pins``.

Devices never touch hardware directly: they ask the pin factory (lgpio on the Pi,
MockFactory in tests and with ``--mock``).
"""

from __future__ import annotations

from collections import Counter

from gpiozero import LED, Buzzer, LEDBoard, OutputDevice
from gpiozero.pins import Factory

from pitwall.lights.panel import Panel
from pitwall.settings import LightsSettings, SettingsError


def check(cfg: LightsSettings) -> None:
    """Refuse settings that would wire two outputs to one pin, or mix start-light polarity."""
    pins = [p for p in (*cfg.red_pins, cfg.green_pin, cfg.yellow_pin, cfg.red_flag_pin,
                        cfg.chequered_pin, cfg.buzzer_pin, *cfg.power_pins) if p is not None]
    twice = sorted(p for p, n in Counter(pins).items() if n > 1)
    if twice:
        raise SettingsError(f"[lights]: GPIO{twice[0]} is given to two outputs")
    start = [p for p in (*cfg.red_pins, cfg.green_pin) if p is not None]
    low = set(cfg.active_low_pins)
    if start and len({p in low for p in start}) > 1:
        raise SettingsError("[lights]: the start lights (red_pins, green_pin) share one "
                            "LEDBoard, so list all or none of them in active_low_pins")


class Outputs:
    """Every fitted output, switched together from a Panel."""

    def __init__(self, cfg: LightsSettings, factory: Factory) -> None:
        check(cfg)
        low = set(cfg.active_low_pins)
        self._devices = []

        def add(device):
            self._devices.append(device)
            return device

        def single(kind, pin):
            if pin is None:
                return None
            return add(kind(pin, active_high=pin not in low, initial_value=False,
                            pin_factory=factory))

        try:
            self.reds = len(cfg.red_pins)
            self.has_green = cfg.green_pin is not None
            start = [*cfg.red_pins] + ([cfg.green_pin] if self.has_green else [])
            self.start = add(LEDBoard(*start, active_high=start[0] not in low,
                                      pin_factory=factory)) if start else None
            self.yellow = single(LED, cfg.yellow_pin)
            self.red = single(LED, cfg.red_flag_pin)
            self.chequered = single(LED, cfg.chequered_pin)
            self.buzzer = single(Buzzer, cfg.buzzer_pin)
            # Relays first to be built and last to be closed; initial_value=False means
            # the track has no power from the moment the pin is claimed.
            self.power = [single(OutputDevice, pin) for pin in cfg.power_pins]
        except BaseException:
            self.close()
            raise
        self.shown: Panel | None = None

    def show(self, panel: Panel) -> None:
        if panel == self.shown:
            return
        # Power first when it goes off, last when it comes on: never power with a red lamp.
        if not panel.power:
            self._power(False)
        if self.start is not None:
            lamps = [i < panel.reds for i in range(self.reds)]
            if self.has_green:
                lamps.append(panel.green)
            self.start.value = tuple(lamps)
        for device, on in ((self.yellow, panel.yellow), (self.red, panel.red),
                           (self.chequered, panel.chequered), (self.buzzer, panel.buzzer)):
            if device is not None:
                device.value = on
        if panel.power:
            self._power(True)
        self.shown = panel

    def _power(self, on: bool) -> None:
        for relay in self.power:
            relay.value = on

    def all_off(self) -> None:
        """Track power off, every lamp and the buzzer off (on stopping)."""
        self._power(False)
        self.show(Panel())

    def close(self) -> None:
        """Release the pins. Call all_off() first: a released pin is no longer driven."""
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()
