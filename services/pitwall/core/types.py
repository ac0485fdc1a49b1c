"""Values the race core works with. Standard library only; time is data (ns ints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

MS = 1_000_000  # nanoseconds per millisecond
SECOND = 1_000_000_000


JUMP_START_PENALTIES = ("warning", "time", "stop_go", "restart")
MODES = ("practice", "qualifying", "laps", "timed", "endurance")


class RaceError(ValueError):
    """A command that does not fit the race (wrong phase, bad setup). Message is for users."""


@dataclass(frozen=True, slots=True)
class Crossing:
    """A pass as the core sees it: ``id`` is its place in the pass log (arrival order)."""

    id: int
    lane: int
    car: int | None
    t_ns: int
    # The director's edit: None = score normally, "count" = count even if suspect,
    # "ignore" = a false crossing.
    override: str | None = None


class ControlKind(str, Enum):
    YELLOW = "yellow"
    GREEN = "green"
    RED = "red"
    FINISH = "finish"
    ABORT = "abort"
    # Endurance: the director's (or a phone's) pit calls, driver changes and penalty
    # decisions. They carry the team (``entrant``) and a ``value``.
    PIT_IN = "pit_in"
    PIT_OUT = "pit_out"  # value: the kart taken out, for a kart pool ("" keeps the kart)
    DRIVER = "driver"  # value: the driver now at the wheel
    PENALTY = "penalty"  # value: "<penalty id>=confirm" or "<penalty id>=waive"


TEAM_CONTROLS = (ControlKind.PIT_IN, ControlKind.PIT_OUT, ControlKind.DRIVER)


@dataclass(frozen=True, slots=True)
class Control:
    """A flag, end or pit command, stamped with the lap service's monotonic clock."""

    kind: ControlKind
    t_ns: int
    entrant: int | None = None  # the team a pit or driver command is for
    value: str = ""


@dataclass(frozen=True, slots=True)
class Entrant:
    key: int  # car ID or lane number, per RaceConfig.entrant
    driver: str = ""  # endurance: the team's name
    drivers: tuple[str, ...] = ()  # endurance: the team's drivers, in driving order
    kart: int | None = None  # endurance with a kart pool: the kart it starts in (None: key)

    @property
    def starting_driver(self) -> str:
        return self.drivers[0] if self.drivers else ""


PIT_ROLES = ("in", "out")
DRIVER_CHANGE = ("free", "every_stop")


@dataclass(frozen=True, slots=True)
class PitSensor:
    """A sensor in the pit lane: its passes are pit events, not laps.

    ``serves``: for races keyed by lane, the track lane whose car this sensor sees (a pass
    on it has no car ID to tell).
    """

    lane: int
    role: str  # "in" (pit entry) or "out" (pit exit)
    serves: int | None = None

    def __post_init__(self) -> None:
        if self.role not in PIT_ROLES:
            raise RaceError("a pit sensor's role is 'in' or 'out'")


@dataclass(frozen=True, slots=True)
class PitRules:
    """Endurance pit rules; 0 or None is "no rule". A violation becomes a penalty that the
    director confirms (it then costs ``penalty_ns`` each) or waives."""

    min_pit_ns: int = 0  # a stop shorter than this (pit in -> pit out) is a violation
    min_stint_laps: int = 0
    max_stint_laps: int = 0
    min_stint_ns: int = 0
    max_stint_ns: int = 0
    required_stops: int = 0  # each stop missing at the flag is a violation
    driver_change: str = "free"  # "every_stop": the driver must change at every stop
    penalty_ns: int = 10 * SECOND  # what a confirmed violation adds to the race time

    def __post_init__(self) -> None:
        if self.driver_change not in DRIVER_CHANGE:
            raise RaceError("driver_change is 'free' or 'every_stop'")
        if min(self.min_pit_ns, self.min_stint_laps, self.max_stint_laps, self.min_stint_ns,
               self.max_stint_ns, self.required_stops, self.penalty_ns) < 0:
            raise RaceError("pit rules cannot be negative")
        if self.max_stint_laps and self.min_stint_laps > self.max_stint_laps:
            raise RaceError("the minimum stint is longer than the maximum (laps)")
        if self.max_stint_ns and self.min_stint_ns > self.max_stint_ns:
            raise RaceError("the minimum stint is longer than the maximum (time)")


