"""Endurance read-outs: stints, pace tags, the kart pool and standings after pending stops.

Pure functions of a race's endurance fold (``core/endurance.py``) and a moment ``now``;
the lap service publishes them in the race state and the API serves them.

Standings after pending stops (``projection``): every team is brought to the same point,
the leader's lap count, and its remaining required stops are served at its own measured
pit loss. A team's time to that point is

    last crossing + (leader's laps - its laps) × its pace + stops left × its pit loss
    + confirmed penalties

and the projection orders teams by that time. A team's pit loss is the average of its
measured stops (the in- and out-laps of a stop less as many laps at its pace going in);
with none measured yet, the field's median loss; with none in the field, the minimum pit
time. A team without a pace yet is given the field's median pace.
"""

from __future__ import annotations

from dataclasses import dataclass

from pitwall.core import pace
from pitwall.core.endurance import Endurance, Stint, Team, Violation
from pitwall.core.types import Standing


@dataclass(frozen=True, slots=True)
class StintView:
    team: int
    team_name: str
    no: int
    driver: str
    kart: int | None
    lap_in: int  # the team's laps when the stint began
    laps: int  # laps completed in the stint (its in-lap included)
    start_ns: int
    end_ns: int | None  # pit entry (None: in progress)
    time_ns: int  # stint time: to its end, or to now
    best_ns: int | None  # best clean lap
    avg_ns: int | None  # the pace average (core/pace.py)
    pit_ns: int | None  # the stop that ended the stint (None: in progress, or not timed)


@dataclass(frozen=True, slots=True)
class Window:
    """When the team may (opens) and must (closes) stop, by the stint rules."""

    opens_ns: int | None = None
    closes_ns: int | None = None
    opens_lap: int | None = None  # the team's lap count
    closes_lap: int | None = None


@dataclass(frozen=True, slots=True)
class TeamView:
    key: int
    name: str
    driver: str  # at the wheel now (during a stop: who drove in, or who is named next)
    kart: int | None
    stint: StintView
    in_pit: bool
    pit_since_ns: int | None
    stops: int
    required: int
    last_pit_ns: int | None
    loss_ns: int | None  # the team's measured pit loss (average)
    pace: str  # good | bad | unknown
    pace_ns: int | None
    window: Window
    projected: int  # position once every team has served its remaining stops


@dataclass(frozen=True, slots=True)
class KartView:
    kart: int
    team: int | None  # driving it now; None: waiting in the pool
    laps: int  # clean laps driven in it
    avg_ns: int | None
    pace: str


@dataclass(frozen=True, slots=True)
class ProjectedRow:
    position: int
    entrant: int
    team: str
    laps: int
    stops_left: int
    loss_ns: int | None
    time_ns: int | None  # to the leader's lap count, stops served (None: never crossed)
    gap_ns: int | None  # behind the projected leader


# ---------------------------------------------------------------- stints
def stint_view(end: Endurance, team: Team, i: int, now_ns: int) -> StintView:
    stint: Stint = team.stints[i]
    stop_after = _stop_ending(team, i)
    stop_ns = stop_after.pit_ns if stop_after is not None else None
    until = stint.end_t if stint.end_t is not None else max(now_ns, stint.start_t)
    return StintView(
        team=team.key, team_name=team.name, no=stint.no, driver=stint.driver,
        kart=stint.kart, lap_in=stint.lap_in, laps=stint.laps,
        start_ns=stint.start_t, end_ns=stint.end_t, time_ns=until - stint.start_t,
        best_ns=stint.best_ns, avg_ns=stint.pace_ns(end.config.pace),
        pit_ns=stop_ns)


def _stop_ending(team: Team, i: int):
    """The stop that ended stint ``i`` (stints ended by a driver change on track have
    none)."""
    stint = team.stints[i]
    if stint.end_t is None:
        return None
    for stop in team.stops:
        if stop.in_t == stint.end_t or (stop.in_t is None and stop.out_t == stint.end_t):
            return stop
    return None


def stints(end: Endurance, now_ns: int) -> list[StintView]:
    """Every stint of every team: by team, then in order."""
    return [stint_view(end, team, i, now_ns) for key, team in sorted(end.teams.items())
            for i in range(len(team.stints))]


# ---------------------------------------------------------------- pace
def _tag_key(end: Endurance, team: Team) -> int:
    return team.kart if team.kart is not None else team.key


def pace_tags(end: Endurance, paces: dict[int, int | None] | None = None) -> dict[int, str]:
    """Tags per car (the team key) or, in a kart pool, per kart. ``paces``: the teams'
    paces, if already taken."""
    if end.config.kart_pool:
        return pace.tags({k: end.kart_pace_ns(k) for k in end.karts})
    if paces is None:
        paces = {k: end.pace_ns(t) for k, t in end.teams.items()}
    return pace.tags(paces)


