"""A stand-in race director for the development stack: one race after another.

It speaks only the public contract (``race/command``, ``race/state``), exactly as the web
app's race control does. It announces itself (retained ``status/director``: the boards
say a demo is running) and yields for good to a real director: as soon as someone logs
in to the API (``director/login``) or any command it did not send appears on
``race/command``, it stops setting up races and goes offline.
"""

from __future__ import annotations

import logging
import threading
import uuid

import msgspec

from pitwall import contract
from pitwall.bus import Bus
from pitwall.settings import Settings

log = logging.getLogger(__name__)

PAUSE_BETWEEN_RACES_S = 10.0
ID_PREFIX = "director-"  # its own commands; any other command is a real director's


class Director:
    def __init__(self, settings: Settings, *, cars: int, laps: int, drivers: list[str],
                 endurance_minutes: int | None = None) -> None:
        self.bus = Bus(settings, contract.DEMO_DIRECTOR)
        self.cars, self.laps, self.drivers = cars, laps, drivers
        self.endurance_minutes = endurance_minutes
        self.state: contract.RaceState | None = None
        self.laps_online = threading.Event()
        self.yielded = threading.Event()  # a real director is in charge
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="director", daemon=True)

    def start(self) -> None:
        self.bus.subscribe(self.bus.topics.race_state, self._on_state)
        self.bus.subscribe(self.bus.topics.status("laps"), self._on_status)
        self.bus.subscribe(self.bus.topics.race_command, self._on_command)
        self.bus.subscribe(self.bus.topics.director_login, lambda msg: self._yield("logged in"))
        self.bus.start(wait=None)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()
        self._thread.join(5)
        self.bus.stop()

    def _yield(self, why: str) -> None:
        """A real director is here: no more demo races (called on paho's thread)."""
        if self.yielded.is_set():
            return
        self.yielded.set()
        print(f"pitwall up: a race director {why}: the demo director stops setting up "
              "races", flush=True)
        self._stop.set()
        self._changed.set()

    def _on_command(self, msg) -> None:
        try:
            cmd = contract.decode(msg.payload, contract.Command)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # not a command anyone could have meant: the lap service reports it
        if not (cmd.id or "").startswith(ID_PREFIX):
            self._yield(f"sent a command ({msgspec.inspect.type_info(type(cmd)).tag})")

    def _on_state(self, msg) -> None:
        try:
            self.state = contract.decode(msg.payload, contract.RaceState)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        self._changed.set()

    def _on_status(self, msg) -> None:
        if msg.payload in contract.RUNNING:
            self.laps_online.set()
        else:
            self.laps_online.clear()
        self._changed.set()

    def _send(self, cmd: contract.Command) -> None:
        if self._stop.is_set():
            return  # yielded (or stopping) since the decision to send
        cmd = msgspec.structs.replace(cmd, id=f"{ID_PREFIX}{uuid.uuid4().hex[:8]}")
        self.bus.publish(self.bus.topics.race_command, cmd)

    def _run(self) -> None:
        try:
            self._direct()
        finally:
            if self.yielded.is_set():
                self.bus.stop()  # offline: the boards' "demo running" banner goes

    def _direct(self) -> None:
        while not self._stop.is_set():
            self._changed.wait(1.0)
            self._changed.clear()
            state = self.state
            if not self.laps_online.is_set() or state is None:
                continue
            if state.phase in ("idle", "finished", "aborted"):
                if state.phase != "idle" and self._stop.wait(PAUSE_BETWEEN_RACES_S):
                    return
                self._send(self._setup())
                self._wait_for(lambda s: s.phase == "ready")
            if self.state is not None and self.state.phase == "ready":
                self._send(contract.Start())
                self._wait_for(lambda s: s.phase != "ready")

    def _setup(self) -> contract.Setup:
        if self.endurance_minutes is not None:
            from pitwall.sim.endurance import EnduranceModel

            minutes = self.endurance_minutes
            log.info("setting up a %d-minute endurance race", minutes)
            # The simulator's teams (their names and drivers do not depend on its seed).
            return contract.Setup(
                mode="endurance", duration_s=minutes * 60, entrant="car",
                name=f"{minutes} minutes of Pitwall",
                entrants=EnduranceModel(self.cars).entrants(),
                pit=contract.PitRulesSpec(required_stops=3, min_pit_s=5,
                                          max_stint_s=minutes * 60 // 3,
                                          driver_change="every_stop"))
        entrants = [contract.EntrantSpec(car=i, driver=self.drivers[(i - 1) %
                                         len(self.drivers)]) for i in range(1, self.cars + 1)]
        log.info("setting up a %d-lap race", self.laps)
        return contract.Setup(mode="laps", laps=self.laps, entrant="car", name="Club night",
                              entrants=entrants)

    def _wait_for(self, predicate, timeout: float = 10.0) -> None:
        waited = 0.0
        while not self._stop.is_set() and waited < timeout:
            if self.state is not None and predicate(self.state):
                return
            self._changed.wait(0.2)
            self._changed.clear()
            waited += 0.2