@dataclass(frozen=True, slots=True)
class PaceRules:
    """How pace figures are taken (see core/pace.py for the rule and why)."""

    window: int = 5  # average of the last this many clean laps
    outlier_mads: float = 3.0  # a lap this many scaled MADs from the median is an outlier
    min_laps: int = 3  # clean laps needed before a pace (and a pace tag) is known

    def __post_init__(self) -> None:
        if self.window < 1 or self.min_laps < 1 or self.outlier_mads <= 0:
            raise RaceError("pace window and minimum laps are at least 1; outlier_mads > 0")


@dataclass(frozen=True, slots=True)
class RaceConfig:
    mode: str = "laps"  # practice | qualifying | laps | timed
    laps: int | None = None
    duration_ns: int | None = None
    entrant: str = "car"  # car | lane
    min_lap_ns: int = 2000 * MS
    first_crossing: str = "counts"  # counts | starts
    entrants: tuple[Entrant, ...] = ()  # empty: anyone who crosses takes part
    yellow_grace_ns: int = 2000 * MS
    yellow_clock: str = "runs"  # runs | paused
    name: str = ""
    car_class: str = ""  # records are kept per car class ("": the club keeps none)
    # What a jump start costs: "warning" (marked only), "time" (jump_start_penalty_ns added
    # to the race time), "stop_go" (a stop that long to serve; unserved at the flag it is
    # added as time), "restart" (the start is void: back to ready, lights again).
    jump_start_penalty: str = "warning"
    jump_start_penalty_ns: int = 5 * SECOND
    # After a green command, the caution lasts this much longer (power off, flag still
    # out) so drivers can get back to their controllers: the countdown.
    green_countdown_ns: int = 0
    # Automatic track call: a yellow when an entrant is overdue by more than this many of
    # its average laps (a deslot). 0: off.
    auto_yellow_factor: float = 0.0
    # Sensors in the pit lane (any mode: their passes are never laps).
    pit_sensors: tuple[PitSensor, ...] = ()
    # Endurance only: pit rules, pace figures, spare karts of a kart pool.
    pit: PitRules = PitRules()
    pace: PaceRules = PaceRules()
    spare_karts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RaceError(f"unknown race mode {self.mode!r}")
        if self.mode == "laps" and not self.laps:
            raise RaceError("a lap race needs a number of laps")
        if self.mode in ("timed", "qualifying") and not self.duration_ns:
            raise RaceError(f"a {self.mode} session needs a duration")
        if self.mode == "endurance" and not (self.laps or self.duration_ns):
            raise RaceError("an endurance race needs a duration or a number of laps")
        if self.mode == "endurance" and self.laps and self.duration_ns:
            raise RaceError("an endurance race runs to a duration or to a number of laps, "
                            "not both")
        if len({s.lane for s in self.pit_sensors}) != len(self.pit_sensors):
            raise RaceError("a pit sensor is listed twice")
        if self.entrant == "lane" and any(s.serves is None for s in self.pit_sensors):
            raise RaceError("in a race keyed by lane, each pit sensor must say which lane "
                            "it serves")
        karts = [e.kart if e.kart is not None else e.key for e in self.entrants]
        if self.kart_pool and len(set(karts + list(self.spare_karts))) != \
                len(karts) + len(self.spare_karts):
            raise RaceError("a kart is given to two teams (or is also a spare)")
        if self.entrant not in ("car", "lane"):
            raise RaceError("entrants are keyed by 'car' or 'lane'")
        if self.first_crossing not in ("counts", "starts"):
            raise RaceError("first_crossing is 'counts' or 'starts'")
        if self.yellow_clock not in ("runs", "paused"):
            raise RaceError("yellow_clock is 'runs' or 'paused'")
        if self.jump_start_penalty not in JUMP_START_PENALTIES:
            raise RaceError("jump_start_penalty is one of " + ", ".join(JUMP_START_PENALTIES))
        if self.auto_yellow_factor < 0:
            raise RaceError("auto_yellow_factor cannot be negative")
        if min(self.min_lap_ns, self.yellow_grace_ns, self.jump_start_penalty_ns,
               self.green_countdown_ns) < 0:
            raise RaceError("times cannot be negative")
        keys = [e.key for e in self.entrants]
        if len(keys) != len(set(keys)):
            raise RaceError(f"an entrant is listed twice (by {self.entrant})")

    @property
    def ranked_by_best_lap(self) -> bool:
        return self.mode in ("practice", "qualifying")

    @property
    def to_laps(self) -> bool:
        """Run to a number of laps (a lap race, or an endurance race with a lap target)."""
        return self.mode == "laps" or (self.mode == "endurance" and bool(self.laps))

    @property
    def kart_pool(self) -> bool:
        """Rental karts: teams change kart at their stops, passes carry the kart's number."""
        return self.mode == "endurance" and self.entrant == "car" and (
            bool(self.spare_karts) or any(e.kart is not None for e in self.entrants))


