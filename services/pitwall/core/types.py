"""Values the race core works with. Standard library only; time is data (ns ints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

MS = 1_000_000  # nanoseconds per millisecond
SECOND = 1_000_000_000


JUMP_START_PENALTIES = ("warning", "time", "stop_go", "restart")


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


@dataclass(frozen=True, slots=True)
class Control:
    """A flag or end command, stamped with the lap service's monotonic clock."""

    kind: ControlKind
    t_ns: int


@dataclass(frozen=True, slots=True)
class Entrant:
    key: int  # car ID or lane number, per RaceConfig.entrant
    driver: str = ""


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

    def __post_init__(self) -> None:
        if self.mode not in ("practice", "qualifying", "laps", "timed"):
            raise RaceError(f"unknown race mode {self.mode!r}")
        if self.mode == "laps" and not self.laps:
            raise RaceError("a lap race needs a number of laps")
        if self.mode in ("timed", "qualifying") and not self.duration_ns:
            raise RaceError(f"a {self.mode} session needs a duration")
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
