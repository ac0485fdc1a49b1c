"""The MQTT contract: every topic name and payload type, in one place.

Payloads are JSON objects on the wire, typed here as msgspec structs. Inbound structs
(passes, commands) reject unknown fields, so an out-of-contract message is reported
instead of half-understood. Times are integers of CLOCK_MONOTONIC nanoseconds (``*_ns``)
on the Pi's clock; ``*_ms`` fields are derived conveniences for displays.

``docs/mqtt.md`` documents each topic with an example; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

QOS = 1  # at-least-once for passes, commands, replies and state; passes are de-duplicated
# Events (race/lap, errors) are QoS 0: a live notification stream whose every fact is also
# in the retained race/state and in storage. At QoS 1 the lap service would hold each event
# until the broker acknowledged it; a burst of passes left thousands waiting (100+ MiB on
# a 10,000-lap burst) and cost a third of its throughput. See docs/mqtt.md.
EVENT_QOS = 0
# QoS 1 messages in flight (sent, not yet acknowledged) per client and direction: clients
# ask the broker for this receive maximum and keep to it when sending, and the Mosquitto
# configurations Pitwall writes use it as max_inflight_messages.
INFLIGHT = 100
# An error report quotes at most this many bytes of anything it repeats (the topic, the
# reason, the payload), and a log line the same: bad input must not amplify itself.
REPORT_MAX = 200

# "apex": a lap from a track's Apex Timing feed (pitwall feed apex, docs/feeds.md).
PassSource = Literal["gpio", "decoder", "ir", "sim", "replay", "manual", "apex"]
Phase = Literal["idle", "ready", "starting", "running", "finishing", "finished", "stopped",
                "aborted"]
Flag = Literal["none", "green", "yellow", "red", "chequered"]
Mode = Literal["practice", "qualifying", "laps", "timed", "endurance"]
PaceTag = Literal["good", "bad", "unknown"]
RecordMark = Literal["track", "pb"]
DriverChangeRule = Literal["free", "every_stop"]
EntrantKey = Literal["car", "lane"]
FirstCrossing = Literal["counts", "starts"]
JumpStartPenalty = Literal["warning", "time", "stop_go", "restart"]

LaneNo = Annotated[int, Meta(ge=1, le=64)]
CarId = Annotated[int, Meta(ge=0, le=255)]
Nanos = Annotated[int, Meta(ge=0)]
# A stamp the storage can hold (a signed 64-bit integer): every inbound t_ns.
StoredNanos = Annotated[int, Meta(ge=0, le=2**63 - 1)]


class Topics:
    """Topic names under one configurable root (default ``pitwall``)."""

    def __init__(self, root: str = "pitwall") -> None:
        self.root = root
        self.lane_pass_all = f"{root}/lane/+/pass"
        self.race_state = f"{root}/race/state"
        self.race_lap = f"{root}/race/lap"
        self.race_command = f"{root}/race/command"
        self.race_reply = f"{root}/race/reply"
        self.lights_state = f"{root}/lights/state"
        self.errors = f"{root}/errors"
        # The box's health (retained) and each threshold crossed (events): pitwall health.
        self.health_state = f"{root}/health/state"
        self.health_warning = f"{root}/health/warning"
        # The lap service's counters (retained, every few seconds): for /metrics.
        self.laps_stats = f"{root}/laps/stats"
        # A race director logged in to the API (not retained): a demo director yields.
        self.director_login = f"{root}/director/login"
        # What each committed transaction of the lap service stored (QoS 1, not
        # retained): the central archive's feed in a cluster (docs/scale-out.md).
        self.archive_journal = f"{root}/archive/journal"
        # The archive writer's receipts for journal entries it has in its database (QoS 1):
        # the track keeps each entry, and sends it again, until its receipt comes back.
        self.archive_ack = f"{root}/archive/ack"

    def lane_pass(self, lane: int) -> str:
        return f"{self.root}/lane/{lane}/pass"

    def lane_of(self, topic: str) -> int | None:
        """The lane number in a ``{root}/lane/{lane}/pass`` topic, or None."""
        parts = topic.split("/")
        if len(parts) >= 3 and parts[-1] == "pass" and parts[-3] == "lane":
            try:
                return int(parts[-2])
            except ValueError:
                return None
        return None

    def status(self, service: str) -> str:
        return f"{self.root}/status/{service}"

    def qos(self, topic: str) -> int:
        """The QoS a message on ``topic`` is published with."""
        return EVENT_QOS if topic in (self.race_lap, self.errors, self.director_login,
                                      self.health_warning) else QOS


# Availability payloads on {root}/status/{service} (retained; "offline" is the last will).
ONLINE = b"online"
OFFLINE = b"offline"
# Up, but not doing all its work: the lap service cannot store passes (storage full or
# failing), so they wait at the broker until it can. Race control still runs, so it
# counts as up (RUNNING) for everyone who waits for the lap service.
DEGRADED = b"degraded"
RUNNING = (ONLINE, DEGRADED)
# The service name of pitwall up's stand-in race director (status/director: a demo runs).
DEMO_DIRECTOR = "director"


class _Inbound(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class _Outbound(msgspec.Struct, kw_only=True):
    pass


# ---------------------------------------------------------------- lane/{lane}/pass
class Pass(_Inbound, kw_only=True):
    """A car crossed a lane's sensor at ``t_ns`` (the edge's kernel timestamp)."""

    lane: LaneNo
    car: CarId | None = None
    # At most 2^63-1: a larger stamp is refused here, not by the database mid-batch.
    t_ns: StoredNanos
    source: PassSource = "gpio"


# ---------------------------------------------------------------- race/command
Name = Annotated[str, Meta(max_length=60)]
CarClass = Annotated[str, Meta(max_length=40)]


class EntrantSpec(_Inbound, kw_only=True):
    car: CarId | None = None
    lane: LaneNo | None = None
    driver: Name = ""  # endurance: the team's name
    # Endurance: the team's drivers in driving order (the first starts), and in a kart
    # pool the kart it starts in (passes then carry kart numbers).
    drivers: Annotated[list[Name], Meta(max_length=8)] = []
    kart: CarId | None = None


class PitRulesSpec(_Inbound, kw_only=True):
    """Endurance pit rules for one race; a field left out takes the ``[endurance]``
    setting. 0 means no such rule."""

    min_pit_s: Annotated[float, Meta(ge=0, le=3600)] | None = None
    min_stint_laps: Annotated[int, Meta(ge=0, le=100_000)] | None = None
    max_stint_laps: Annotated[int, Meta(ge=0, le=100_000)] | None = None
    min_stint_s: Annotated[int, Meta(ge=0, le=24 * 3600)] | None = None
    max_stint_s: Annotated[int, Meta(ge=0, le=24 * 3600)] | None = None
    required_stops: Annotated[int, Meta(ge=0, le=1000)] | None = None
    driver_change: DriverChangeRule | None = None
    penalty_s: Annotated[float, Meta(ge=0, le=3600)] | None = None


class _Command(_Inbound, tag_field="cmd", kw_only=True):
    # Optional request id, echoed on race/reply so a client can match its answer.
    id: Annotated[str, Meta(max_length=64)] | None = None


class Setup(_Command, tag="setup", kw_only=True):
    mode: Mode = "laps"
    laps: Annotated[int, Meta(ge=1, le=100_000)] | None = None
    duration_s: Annotated[int, Meta(ge=1, le=7 * 24 * 3600)] | None = None
    entrant: EntrantKey | None = None
    min_lap_ms: Annotated[int, Meta(ge=0, le=3_600_000)] | None = None
    first_crossing: FirstCrossing | None = None
    name: Annotated[str, Meta(max_length=80)] = ""
    entrants: Annotated[list[EntrantSpec], Meta(max_length=64)] = []
    car_class: CarClass = ""  # records are kept per car class ("": the club keeps none)
    # Endurance only.
    pit: PitRulesSpec | None = None
    spare_karts: Annotated[list[CarId], Meta(max_length=64)] = []


class Heats(_Command, tag="heats", kw_only=True):
    """Set up a heat-rotation event (analog, lane-keyed): every driver races every lane
    once. Heat 1 is set up at once; the director starts it, and each later heat is set up
    and started by the lap service ``pause_s`` after the one before finished."""

    name: Annotated[str, Meta(max_length=80)] = ""
    drivers: Annotated[list[Annotated[str, Meta(min_length=1, max_length=60)]],
                       Meta(min_length=2, max_length=64)]
    lanes: Annotated[list[LaneNo], Meta(min_length=2, max_length=8)] | None = None
    duration_s: Annotated[int, Meta(ge=10, le=24 * 3600)]
    pause_s: Annotated[int, Meta(ge=0, le=3600)] = 30
    min_lap_ms: Annotated[int, Meta(ge=0, le=3_600_000)] | None = None
    car_class: CarClass = ""


class Restore(_Command, tag="restore", kw_only=True):
    """Take up the database a restore verified and staged (``pitwall backup restore``,
    ``POST /api/maintenance/restore``); refused while a race is under way."""


class Start(_Command, tag="start", kw_only=True):
    pass


class Yellow(_Command, tag="yellow", kw_only=True):
    pass


class Green(_Command, tag="green", kw_only=True):
    pass


class Red(_Command, tag="red", kw_only=True):
    pass


class Finish(_Command, tag="finish", kw_only=True):
    pass


class Abort(_Command, tag="abort", kw_only=True):
    pass


class Reinstate(_Command, tag="reinstate", kw_only=True):
    """Count a crossing that was marked suspect (or deleted); the race is re-scored."""

    pass_id: Annotated[int, Meta(ge=1)]


class Delete(_Command, tag="delete", kw_only=True):
    """Ignore a false crossing; the race is re-scored."""

    pass_id: Annotated[int, Meta(ge=1)]


class AddPass(_Command, tag="add_pass", kw_only=True):
    """A crossing the sensor missed, added by the director at a time the director gives;
    stored with source "manual" and scored like any pass (the race is re-scored)."""

    race_id: Annotated[int, Meta(ge=1)]
    lane: LaneNo
    car: CarId | None = None
    t_ns: StoredNanos


class MovePass(_Command, tag="move_pass", kw_only=True):
    """Correct a crossing's time; the sensor's own stamp is kept beside the correction."""

    pass_id: Annotated[int, Meta(ge=1)]
    t_ns: StoredNanos


class PitIn(_Command, tag="pit_in", kw_only=True):
    """Endurance: a team enters the pit (for tracks without a pit-entry sensor)."""

    entrant: Annotated[int, Meta(ge=0, le=255)]


class PitOut(_Command, tag="pit_out", kw_only=True):
    """Endurance: a team leaves the pit, in a kart pool with the kart it takes."""

    entrant: Annotated[int, Meta(ge=0, le=255)]
    kart: CarId | None = None


class DriverChange(_Command, tag="driver", kw_only=True):
    """Endurance: who drives a team's car now (during a stop: the next stint)."""

    entrant: Annotated[int, Meta(ge=0, le=255)]
    driver: Annotated[str, Meta(min_length=1, max_length=60)]