def karts(end: Endurance) -> tuple[list[KartView], float | None]:
    """The kart pool: every kart with its history and tag, and the probability that the
    next kart out of the pits is a good one."""
    tags = pace_tags(end)
    views = [KartView(kart=k, team=end.team_of_kart(k), laps=len(end.kart_laps[k]),
                      avg_ns=end.kart_pace_ns(k), pace=tags.get(k, pace.UNKNOWN))
             for k in end.karts]
    pool = [v.pace for v in views if v.team is None]
    return views, pace.good_probability(pool, [v.pace for v in views])


# ---------------------------------------------------------------- pit loss, projection
def loss_ns(end: Endurance, team: Team) -> int | None:
    measured = [s.loss_ns for s in team.stops if s.loss_ns is not None]
    return round(sum(measured) / len(measured)) if measured else None


def _field_loss(end: Endurance) -> int:
    losses = [x for t in end.teams.values() if (x := loss_ns(end, t)) is not None]
    return round(pace.median(losses)) if losses else end.rules.min_pit_ns


def projection(end: Endurance, standings: list[Standing],
               paces: dict[int, int | None] | None = None) -> list[ProjectedRow]:
    """Standings once every team has served its remaining required stops (module doc).
    ``paces``: the teams' paces, if already taken."""
    if paces is None:
        paces = {s.entrant: end.pace_ns(end.team(s.entrant)) for s in standings}
    known = [p for p in paces.values() if p is not None]
    field_pace = round(pace.median(known)) if known else 0
    field_loss = _field_loss(end)
    top = max((s.laps for s in standings), default=0)
    rows = []
    for s in standings:
        team = end.team(s.entrant)
        left = max(0, end.rules.required_stops - len(team.stops))
        loss = loss_ns(end, team)
        own_pace = paces[s.entrant] if paces[s.entrant] is not None else field_pace
        time = None
        if s.last_t_ns is not None:
            time = (s.last_t_ns + (top - s.laps) * own_pace
                    + left * (loss if loss is not None else field_loss) + s.penalty_ns)
        rows.append((time is None, time or 0, s.position, s, team, left, loss, time))
    rows.sort(key=lambda r: r[:3])
    lead = rows[0][7] if rows else None
    return [ProjectedRow(position=i, entrant=s.entrant, team=team.name, laps=s.laps,
                         stops_left=left, loss_ns=loss, time_ns=time,
                         gap_ns=None if time is None or lead is None or i == 1
                         else time - lead)
            for i, (_, _, _, s, team, left, loss, time) in enumerate(rows, start=1)]


# ---------------------------------------------------------------- teams
def window(end: Endurance, team: Team) -> Window:
    r, stint = end.rules, team.stint
    if team.in_pit:
        return Window()
    return Window(
        opens_ns=stint.start_t + r.min_stint_ns if r.min_stint_ns else None,
        closes_ns=stint.start_t + r.max_stint_ns if r.max_stint_ns else None,
        opens_lap=stint.lap_in + r.min_stint_laps if r.min_stint_laps else None,
        closes_lap=stint.lap_in + r.max_stint_laps if r.max_stint_laps else None)


def teams(end: Endurance, standings: list[Standing], now_ns: int) -> dict[int, TeamView]:
    """Every team's live status, keyed like the standings."""
    paces = {k: end.pace_ns(t) for k, t in end.teams.items()}
    tags = pace_tags(end, paces)
    projected = {row.entrant: row.position for row in projection(end, standings, paces)}
    views = {}
    for s in standings:
        team = end.team(s.entrant)
        stop = team.stops[-1] if team.stops else None
        last_done = next((x for x in reversed(team.stops) if x.out_t is not None), None)
        driver = team.next_driver if team.in_pit and team.next_driver else team.stint.driver
        views[s.entrant] = TeamView(
            key=team.key, name=team.name, driver=driver, kart=team.kart,
            stint=stint_view(end, team, len(team.stints) - 1, now_ns),
            in_pit=team.in_pit, pit_since_ns=stop.in_t if team.in_pit else None,
            stops=len(team.stops), required=end.rules.required_stops,
            last_pit_ns=last_done.pit_ns if last_done else None, loss_ns=loss_ns(end, team),
            pace=tags.get(_tag_key(end, team), pace.UNKNOWN), pace_ns=paces[team.key],
            window=window(end, team), projected=projected[s.entrant])
    return views


def penalties(end: Endurance) -> list[tuple[Violation, str]]:
    """Every violation with its status (pending, confirmed, waived), in time order."""
    return [(v, end.status(v)) for v in sorted(end.violations.values(),
                                                key=lambda v: (v.t_ns, v.id))]
