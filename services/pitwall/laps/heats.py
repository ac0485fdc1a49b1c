"""Heat rotation in the lap service: set up the event, then run its heats one after another.

Each heat is an ordinary timed race keyed by lane, with the plan's drivers on its lanes
(``core/heats.py``), stored like any race with its event and heat number. The director
starts heat 1. When a heat's time is up the service finishes it at that very moment
(the laps plus the lap in progress are what count, so nobody runs a last lap), and
``pause_s`` after that finish it sets up and starts the next heat itself: lights, green,
timing. Everything is derived from stored rows and controls, so after a restart the
sequence goes on where it was. Aborting a heat stops the event's sequence.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from pitwall import contract
from pitwall.core import SECOND, ControlKind, Race, RaceConfig, RaceError, heats
from pitwall.laps import store

if TYPE_CHECKING:
    from pitwall.laps.service import LapService

log = logging.getLogger(__name__)


class Event:
    """A stored heat-rotation event and its plan."""

    def __init__(self, row: store.HeatEventRow) -> None:
        self.row = row
        self.drivers: list[str] = json.loads(row.drivers)
        self.lanes: list[int] = json.loads(row.lanes)
        self.plan = heats.plan(len(self.drivers), len(self.lanes))

    def grid(self, heat: int) -> list[contract.GridSlot]:
        """Heat ``heat`` (1-based): who races which lane."""
        return [contract.GridSlot(lane=self.lanes[i], driver=self.drivers[d])
                for i, d in enumerate(self.plan[heat - 1]) if d is not None]

    def sitting_out(self, heat: int) -> list[str]:
        return [self.drivers[d] for d in heats.sitting_out(self.plan[heat - 1],
                                                           len(self.drivers))]

    def config(self, heat: int, settings) -> RaceConfig:
        """Heat ``heat`` as the timed race, keyed by lane, that any setup would give."""
        from pitwall.laps.commands import config_from_setup

        return config_from_setup(contract.Setup(
            mode="timed", duration_s=self.row.duration_s, entrant="lane",
            min_lap_ms=self.row.min_lap_ms, car_class=self.row.car_class,
            name=f"{self.row.name or 'Heats'} - heat {heat}/{len(self.plan)}",
            entrants=[contract.EntrantSpec(lane=g.lane, driver=g.driver)
                      for g in self.grid(heat)]), settings)


def event_of(race_id: int | None) -> tuple[Event, int] | None:
    """The event a stored race is a heat of, and its heat number; None for other races."""
    if race_id is None:
        return None
    row = store.RaceRow.get_or_none(store.RaceRow.id == race_id)
    if row is None or row.event is None:
        return None
    return Event(store.HeatEventRow.get_by_id(row.event)), row.heat


def finished_at(race: Race) -> int | None:
    """When the heat ended: its finish control, or, if every car had already taken the
    flag on its own (a crossing after the time), the moment its time ran out."""
    ends = [c.t_ns for c in race.controls if c.kind is ControlKind.FINISH]
    if ends:
        return ends[0]
    if race.plan is not None and race.phase_at(race.last_event_ns()) == "finished":
        return race.ends_ns(race.last_event_ns())
    return None


class HeatRunner:
    def __init__(self, service: LapService) -> None:
        self.service = service
        self._current: tuple[int | None, tuple[Event, int] | None] = (None, None)

    def current(self) -> tuple[Event, int] | None:
        """The live race's event and heat (cached per race)."""
        race_id = self.service.race_id
        if self._current[0] != race_id:
            self._current = (race_id, event_of(race_id))
        return self._current[1]

    def create(self, cmd: contract.Heats, now: int) -> None:
        """The ``heats`` command: store the event, set up heat 1."""
        svc = self.service
        lanes = cmd.lanes or svc.settings.lane_numbers[:heats.MAX_LANES]
        if len(lanes) < 2 or len(set(lanes)) != len(lanes):
            raise RaceError("heat rotation needs two or more different lanes (set "
                            "track_lanes or [[lanes]], or list them)")
        heats.plan(len(cmd.drivers), len(lanes))  # checks the limits
        if len({d.strip() for d in cmd.drivers}) != len(cmd.drivers):
            raise RaceError("a driver is listed twice")
        svc.commands.check_replaceable(now)
        min_lap = svc.settings.race.min_lap_ms if cmd.min_lap_ms is None else cmd.min_lap_ms
        row = store.create_heat_event(
            name=cmd.name, drivers=[d.strip() for d in cmd.drivers], lanes=lanes,
            duration_s=cmd.duration_s, pause_s=cmd.pause_s, min_lap_ms=min_lap,
            car_class=cmd.car_class)
        self._set_up(Event(row), 1, now)

    def _set_up(self, event: Event, heat: int, now: int) -> None:
        svc = self.service
        config = event.config(heat, svc.settings)
        svc.commands.replace_race(config, now, event=event.row.id, heat=heat)
        log.info("heat %d of %d of event %s set up", heat, len(event.plan), event.row.id)

    def tick(self, now: int) -> bool:
        """Finish a heat whose time is up; start the next heat after the pause. True if
        something changed (the caller publishes the state)."""
        svc, cur = self.service, self.current()
        if cur is None or svc.race is None:
            return False
        event, heat = cur
        race, phase = svc.race, svc.race.phase_at(now)
        ends = race.ends_ns(now)
        if phase in ("running", "finishing") and ends is not None and now >= ends:
            before = race.rescores
            race.control(ControlKind.FINISH, ends)  # the heat ends at its time, not later
            store.add_control(svc.race_id, race.controls[-1])
            if race.rescores != before:  # crossings after the time: they stop counting
                store.rewrite_outcomes(svc.race_id, race.outcomes)
            log.info("heat %d of event %s: time up", heat, event.row.id)
            return True
        done = finished_at(race)
        if phase == "finished" and done is not None and heat < len(event.plan) and \
                now >= done + event.row.pause_s * SECOND:
            self._set_up(event, heat + 1, now)
            svc.commands.start_race(now)
            return True
        return False

    def state(self, now: int) -> contract.HeatEventState | None:
        cur = self.current()
        if cur is None:
            return None
        event, heat = cur
        last = heat >= len(event.plan)
        done = finished_at(self.service.race) if self.service.race else None
        return contract.HeatEventState(
            id=event.row.id, name=event.row.name, heat=heat, heats=len(event.plan),
            grid=event.grid(heat), sitting_out=event.sitting_out(heat),
            next_grid=None if last else event.grid(heat + 1),
            next_start_ns=None if last or done is None
            else done + event.row.pause_s * SECOND)