class PenaltyDecision(_Command, tag="penalty", kw_only=True):
    """Endurance: the director confirms (it costs time) or waives a pit-rule violation."""

    penalty: Annotated[str, Meta(min_length=1, max_length=64)]
    decision: Literal["confirm", "waive"]


Command = (Setup | Heats | Start | Yellow | Green | Red | Finish | Abort | Reinstate | Delete
           | AddPass | MovePass | PitIn | PitOut | DriverChange | PenaltyDecision | Restore)


class Reply(_Outbound, kw_only=True):
    """race/reply: the lap service's answer to one command."""

    id: str | None
    cmd: str
    ok: bool
    error: str | None = None
    race_id: int | None = None


# ---------------------------------------------------------------- race/lap
class LapEvent(_Outbound, kw_only=True):
    """A counted lap, or a suspect crossing (``suspect`` true, not counted)."""

    race_id: int
    entrant: int
    lap: int
    lap_ns: int
    lap_ms: float
    t_ns: int
    suspect: bool
    pass_id: int


# ---------------------------------------------------------------- race/state
class Standing(_Outbound, kw_only=True):
    position: int
    entrant: int
    driver: str
    laps: int
    last_ms: float | None
    best_ms: float | None
    gap_ms: float | None
    gap_laps: int
    finished: bool
    last_t_ns: int | None
    jump_start: bool
    # What the jump start cost ("none" without one): see RaceState.jump_start_penalty.
    penalty: JumpStartPenalty | Literal["none"] = "none"
    penalty_ms: float = 0.0  # added to the race time (time penalty, unserved stop-and-go)
    penalty_open: bool = False  # a stop-and-go still to serve
    # Endurance only (null otherwise): the team's stint, stops and pace tag.
    kart: int | None = None
    stint: StintNow | None = None
    pit: PitNow | None = None
    pace: PaceTag | None = None
    projected: int | None = None  # position once every team has served its required stops
    # This entrant's best lap of this race beats the track record ("track") or the
    # driver's personal best ("pb") that stood before the race (docs/club.md, records).
    record: RecordMark | None = None


