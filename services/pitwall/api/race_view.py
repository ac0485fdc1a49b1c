"""Stored races as the API shows them, re-scored from their logs by the pure core.

Standings, laps and what each pass meant are never stored as truth: the core folds the
pass and control logs (``core.Race`` = ``core.score`` + classification), exactly as the
lap service does live, so the API cannot disagree with the race rules.
"""

from __future__ import annotations

import csv
import io
import time

import msgspec

from pitwall import contract
from pitwall.core import MS, SECOND, Kind, Race, pace, strategy
from pitwall.laps import store
from pitwall.laps.publish import pit_rules_view, state_payload
from pitwall.laps.service import boot_id
from pitwall.timefmt import seconds

CURRENT_BOOT = boot_id()


class RaceSummary(msgspec.Struct, kw_only=True):
    id: int
    name: str
    mode: str
    phase: str
    created_at: float  # wall clock (seconds since 1970) of the set-up; may be off on a Pi
    laps: int | None
    duration_s: int | None
    entrants: int
    event: int | None = None  # a heat of this heat-rotation event


class RaceConfigView(msgspec.Struct, kw_only=True):
    mode: str
    laps: int | None
    duration_s: int | None
    entrant: str
    min_lap_ms: int
    first_crossing: str
    yellow_grace_ms: int
    yellow_clock: str
    entrants: list[contract.EntrantSpec]
    pit: contract.PitRules | None = None  # endurance only
    spare_karts: list[int] = []


class RaceDetail(msgspec.Struct, kw_only=True):
    race: RaceSummary
    config: RaceConfigView
    standings: list[contract.Standing]
    start_ns: int | None
    ends_ns: int | None


class LapView(msgspec.Struct, kw_only=True):
    entrant: int
    driver: str
    lap: int
    lap_ns: int
    lap_ms: float
    t_ns: int
    pass_id: int
    neutralised: bool


class PassView(msgspec.Struct, kw_only=True):
    pass_id: int
    lane: int
    car: int | None
    t_ns: int
    source: str
    kind: str  # lap|suspect|start|jump|pre_start|yellow|stopped|after_finish|unknown|deleted
    entrant: int | None
    lap: int  # the lap completed (kind "lap"), else the entrant's laps so far
    lap_ms: float | None
    override: str | None  # the director's edit: "count", "ignore" or null
    sensor_t_ns: int | None = None  # the director corrected t_ns; this was the stamp


class StintRow(msgspec.Struct, kw_only=True):
    team: str  # the team's name
    entrant: int  # the team's key (car ID or lane)
    driver: str
    car: int  # the car (or, in a kart pool, the kart) of this stint
    stint: int  # 1, 2, …
    lap_in: int  # the team's laps when the stint began
    laps: int
    time_ms: float  # stint time (to now for the stint in progress)
    start_ns: int
    end_ns: int | None
    best_ms: float | None
    avg_ms: float | None
    pace: contract.PaceTag  # this stint's average against the other stints' (median)
    pit_ms: float | None  # the stop that ended this stint


class KartRow(msgspec.Struct, kw_only=True):
    kart: int
    team: int | None  # driving it now; null: waiting in the pool
    laps: int  # clean laps driven in it, across stints and teams
    avg_ms: float | None
    pace: contract.PaceTag


class KartPool(msgspec.Struct, kw_only=True):
    karts: list[KartRow]
    pool: list[int]  # karts waiting in the pits
    good_probability: float | None  # the next kart out of the pits is a good one


class ProjectedRow(msgspec.Struct, kw_only=True):
    position: int  # once every team has served its remaining required stops
    now_position: int
    entrant: int
    team: str
    laps: int
    stops_left: int
    loss_ms: float | None  # the team's measured pit loss
    time_ms: float | None  # the projected time to the leader's lap count
    gap_ms: float | None


class Results(msgspec.Struct, kw_only=True):
    race: RaceSummary
    standings: list[contract.Standing]


