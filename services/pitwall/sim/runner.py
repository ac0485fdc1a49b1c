"""The simulator's loop: drive the model's crossings onto the bus in real time.

Each crossing is published when the monotonic clock reaches its ``t_ns`` (a lane reader
publishes just after the edge, too), but ``t_ns`` stays the modelled crossing time.

Following a race, the cars sit on the grid until the lap service's retained race state
says ``running`` with a green time ``start_ns``; they stop when the race is over, and
stand still while the flag is yellow or red (track power off), so every later crossing
moves back by the time they stood.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import msgspec

from pitwall import contract
from pitwall.sim.endurance import EnduranceModel
from pitwall.sim.model import Crossing, TrackModel
from pitwall.sim.publisher import PassPublisher

log = logging.getLogger(__name__)

MAX_WAIT_S = 0.1  # longest single wait, so a stop request is seen quickly
LEAD_NS = 200_000_000  # free running: first cars leave the grid this long after start
LATE_NS = 50_000_000  # crossings older than this are skipped (sim joined a race late)
DRIVING = ("running", "finishing")  # a car that has finished still laps to the pits
POWER_OFF = ("yellow", "red")

Clock = Callable[[], int]


class RaceWatch:
    """The latest retained race state, handed from paho's thread to the sim's loop."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._state: contract.RaceState | None = None
        # Set from a signal handler: a plain attribute, because taking a lock there
        # can deadlock against the interrupted main thread. Waits are short instead.
        self.stopping = False

    def on_message(self, message) -> None:
        state = None
        if message.payload:  # an empty retained message clears the state
            try:
                state = contract.decode(message.payload, contract.RaceState)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("ignoring race state out of contract: %s", exc)
                return
        with self._cond:
            self._state = state
            self._version += 1
            self._cond.notify_all()

    def snapshot(self) -> tuple[int, contract.RaceState | None]:
        with self._cond:
            return self._version, self._state

    def wait(self, version: int, timeout: float) -> None:
        """Until the state is newer than ``version`` or ``timeout`` seconds pass."""
        with self._cond:
            self._cond.wait_for(lambda: self._version != version,
                                max(0.0, min(timeout, MAX_WAIT_S)))


def _race(state: contract.RaceState | None) -> tuple[int | None, int] | None:
    """(race id, green time) while cars should be on track, else None."""
    if state is None or state.phase not in DRIVING or state.start_ns is None:
        return None
    return state.race_id, state.start_ns


class Sim:
    def __init__(self, model: TrackModel | EnduranceModel, out: PassPublisher,
                 watch: RaceWatch, limit: int | None = None, clock: Clock = time.monotonic_ns,
                 commands: Callable[[contract.Command], None] | None = None,
                 pit_lanes: tuple[int, int] | None = None) -> None:
        self.model, self.out, self.watch = model, out, watch
        self.limit, self.clock = limit, clock
        # Endurance: pit calls and driver changes go out as race commands at their time.
        self.commands = commands
        self.pit_lanes = pit_lanes

    def done(self) -> bool:
        return self.watch.stopping or (self.limit is not None and self.out.count >= self.limit)

    def _events(self, start_ns: int, race: int) -> Iterable:
        if isinstance(self.model, EnduranceModel):
            return self.model.events(start_ns, pit_lanes=self.pit_lanes)
        return self.model.passes(start_ns, race=race)

    def free(self) -> None:
        """Lap from now until stopped (or the pass limit), ignoring any race."""
        self._drive(self._events(self.clock() + LEAD_NS, 0), still_on=lambda: True)

    def follow(self) -> None:
        """Race after race: grid, green, laps, stop; until stopped (or the limit)."""
        races = 0
        waiting_logged = False
        while not self.done():
            version, state = self.watch.snapshot()
            race = _race(state)
            if race is None:
                if not waiting_logged:
                    log.info("cars on the grid, waiting for a green light "
                             "(pitwall sim --free laps without a race)")
                    waiting_logged = True
                self.watch.wait(version, MAX_WAIT_S)
                continue
            race_id, start_ns = race
            races += 1
            log.info("green for race %s: cars off", race_id)
            # The race number seeds the laps, so each race of a session differs.
            crossings = self._events(start_ns, race_id if race_id else races)
            self._drive(crossings, still_on=lambda r=race: _race(self.watch.snapshot()[1]) == r)
            if not self.done():
                log.info("race %s over: cars stop", race_id)
            waiting_logged = False

    def _drive(self, crossings: Iterable[Crossing], still_on: Callable[[], bool]) -> None:
        shift = 0  # time the cars stood still under yellow/red so far
        stood_since: int | None = None
        skipped = 0
        for c in crossings:
            while True:
                if self.done() or not still_on():
                    return
                version, state = self.watch.snapshot()
                now = self.clock()
                if state is not None and state.flag in POWER_OFF:
                    if stood_since is None:
                        log.info("%s flag: cars stop on track", state.flag)
                        stood_since = now
                    self.watch.wait(version, MAX_WAIT_S)
                    continue
                if stood_since is not None:
                    shift += now - stood_since
                    stood_since = None
                    log.info("power back on: cars go on")
                t = c.t_ns + shift
                if now >= t:
                    break
                self.watch.wait(version, (t - now) / 1e9)
            if now - t > LATE_NS:
                skipped += 1  # joined a race under way: those crossings are history
                continue
            if skipped:
                log.info("joined a race under way: skipped %d past crossings", skipped)
                skipped = 0
            command = getattr(c, "command", None)
            if command is None:
                self.out.publish(t, c.lane, c.car)
            elif self.commands is not None:
                self.commands(command)  # stamped by the lap service on arrival: now