class StintNow(_Outbound, kw_only=True):
    """The stint a team is in (during a stop: the one that just ended)."""

    no: int
    driver: str
    lap_in: int  # the team's laps when the stint began
    laps: int
    start_ns: int  # stint time = now - start_ns (until end_ns)
    end_ns: int | None
    best_ms: float | None
    avg_ms: float | None  # average of the last laps, outliers out (docs/endurance.md)
    # The pit window by the stint rules (null: no such rule).
    opens_ns: int | None = None
    closes_ns: int | None = None
    opens_lap: int | None = None
    closes_lap: int | None = None


class PitNow(_Outbound, kw_only=True):
    in_pit: bool
    since_ns: int | None  # in the pit since (pit-entry stamp)
    stops: int
    required: int
    last_ms: float | None  # the last completed stop, pit entry to exit
    loss_ms: float | None  # the team's measured time lost per stop


class PitRules(_Outbound, kw_only=True):
    min_pit_ms: int
    min_stint_laps: int
    max_stint_laps: int
    min_stint_s: int
    max_stint_s: int
    required_stops: int
    driver_change: DriverChangeRule
    penalty_ms: int


class Penalty(_Outbound, kw_only=True):
    """A pit-rule violation; confirmed ones add ``penalty_ms`` to the team's race time."""

    id: str
    entrant: int
    team: str
    rule: Literal["short_stop", "short_stint", "long_stint", "no_driver_change",
                  "missing_stop"]
    detail: str
    t_ns: int
    status: Literal["pending", "confirmed", "waived"]
    penalty_ms: float


