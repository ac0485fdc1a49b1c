"""Endurance: teams, pit stops, stints and pit-rule violations, as part of the scoring fold.

The scorer (``core/scoring.py``) feeds this the events that matter to a team, in time
order: its counted laps, its pit entries and exits (from a pit-lane sensor or the
director's command), driver changes, and the end of the race. Same events, same order,
same stints: a restart or a director's edit re-scores every stint exactly as live.

Stints and laps (docs/endurance.md has the pictures):

* The first stint starts at green; each stint ends at a pit entry, and the next one starts
  at the pit exit. A driver change without a stop (``driver`` while on track, after the
  stint's first lap) also starts a new stint.
* A lap belongs to the stint in force when it is completed. A lap completed while the
  team is in the pit (the timing line is in the pit lane) is the old stint's **in-lap**;
  the first lap completed after the pit exit is the new stint's **out-lap**. Both count
  in the race, neither counts for pace.
* A car that is "in the pit" and crosses the timing line twice has left the pit without
  its exit being seen (a missed sensor, a forgotten command): the stop is closed at the
  first of those crossings (``out_by = "line"``) and the second is the out-lap.
* A pit exit with no entry seen before it is still a stop (its pit time is unknown).

Violations of the pit rules are recorded with an id that only depends on the events
(``"<team>-<rule>-<stint>"``), so the director's confirm/waive decisions, kept in the
control log, find them again after any re-score.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from pitwall.core import pace
from pitwall.core.types import SECOND, Entrant, PaceRules, RaceConfig

# What a lap was to the stint (only "clean" laps count for pace).
CLEAN, START, IN_LAP, OUT_LAP, NEUTRAL = "clean", "start", "in", "out", "neutral"
KINDS = (CLEAN, START, IN_LAP, OUT_LAP, NEUTRAL)  # stored as their index, a byte per lap
_CODE = {k: i for i, k in enumerate(KINDS)}


@dataclass(slots=True)
class Stop:
    in_t: int | None  # None: the pit entry was not seen
    in_by: str  # "sensor" | "command" | "" (not seen)
    out_t: int | None = None  # None: still in the pit
    out_by: str = ""  # "sensor" | "command" | "line" (left without an exit being seen)
    ref_pace_ns: int | None = None  # the team's pace going in: the base of the pit loss
    laps_ns: int = 0  # in-laps and the out-lap of this stop, added up
    laps: int = 0
    done: bool = False  # its out-lap has been completed: the loss is measured

    @property
    def pit_ns(self) -> int | None:
        if self.in_t is None or self.out_t is None:
            return None
        return self.out_t - self.in_t

    @property
    def loss_ns(self) -> int | None:
        """Time lost to the stop: its in- and out-laps less as many laps at pace."""
        if not self.done or self.ref_pace_ns is None:
            return None
        return self.laps_ns - self.laps * self.ref_pace_ns


@dataclass(slots=True)
class Stint:
    no: int  # 1, 2, …
    driver: str
    kart: int | None
    start_t: int  # green, or the pit exit
    lap_in: int  # the team's laps when the stint began
    end_t: int | None = None  # the pit entry (None: the stint in progress)
    # The stint's laps, compactly (a six-hour race has tens of thousands): the lap times
    # and what each lap was (an index into KINDS). Lap i is the team's lap lap_in + i + 1.
    lap_ns: array = field(default_factory=lambda: array("q"))
    lap_kinds: bytearray = field(default_factory=bytearray)
    best_ns: int | None = None
    on_track: int = 0  # laps completed on track (not in the pit)
    checked_long: bool = False
    checked_driver: bool = False

    @property
    def laps(self) -> int:
        return len(self.lap_ns)

    def kinds(self) -> list[str]:
        return [KINDS[k] for k in self.lap_kinds]

    def clean_laps(self, last: int | None = None) -> list[int]:
        """The clean lap times, oldest first; only the ``last`` few if given (pace figures
        need no more, and a stint can be hundreds of laps long)."""
        clean = _CODE[CLEAN]
        if last is None:
            return [ns for ns, k in zip(self.lap_ns, self.lap_kinds, strict=True) if k == clean]
        out: list[int] = []
        for i in range(len(self.lap_ns) - 1, -1, -1):
            if len(out) == last:
                break
            if self.lap_kinds[i] == clean:
                out.append(self.lap_ns[i])
        return out[::-1]

    def pace_ns(self, rules: PaceRules) -> int | None:
        return pace.average(self.clean_laps(pace.reference_laps(rules)), rules)


@dataclass(slots=True)
class Violation:
    id: str
    entrant: int
    rule: str  # short_stop | short_stint | long_stint | no_driver_change | missing_stop
    detail: str
    t_ns: int
    count: int = 1  # missing_stop: how many stops are missing


@dataclass(slots=True)
class Team:
    key: int
    name: str
    drivers: tuple[str, ...]
    kart: int | None
    stints: list[Stint] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    next_driver: str = ""  # named during a stop: drives the next stint
    line_in_pit: int | None = None  # a timing-line crossing during the current stop
    end_checked: bool = False

    @property
    def in_pit(self) -> bool:
        return bool(self.stops) and self.stops[-1].out_t is None

    @property
    def stint(self) -> Stint:
        return self.stints[-1]


class Endurance:
    """The endurance part of the fold: one ``Team`` per entrant."""

    def __init__(self, config: RaceConfig, green_ns: int) -> None:
        self.config = config
        self.rules = config.pit
        self.green_ns = green_ns
        self.teams: dict[int, Team] = {}
        self.kart_team: dict[int, int] = {}  # kart -> the team driving it
        self.karts: list[int] = []  # every kart known, in order of appearance
        self.kart_laps: dict[int, list[int]] = {}  # clean laps per kart, across stints
        self.violations: dict[str, Violation] = {}
        self.decisions: dict[str, str] = {}  # violation id -> "confirm" | "waive"
        self.ended = False
        for kart in config.spare_karts:
            self._know_kart(kart)
        for e in config.entrants:
            self.join(e)

    # ------------------------------------------------------------------ teams and karts
    def join(self, e: Entrant) -> Team:
        kart = (e.kart if e.kart is not None else e.key) if self.config.kart_pool else None
        team = Team(e.key, e.driver, e.drivers, kart)
        team.stints.append(Stint(1, e.starting_driver, kart, self.green_ns, 0))
        self.teams[e.key] = team
        if kart is not None:
            self._know_kart(kart)
            self.kart_team[kart] = e.key
        return team

    def team(self, key: int) -> Team:
        team = self.teams.get(key)
        return team if team is not None else self.join(Entrant(key))

    def team_of_kart(self, kart: int | None) -> int | None:
        """Kart pool: the team driving this kart now (None: the kart is in the pool)."""
        return None if kart is None else self.kart_team.get(kart)

    def pool(self) -> list[int]:
        """Karts waiting in the pits: known, and driven by no team."""
        return [k for k in self.karts if k not in self.kart_team]

    def _know_kart(self, kart: int) -> None:
        if kart not in self.kart_laps:
            self.karts.append(kart)
            self.kart_laps[kart] = []

    # ------------------------------------------------------------------ events
    def lap(self, key: int, t: int, lap_ns: int, neutralised: bool) -> None:
        """A counted lap of team ``key`` completed at ``t``."""
        team = self.team(key)
        if team.in_pit:
            if team.line_in_pit is None:
                team.line_in_pit = t
                self._add_lap(team, team.stint, lap_ns, IN_LAP)
                return
            # A second crossing in the same stop: the car left without its exit seen.
            self._leave_pit(team, team.line_in_pit, "line", None)
        stint = team.stint
        if neutralised:
            kind = NEUTRAL
        elif not stint.laps and stint.no == 1 and self.config.first_crossing == "counts":
            kind = START
        elif not stint.laps and team.stops and stint.start_t == team.stops[-1].out_t:
            kind = OUT_LAP
        else:
            kind = CLEAN
        stint.on_track += 1
        self._add_lap(team, stint, lap_ns, kind)
        self._check_long(team, t)
        self._check_driver(team, t)

    def pit_in(self, key: int, t: int, by: str) -> bool:
        """The team enters the pit: its stint ends. False if it is in the pit already."""
        team = self.team(key)
        if team.in_pit:
            return False
        stint = team.stint
        self._check_long(team, t)
        self._check_driver(team, t)
        stint.end_t = t
        self._check_short(team, t)
        team.stops.append(Stop(t, by, ref_pace_ns=self.pace_ns(team)))
        team.line_in_pit = None
        team.next_driver = ""
        return True

    def pit_out(self, key: int, t: int, by: str, kart: int | None = None) -> bool:
        """The team leaves the pit (with ``kart``, in a kart pool): a new stint begins.

        A pit exit with no entry seen is a stop all the same (its pit time unknown)."""
        team = self.team(key)
        if not team.in_pit:
            last = team.stops[-1].out_t if team.stops else None
            if last is not None and t - last < self.config.min_lap_ns:
                return False  # the exit sensor bouncing, not a second stop
            team.stint.end_t = t
            team.stops.append(Stop(None, "", ref_pace_ns=self.pace_ns(team)))
        self._leave_pit(team, t, by, kart)
        return True

    def driver(self, key: int, t: int, name: str) -> None:
        """``name`` drives now: during a stop, the next stint; on track, this stint if it has
        no lap yet, else a new stint from ``t`` (a change without a stop)."""
        team = self.team(key)
        if team.in_pit:
            team.next_driver = name
        elif not team.stint.laps:
            team.stint.driver = name
        elif name != team.stint.driver:
            stint = team.stint
            stint.end_t = t
            team.stints.append(Stint(stint.no + 1, name, team.kart, t,
                                     stint.lap_in + stint.laps))

    def decide(self, value: str) -> None:
        """A director's decision on a violation: ``"<id>=confirm"`` or ``"<id>=waive"``."""
        vid, _, decision = value.rpartition("=")
        self.decisions[vid] = decision

    def finished(self, key: int, t: int) -> None:
        """The team took the flag: check the stops it still owed."""
        team = self.team(key)
        if team.end_checked:
            return
        team.end_checked = True
        missing = self.rules.required_stops - len(team.stops)
        if missing > 0:
            self._violate(team, "missing_stop", t,
                          f"{len(team.stops)} of {self.rules.required_stops} required stops",
                          count=missing)

    def race_ended(self, t: int, started: set[int]) -> None:
        """The director finished the race: every team that raced is checked."""
        if not self.ended:
            self.ended = True
            for key in sorted(started):
                self.finished(key, t)

    # ------------------------------------------------------------------ reading
    def pace_ns(self, team: Team) -> int | None:
        """The team's pace now: its stint's average, else its kart's (or car's) history."""
        for stint in reversed(team.stints):
            avg = stint.pace_ns(self.config.pace)
            if avg is not None:
                return avg
            if stint.kart != team.kart:
                break  # an older stint was in another kart: not this kart's pace
        if team.kart is not None:
            return pace.average(self.kart_laps[team.kart], self.config.pace)
        return None

    def kart_pace_ns(self, kart: int) -> int | None:
        return pace.average(self.kart_laps.get(kart, []), self.config.pace)

    def penalty_ns(self, key: int) -> int:
        """Time the director's confirmed violations add to this team's race."""
        return sum(self.rules.penalty_ns * v.count for v in self.violations.values()
                   if v.entrant == key and self.decisions.get(v.id) == "confirm")

    def status(self, violation: Violation) -> str:
        decision = self.decisions.get(violation.id)
        return {"confirm": "confirmed", "waive": "waived"}.get(decision, "pending")

    # ------------------------------------------------------------------ internals
    def _leave_pit(self, team: Team, t: int, by: str, kart: int | None) -> None:
        stop = team.stops[-1]
        stop.out_t, stop.out_by = t, by
        if stop.pit_ns is not None and stop.pit_ns < self.rules.min_pit_ns:
            self._violate(team, "short_stop", t, f"stop of {stop.pit_ns / SECOND:.1f} s, "
                          f"minimum {self.rules.min_pit_ns / SECOND:.1f} s")
        if kart is not None and kart != team.kart and self.kart_team.get(kart) is None:
            if team.kart is not None:
                self.kart_team.pop(team.kart, None)
            self._know_kart(kart)
            self.kart_team[kart] = team.key
            team.kart = kart
        old = team.stint
        driver = team.next_driver or old.driver
        team.stints.append(Stint(old.no + 1, driver, team.kart, t, old.lap_in + old.laps))
        team.line_in_pit = None
        team.next_driver = ""

    def _add_lap(self, team: Team, stint: Stint, lap_ns: int, kind: str) -> None:
        stint.lap_ns.append(lap_ns)
        stint.lap_kinds.append(_CODE[kind])
        if kind == CLEAN:
            if stint.best_ns is None or lap_ns < stint.best_ns:
                stint.best_ns = lap_ns
            if stint.kart is not None:
                self.kart_laps[stint.kart].append(lap_ns)
        elif kind in (IN_LAP, OUT_LAP) and team.stops:
            stop = team.stops[-1]
            if not stop.done:
                stop.laps_ns += lap_ns
                stop.laps += 1
                stop.done = kind == OUT_LAP

    def _check_long(self, team: Team, t: int) -> None:
        stint, r = team.stint, self.rules
        if stint.checked_long or team.in_pit:
            return
        laps = stint.on_track
        if (r.max_stint_laps and laps > r.max_stint_laps) or \
                (r.max_stint_ns and t - stint.start_t > r.max_stint_ns):
            stint.checked_long = True
            limit = (f"{r.max_stint_laps} laps" if r.max_stint_laps and
                     laps > r.max_stint_laps else f"{r.max_stint_ns // (60 * SECOND)} min")
            self._violate(team, "long_stint", t, f"stint {stint.no} over the maximum of "
                          f"{limit}")

    def _check_short(self, team: Team, t: int) -> None:
        stint, r = team.stint, self.rules
        laps, took = stint.on_track, t - stint.start_t
        if r.min_stint_laps and laps < r.min_stint_laps:
            self._violate(team, "short_stint", t, f"stint {stint.no}: {laps} laps, minimum "
                          f"{r.min_stint_laps}")
        elif r.min_stint_ns and took < r.min_stint_ns:
            self._violate(team, "short_stint", t, f"stint {stint.no}: {took / SECOND:.0f} s, "
                          f"minimum {r.min_stint_ns / SECOND:.0f} s")

    def _check_driver(self, team: Team, t: int) -> None:
        """Every-stop driver change: judged at the new stint's first lap (or its end), so
        a driver named just after the pit exit still counts."""
        stint = team.stint
        if self.rules.driver_change != "every_stop" or stint.no == 1 or \
                stint.checked_driver or team.in_pit:
            return
        stint.checked_driver = True
        before = team.stints[-2].driver
        if stint.driver == before:
            self._violate(team, "no_driver_change", t,
                          f"{before or 'the same driver'} drove stints {stint.no - 1} and "
                          f"{stint.no}")

    def _violate(self, team: Team, rule: str, t: int, detail: str, count: int = 1) -> None:
        vid = f"{team.key}-{rule}-{team.stint.no}"
        if vid not in self.violations:
            self.violations[vid] = Violation(vid, team.key, rule, detail, t, count)