@dataclass(frozen=True, slots=True)
class StartPlan:
    """Five reds a second apart, a random hold, then green (``green_ns`` = race start)."""

    red_ns: tuple[int, ...]
    green_ns: int


class Kind(str, Enum):
    """What a crossing meant to the race."""

    LAP = "lap"  # a counted lap
    START = "start"  # first crossing under first_crossing="starts": timing starts
    SUSPECT = "suspect"  # closer than the minimum lap: kept, not counted
    JUMP = "jump"  # between the first red light and green
    PRE_START = "pre_start"  # before the start sequence
    YELLOW = "yellow"  # under yellow, after the grace period
    STOPPED = "stopped"  # under red flag, or after the race ended
    AFTER_FINISH = "after_finish"  # the entrant had already taken the flag
    UNKNOWN = "unknown"  # not an entrant of this race
    DELETED = "deleted"  # ignored by the director
    PIT_IN = "pit_in"  # a pit-entry sensor: the team is in the pit from here
    PIT_OUT = "pit_out"  # a pit-exit sensor: the stop ends here
    PIT = "pit"  # a pit sensor's pass that changes nothing (not racing, already in/out)


@dataclass(slots=True)
class Outcome:
    """The scoring of one crossing."""

    pass_id: int
    kind: Kind
    entrant: int | None = None
    lap: int = 0  # lap number completed (LAP), or laps so far (SUSPECT)
    lap_ns: int | None = None  # time since the previous counted crossing
    t_ns: int = 0
    neutralised: bool = False  # lap spans a yellow or red: not eligible for best lap
    final: bool = False  # the entrant took the flag on this crossing


@dataclass(slots=True)
class EntrantScore:
    key: int
    driver: str = ""
    laps: int = 0
    ref_t: int | None = None  # last counted crossing (or timing start): next lap's origin
    last_ns: int | None = None
    best_ns: int | None = None
    best_t: int | None = None  # when the best lap was set (tie-break in best-lap modes)
    finished: bool = False
    jump_start: bool = False
    stop_go_due: bool = False  # a stop-and-go penalty not served yet
    time_penalty_ns: int = 0  # added to the race time (time penalty)
    total_ns: int = 0  # sum of counted laps (for the average lap)
    crossing_t: list[int] = field(default_factory=list)  # t_ns of each counted lap

    def penalty_ns(self, stop_go_ns: int) -> int:
        """Time added to this entrant's race: a time penalty, or an unserved stop-and-go."""
        return self.time_penalty_ns + (stop_go_ns if self.stop_go_due else 0)

    @property
    def started(self) -> bool:
        return self.ref_t is not None


@dataclass(frozen=True, slots=True)
class Standing:
    position: int
    entrant: int
    driver: str
    laps: int
    last_ns: int | None
    best_ns: int | None
    gap_ns: int | None
    gap_laps: int
    finished: bool
    last_t_ns: int | None
    jump_start: bool
    penalty: str = "none"  # none | warning | time | stop_go | restart (what the jump cost)
    penalty_ns: int = 0  # time added to the race time (time penalty, unserved stop-and-go)
    penalty_open: bool = False  # a stop-and-go still to serve