class TrackRecord(_Outbound, kw_only=True):
    """The track record (in the race's car class) that stood when the race was set up."""

    driver: str
    lap_ms: float
    race_id: int


class GridSlot(_Outbound, kw_only=True):
    lane: int
    driver: str


class HeatEventState(_Outbound, kw_only=True):
    """The heat-rotation event this race is a heat of."""

    id: int
    name: str
    heat: int  # this race's heat, 1-based
    heats: int
    grid: list[GridSlot]  # this heat's drivers by lane
    sitting_out: list[str]
    next_grid: list[GridSlot] | None  # the next heat's (null after the last)
    next_start_ns: int | None  # between heats: when the next heat's lights begin


class Lights(_Outbound, kw_only=True):
    """The planned start sequence, on the service's monotonic clock."""

    red_ns: list[int]
    green_ns: int


class RaceState(_Outbound, kw_only=True):
    race_id: int | None
    name: str = ""
    phase: Phase
    mode: Mode | None = None
    laps: int | None = None
    duration_s: int | None = None
    entrant: EntrantKey | None = None
    min_lap_ms: int | None = None
    first_crossing: FirstCrossing | None = None
    start_ns: int | None = None
    ends_ns: int | None = None
    flag: Flag = "none"
    lights: Lights | None = None
    now_ns: int
    jump_start_penalty: JumpStartPenalty | None = None
    power_cut_ns: int | None = None  # under yellow/red: when track power goes (went) off
    resume_ns: int | None = None  # green given: when its countdown ends (power back on)
    restart_by: int | None = None  # this entrant's jump start made the start void
    track_call: int | None = None  # this entrant's deslot called the yellow that is out
    standings: list[Standing] = []
    # Endurance only.
    pit_rules: PitRules | None = None
    penalties: list[Penalty] = []
    good_kart: float | None = None  # kart pool: chance the next kart out is a good one
    event: HeatEventState | None = None  # heat rotation: this race is one of its heats
    car_class: str = ""
    track_record: TrackRecord | None = None  # null: no record in this class yet
    # Passes refused for this race as implausible (unknown lane, stamp before the set-up
    # or beyond the horizon): kept aside, never scored (GET /api/races/{id}/refused).
    refused: int = 0


# ---------------------------------------------------------------- lights/state
class LightsState(_Outbound, kw_only=True):
    reds: Annotated[int, Meta(ge=0, le=5)]
    green: bool
    flag: Flag
    power: bool
    plan: Lights | None = None
    now_ns: int
    phase: Phase = "idle"
    power_cut_ns: int | None = None  # under yellow/red: when track power goes (went) off
    resume_ns: int | None = None  # green given: when its countdown ends (power back on)
    resumed_ns: int | None = None  # under green: when racing last resumed after a caution


# ---------------------------------------------------------------- errors
# ---------------------------------------------------------------- health/state
class Throttle(_Outbound, kw_only=True):
    """The Pi firmware's flags (``vcgencmd get_throttled``): now, and since boot."""

    raw: int
    under_voltage: bool
    freq_capped: bool
    throttled: bool
    soft_temp_limit: bool
    under_voltage_occurred: bool
    freq_capped_occurred: bool
    throttled_occurred: bool
    soft_temp_limit_occurred: bool


