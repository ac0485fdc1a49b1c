"""The race director's buttons: each press sends one race command over MQTT.

A button is a gpiozero ``Button`` (pull-up on for a button to GND). gpiozero's own
``bounce_time`` is not used: with lgpio it delays every edge (FIELD-NOTES), and a
button needs no timestamp anyway. Instead a press closer than ``bounce_ms`` to the last
accepted press of the same button is contact bounce (or an impatient double press) and
is ignored: one press, one command.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import msgspec
from gpiozero import Button
from gpiozero.pins import Factory

from pitwall import contract
from pitwall.settings import ButtonSettings

log = logging.getLogger(__name__)

COMMANDS: dict[str, type[msgspec.Struct]] = {
    "start": contract.Start,
    "yellow": contract.Yellow,
    "green": contract.Green,
    "red": contract.Red,
    "finish": contract.Finish,
}

Send = Callable[[msgspec.Struct], None]


class Buttons:
    def __init__(self, buttons: list[ButtonSettings], factory: Factory, send: Send,
                 clock: Callable[[], int]) -> None:
        self.send = send
        self.clock = clock
        self._last: dict[int, int] = {}  # pin -> time of the last accepted press
        self._buttons: list[Button] = []
        try:
            for cfg in buttons:
                button = Button(cfg.pin, pull_up=cfg.active_low, pin_factory=factory)
                button.when_pressed = lambda cfg=cfg: self.pressed(cfg)
                self._buttons.append(button)
        except BaseException:
            self.close()
            raise

    def pressed(self, cfg: ButtonSettings) -> None:
        now = self.clock()
        last = self._last.get(cfg.pin)
        if last is not None and now - last < cfg.bounce_ms * 1_000_000:
            return
        self._last[cfg.pin] = now
        where = cfg.name or f"GPIO{cfg.pin}"
        # The id lets the lap service apply a redelivered press only once, and says where
        # the command came from in its log and on race/reply.
        command = COMMANDS[cfg.command](id=f"button-{cfg.pin}-{uuid.uuid4().hex[:8]}")
        log.info("button %s: %s", where, cfg.command)
        try:
            self.send(command)
        except Exception:  # a press must never kill gpiozero's callback thread
            log.exception("button %s: could not send %s", where, cfg.command)

    def close(self) -> None:
        for button in self._buttons:
            button.close()
        self._buttons.clear()