def _seconds(ns: int | None) -> int | None:
    return None if ns is None else ns // SECOND


def summary(row: store.RaceRow) -> RaceSummary:
    cfg = store.config_from_json(row.config)
    return RaceSummary(
        id=row.id, name=row.name, mode=cfg.mode, phase=row.phase, created_at=row.created_at,
        laps=cfg.laps, duration_s=_seconds(cfg.duration_ns), entrants=len(cfg.entrants),
        event=row.event)


def list_races(limit: int, offset: int) -> list[RaceSummary]:
    rows = store.RaceRow.select().order_by(store.RaceRow.id.desc()).limit(limit).offset(offset)
    return [summary(row) for row in rows]


def get_race(race_id: int) -> store.RaceRow | None:
    return store.RaceRow.get_or_none(store.RaceRow.id == race_id)


class Scored:
    """One stored race, re-scored."""

    def __init__(self, row: store.RaceRow) -> None:
        self.row = row
        self.race = Race(*store.load_race_logs(row))
        self.drivers = {e.key: e.driver for e in self.race.config.entrants}
        for s in self.race.standings():  # open races: drivers known only by key
            self.drivers.setdefault(s.entrant, s.driver)

    def now_ns(self) -> int:
        """The clock to judge time-driven state by: now, if the race ran in this boot (the
        monotonic clock is comparable); else the race's last event."""
        if self.row.boot_id == CURRENT_BOOT:
            return time.monotonic_ns()
        return self.race.last_event_ns()

    def standings(self) -> list[contract.Standing]:
        # The lap service's own translation (core -> contract), so the units match.
        return state_payload(self.race, self.row.id, self.now_ns()).standings

    def detail(self) -> RaceDetail:
        cfg = self.race.config
        key = cfg.entrant
        state = state_payload(self.race, self.row.id, self.now_ns())
        return RaceDetail(
            race=summary(self.row),
            config=RaceConfigView(
                mode=cfg.mode, laps=cfg.laps,
                duration_s=_seconds(cfg.duration_ns),
                entrant=key, min_lap_ms=cfg.min_lap_ns // MS, first_crossing=cfg.first_crossing,
                yellow_grace_ms=cfg.yellow_grace_ns // MS, yellow_clock=cfg.yellow_clock,
                entrants=[contract.EntrantSpec(**{key: e.key}, driver=e.driver,
                                               drivers=list(e.drivers), kart=e.kart)
                          for e in cfg.entrants],
                pit=pit_rules_view(cfg.pit) if cfg.mode == "endurance" else None,
                spare_karts=list(cfg.spare_karts)),
            standings=state.standings, start_ns=state.start_ns, ends_ns=state.ends_ns)

    def laps(self) -> list[LapView]:
        outs = sorted((o for o in self.race.outcomes.values() if o.kind is Kind.LAP),
                      key=lambda o: (o.t_ns, o.pass_id))
        return [LapView(entrant=o.entrant, driver=self.drivers.get(o.entrant, ""), lap=o.lap,
                        lap_ns=o.lap_ns, lap_ms=contract.ms(o.lap_ns), t_ns=o.t_ns,
                        pass_id=o.pass_id, neutralised=o.neutralised) for o in outs]

    def passes(self) -> list[PassView]:
        P = store.PassRow
        rows = {i: (source, t, corrected) for i, source, t, corrected in
                P.select(P.id, P.source, P.t_ns, P.corrected_ns)
                .where(P.race == self.row.id).tuples()}
        views = []
        for c in self.race.crossings:  # time order
            o = self.race.outcomes[c.id]
            source, sensor_t, corrected = rows.get(c.id, ("", None, None))
            views.append(PassView(
                pass_id=c.id, lane=c.lane, car=c.car, t_ns=c.t_ns, source=source,
                kind=o.kind.value, entrant=o.entrant, lap=o.lap, lap_ms=contract.ms(o.lap_ns),
                override=c.override, sensor_t_ns=sensor_t if corrected is not None else None))
        return views

    # ---------------------------------------------------------------- endurance
    def endurance(self):
        end = self.race.endurance
        if end is None:
            mode = self.race.config.mode
            raise NotEndurance(
                f"race {self.row.id} is an endurance race that has not started: no stints"
                if mode == "endurance" else f"race {self.row.id} is a {mode} race: stints, "
                "karts and the projection are for endurance races")
        return end

    def stints(self) -> list[StintRow]:
        end = self.endurance()
        views = strategy.stints(end, self.now_ns())
        tags = pace.tags({i: v.avg_ns for i, v in enumerate(views)})
        return [StintRow(
            team=v.team_name, entrant=v.team, driver=v.driver,
            car=v.kart if v.kart is not None else v.team, stint=v.no, lap_in=v.lap_in,
            laps=v.laps, time_ms=contract.ms(v.time_ns), start_ns=v.start_ns, end_ns=v.end_ns,
            best_ms=contract.ms(v.best_ns), avg_ms=contract.ms(v.avg_ns), pace=tags[i],
            pit_ms=contract.ms(v.pit_ns)) for i, v in enumerate(views)]

    def stints_csv(self) -> str:
        columns = ["team", "entrant", "driver", "car", "stint", "lap_in", "laps", "time_ms",
                   "best_ms", "avg_ms", "pace", "pit_ms"]
        return _csv(columns, self.stints())

    def karts(self) -> KartPool:
        end = self.endurance()
        views, good = strategy.karts(end)
        return KartPool(
            karts=[KartRow(kart=v.kart, team=v.team, laps=v.laps, avg_ms=contract.ms(v.avg_ns),
                           pace=v.pace) for v in views],
            pool=end.pool(), good_probability=good)

    def projection(self) -> list[ProjectedRow]:
        end = self.endurance()
        standings = self.race.standings()
        now = {s.entrant: s.position for s in standings}
        return [ProjectedRow(
            position=r.position, now_position=now[r.entrant], entrant=r.entrant, team=r.team,
            laps=r.laps, stops_left=r.stops_left, loss_ms=contract.ms(r.loss_ns),
            time_ms=contract.ms(r.time_ns), gap_ms=contract.ms(r.gap_ns))
            for r in strategy.projection(end, standings)]

    def results(self) -> Results:
        return Results(race=summary(self.row), standings=self.standings())

    def results_csv(self) -> str:
        """One row per entrant, times in seconds (to the millisecond), the car or lane."""
        key = self.race.config.entrant
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["position", key, "driver", "laps", "best_s", "last_s", "gap_s",
                         "gap_laps", "finished", "jump_start", "penalty_s", "last_t_ns"])
        for s in self.standings():
            writer.writerow([s.position, s.entrant, _cell(s.driver), s.laps,
                             seconds(s.best_ms), seconds(s.last_ms), seconds(s.gap_ms),
                             s.gap_laps, _cell(s.finished), _cell(s.jump_start),
                             seconds(s.penalty_ms) if s.penalty_ms else "",
                             _cell(s.last_t_ns)])
        return out.getvalue()

    def laps_csv(self) -> str:
        """Every counted lap in time order: lap, car or lane, driver, lap time, race time."""
        key = self.race.config.entrant
        green = self.race.plan.green_ns if self.race.plan else None
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["lap", key, "driver", "lap_s", "race_time_s", "neutralised",
                         "pass_id"])
        for lap in self.laps():
            writer.writerow([lap.lap, lap.entrant, _cell(lap.driver), seconds(lap.lap_ms),
                             "" if green is None else seconds((lap.t_ns - green) / 1e6),
                             _cell(lap.neutralised), lap.pass_id])
        return out.getvalue()


class NotEndurance(LookupError):
    """Stints, karts or the projection asked of a race that has none."""


def _csv(columns: list[str], rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(getattr(row, c)) for c in columns])
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # A name starting like a formula would run as one in a spreadsheet.
    return "'" + text if isinstance(value, str) and text[:1] in ("=", "+", "-", "@") else text