class ServiceHealth(_Outbound, kw_only=True):
    name: str  # as on status/{service}: laps, api, lane1, lights…
    mqtt: Literal["online", "degraded", "offline"] | None  # its retained status (None: never seen)
    systemd: str | None = None  # the unit's ActiveState (None: no systemd here)
    restarts: int | None = None  # systemd's NRestarts
    since: str | None = None  # when the unit last became active (systemd's own text)


class HealthWarning(_Outbound, kw_only=True):
    check: str  # temperature, under_voltage, throttled, disk, memory, service:<name>…
    level: Literal["warning", "critical"]
    message: str


class HealthState(_Outbound, kw_only=True):
    """The box, every few seconds. A reading this machine cannot take is null."""

    at: float  # wall clock, seconds since 1970 (may be off on a Pi without a clock)
    version: str
    uptime_s: float | None
    cpu_temp_c: float | None
    cpu_percent: float | None  # of all cores, since the previous reading
    load: list[float] | None  # 1, 5, 15 minutes
    mem_total_mib: float | None
    mem_available_mib: float | None
    disk_total_mib: float | None  # the data partition
    disk_free_mib: float | None
    disk_write_kib_s: float | None  # written to the data partition's device
    throttle: Throttle | None  # null: not a Pi (or the firmware cannot tell)
    services: list[ServiceHealth]
    warnings: list[HealthWarning]


# ---------------------------------------------------------------- laps/stats
class LapStats(_Outbound, kw_only=True):
    """The lap service's counters since it started (only what was committed counts)."""

    started_at: float  # wall clock when the service started (a reset of every counter)
    passes: int  # pass messages taken in
    stored: int  # stored as new crossings
    duplicates: int  # redeliveries of a crossing already stored
    rejected: int  # refused: malformed, or on another lane's topic
    laps: int  # laps counted (race/lap, not suspect)
    suspects: int  # suspect crossings (race/lap with suspect true)
    commands: int  # commands answered
    refused: int  # ... of which refused (race/reply ok false)
    batches: int  # transactions committed
    retries: int  # batches that failed and were retried one message at a time
    # Passes refused as implausible for the open race (kept in the quarantine table).
    quarantined: int = 0


# ---------------------------------------------------------------- archive/journal
Row = dict[str, str | int | float | bool | None]  # one stored row: column -> value


class Journal(_Outbound, kw_only=True):
    """archive/journal: the rows one committed transaction of the lap service wrote, whole
    (as stored after it), so applying an entry twice changes nothing. ``seq`` increases
    within one database; laps of the races in ``laps_replaced`` were re-scored: every lap
    of those races is in ``laps`` and the ones not there are gone."""

    origin: str  # the track database's journal identity (new after a restore)
    seq: int
    races: list[Row] = []
    heat_events: list[Row] = []
    passes: list[Row] = []
    controls: list[Row] = []
    laps: list[Row] = []
    laps_replaced: list[int] = []


class JournalAck(_Outbound, kw_only=True):
    """archive/ack: the journal entries of ``origin`` that are in the central archive
    (applied now, or before: a resent entry is acknowledged again), and those the writer
    holds but cannot apply before older ones it has not got (``waiting``: rows of a race
    whose own row has not arrived)."""

    origin: str
    seqs: list[int]
    waiting: list[int] = []


class ErrorReport(_Outbound, kw_only=True):
    """errors: a message that was rejected, and why."""

    service: str
    topic: str  # at most REPORT_MAX bytes, as are reason and payload
    reason: str
    payload: str
    # A summary: this many more reports like this one (same topic and kind of reason) were
    # held back in the last window (rate limit); 0 for a report of one message.
    suppressed: int = 0


def ms(ns: int | None) -> float | None:
    """The ``*_ms`` value for ``ns``: milliseconds rounded to the microsecond (the derived,
    display-only unit of every payload)."""
    return None if ns is None else round(ns / 1_000_000, 3)


_encoder = msgspec.json.Encoder()
_pass_decoder = msgspec.json.Decoder(Pass)
_command_decoder = msgspec.json.Decoder(Command)


def encode(obj: msgspec.Struct) -> bytes:
    return _encoder.encode(obj)


def decode_pass(data: bytes) -> Pass:
    """Raise msgspec.DecodeError / ValidationError on anything out of contract."""
    return _pass_decoder.decode(data)


def decode_command(data: bytes) -> Command:
    return _command_decoder.decode(data)


def decode(data: bytes, kind: type):
    return msgspec.json.decode(data, type=kind)
