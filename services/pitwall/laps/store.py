"""Race storage: Peewee models and the lap service's reads and writes.

Models declare no database; ``open_database`` binds one at start-up (SQLite in the data
folder, or any peewee URL, e.g. PostgreSQL for multi-track setups). Every pass is kept,
even outside a race and even when it was not counted, so any race can be re-scored
from its pass log. Laps are derived data, rewritten whenever a race is re-scored.

SQLite runs in WAL mode with ``synchronous=FULL``: a pass acknowledged to the broker is
on disk, so a power cut or ``kill -9`` loses nothing.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

from peewee import (
    JOIN,
    BigIntegerField,
    BooleanField,
    CharField,
    Database,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    Query,
    SqliteDatabase,
    TextField,
    fn,
)
from playhouse.db_url import connect

from pitwall.core import (
    Control,
    ControlKind,
    Crossing,
    Entrant,
    Outcome,
    RaceConfig,
    StartPlan,
)
from pitwall.core.records import RecordLap
from pitwall.core.types import PaceRules, PitRules, PitSensor
from pitwall.laps.engine import BUSY_MS, WAL_LIMIT, create_tables


class BaseModel(Model):
    pass


# Wall-clock seconds are DoubleField: on PostgreSQL a FloatField is a 4-byte REAL, which
# keeps a timestamp only to the minute (SQLite's REAL is 8 bytes either way).


class RaceRow(BaseModel):
    name = CharField(default="")
    created_at = DoubleField()  # wall clock, for listing only; may be wrong on a Pi w/o RTC
    config = TextField()  # JSON of the RaceConfig
    red_ns = TextField(null=True)  # JSON list, set by the start command
    green_ns = BigIntegerField(null=True)
    boot_id = CharField(default="")  # monotonic stamps are only comparable within one boot
    phase = CharField(default="ready")  # cached for listings; the logs are the truth
    # Heat rotation: the event this race is a heat of, and which heat (1-based).
    event = IntegerField(null=True)
    heat = IntegerField(null=True)
    # The lap service's monotonic clock at the set-up: a pass stamped before it is not of
    # this race (null: a race stored before this was kept).
    setup_ns = BigIntegerField(null=True)

    class Meta:
        table_name = "race"


class HeatEventRow(BaseModel):
    """A heat-rotation event: its drivers, lanes and heat length; its heats are races."""

    name = CharField(default="")
    created_at = DoubleField()
    drivers = TextField()  # JSON list of names, in entry order (the plan's driver numbers)
    lanes = TextField()  # JSON list of lane numbers (the plan's lane numbers)
    duration_s = IntegerField()
    pause_s = IntegerField()
    min_lap_ms = IntegerField()
    car_class = CharField(default="")

    class Meta:
        table_name = "heat_event"


class PassRow(BaseModel):
    race = ForeignKeyField(RaceRow, null=True, backref="passes", on_delete="CASCADE")
    lane = IntegerField()
    car = IntegerField(null=True)
    t_ns = BigIntegerField()
    source = CharField()
    # What each pass meant (lap, suspect, jump…) is not stored: the core derives it from
    # the log, so an edit or a re-score can never leave a stale copy behind.
    override = CharField(null=True)  # director's edit: "count" or "ignore"
    # The director's correction of the crossing's time (t_ns stays the sensor's stamp).
    corrected_ns = BigIntegerField(null=True)

    class Meta:
        table_name = "pass"
        # One sensor edge is one pass: a redelivered message is recognised and skipped.
        indexes = ((("lane", "t_ns"), True),)


class ControlRow(BaseModel):
    race = ForeignKeyField(RaceRow, backref="controls", on_delete="CASCADE")
    kind = CharField()
    t_ns = BigIntegerField()
    # Endurance commands: the team, and the driver / kart / penalty decision.
    entrant = IntegerField(null=True)
    value = CharField(default="")

    class Meta:
        table_name = "control"


class LapRow(BaseModel):
    race = ForeignKeyField(RaceRow, backref="laps", on_delete="CASCADE")
    passing = ForeignKeyField(PassRow, column_name="pass_id", on_delete="CASCADE")
    entrant = IntegerField()
    lap = IntegerField()
    lap_ns = BigIntegerField()
    t_ns = BigIntegerField()
    neutralised = BooleanField(default=False)

    class Meta:
        table_name = "lap"
        indexes = ((("race", "entrant", "lap"), False),)


class OutboxRow(BaseModel):
    """Archive journal entries not yet acknowledged by the broker (laps/journal.py)."""

    # The id is the entry's seq. SQLite gives a new row max(id) + 1, so the newest row is
    # never deleted (laps/journal.py): ids then never go back.
    body = TextField()  # the encoded contract.Journal

    class Meta:
        table_name = "journal_outbox"


class JournalOriginRow(BaseModel):
    """This database's journal identity: new for a new database and after a restore, so
    the archive writer can tell a fresh sequence from an old entry repeated."""

    origin = CharField()

    class Meta:
        table_name = "journal_origin"


class QuarantineRow(BaseModel):
    """Passes refused for the race they arrived in: from a lane the race does not have,
    or stamped implausibly (laps/plausible.py). Kept for the director, never scored; not
    in the archive journal. Only the newest QUARANTINE_KEEP are kept."""

    race = ForeignKeyField(RaceRow, backref="refused", on_delete="CASCADE")
    lane = IntegerField()
    car = IntegerField(null=True)
    t_ns = BigIntegerField()  # the stamp as sent (the contract keeps it under 2^63)
    source = CharField()
    reason = CharField()
    received_ns = BigIntegerField()  # the lap service's clock when it refused it

    class Meta:
        table_name = "quarantine"
        indexes = ((("race", "lane", "t_ns"), True),)  # a redelivery is kept once


QUARANTINE_KEEP = 10_000


class CommandRow(BaseModel):
    """Ids of processed commands: a redelivered command is not applied twice."""

    command_id = CharField(unique=True)

    class Meta:
        table_name = "command"


MODELS = [RaceRow, PassRow, ControlRow, LapRow, CommandRow, HeatEventRow, OutboxRow,
          JournalOriginRow, QuarantineRow]
# The tables a central archive mirrors (laps/journal.py), parents first.
JOURNALLED = {"races": RaceRow, "heat_events": HeatEventRow, "passes": PassRow,
              "controls": ControlRow, "laps": LapRow}


@dataclasses.dataclass
class Touched:
    """Ids of the rows the open transaction wrote: the archive journal's content. Every
    write below records here; the lap service clears it when its transaction ends."""

    races: set[int] = dataclasses.field(default_factory=set)
    heat_events: set[int] = dataclasses.field(default_factory=set)
    passes: set[int] = dataclasses.field(default_factory=set)
    controls: set[int] = dataclasses.field(default_factory=set)
    laps: set[int] = dataclasses.field(default_factory=set)
    laps_replaced: set[int] = dataclasses.field(default_factory=set)  # races re-scored

    def clear(self) -> None:
        for field in dataclasses.fields(self):
            getattr(self, field.name).clear()

    def __bool__(self) -> bool:
        return any(getattr(self, field.name) for field in dataclasses.fields(self))


touched = Touched()


def open_database(data_dir: str, database_url: str = "") -> Database:
    if database_url:
        db = connect(database_url)
    else:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        db = SqliteDatabase(
            str(Path(data_dir) / "pitwall.db"),
            pragmas={"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                     "busy_timeout": BUSY_MS,
                     # After a checkpoint, cut the WAL file back to this (SQLite otherwise
                     # keeps it at its largest, space a full partition needs back).
                     "journal_size_limit": WAL_LIMIT},
        )
    db.bind(MODELS)
    db.connect(reuse_if_open=True)
    create_tables(db, MODELS)
    migrate(db)
    return db


def migrate(db: Database) -> None:
    """Add the columns that later versions brought to tables an older one created."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as run

    migrator = SchemaMigrator.from_database(db)
    steps = []
    for model, names in ((ControlRow, ("entrant", "value")), (PassRow, ("corrected_ns",)),
                         (RaceRow, ("event", "heat", "setup_ns")),
                         (HeatEventRow, ("car_class",))):
        table = model._meta.table_name
        have = {c.name for c in db.get_columns(table)}
        steps += [migrator.add_column(table, name, getattr(model, name))
                  for name in names if name not in have]
    if steps:
        with db.atomic():
            run(*steps)


# ---------------------------------------------------------------- config <-> JSON
def config_to_json(cfg: RaceConfig) -> str:
    return json.dumps({
        "mode": cfg.mode, "laps": cfg.laps, "duration_ns": cfg.duration_ns,
        "entrant": cfg.entrant, "min_lap_ns": cfg.min_lap_ns,
        "first_crossing": cfg.first_crossing, "yellow_grace_ns": cfg.yellow_grace_ns,
        "yellow_clock": cfg.yellow_clock, "name": cfg.name, "car_class": cfg.car_class,
        "jump_start_penalty": cfg.jump_start_penalty,
        "jump_start_penalty_ns": cfg.jump_start_penalty_ns,
        "green_countdown_ns": cfg.green_countdown_ns,
        "auto_yellow_factor": cfg.auto_yellow_factor,
        "entrants": [[e.key, e.driver, list(e.drivers), e.kart] for e in cfg.entrants],
        "pit_sensors": [[s.lane, s.role, s.serves] for s in cfg.pit_sensors],
        "pit": dataclasses.asdict(cfg.pit),
        "pace": dataclasses.asdict(cfg.pace),
        "spare_karts": list(cfg.spare_karts),
    })


def config_from_json(text: str) -> RaceConfig:
    """A stored race's config (races stored before endurance have no pit fields)."""
    data = json.loads(text)
    data["entrants"] = tuple(Entrant(e[0], e[1], tuple(e[2]) if len(e) > 2 else (),
                                     e[3] if len(e) > 3 else None) for e in data["entrants"])
    data["pit_sensors"] = tuple(PitSensor(*s) for s in data.get("pit_sensors", ()))
    data["pit"] = PitRules(**data.get("pit", {}))
    data["pace"] = PaceRules(**data.get("pace", {}))
    data["spare_karts"] = tuple(data.get("spare_karts", ()))
    return RaceConfig(**data)


# ---------------------------------------------------------------- writes
class Compiled:
    """A Peewee query compiled to SQL once per database dialect, then run with new values.

    Peewee takes longer to build an INSERT than SQLite takes to run it, and passes and laps
    arrive by the thousand when a backlog drains: these statements are built by the ORM
    (so they stay right for SQLite and PostgreSQL alike) but only once.
    """

    def __init__(self, build: Callable[..., Query]) -> None:
        self._build = build
        self._sql: dict[type, str] = {}

    def execute(self, *values):
        db = PassRow._meta.database
        sql = self._sql.get(type(db))
        if sql is None:
            sql, params = self._build(*values).sql()
            if list(params) != list(values):  # reuse is only right if values map 1:1
                raise RuntimeError(f"cannot precompile: {params!r} != {values!r}")
            self._sql[type(db)] = sql
        return db.execute_sql(sql, values)


_insert_pass = Compiled(lambda race, lane, car, t_ns, source: PassRow.insert(
    race=race, lane=lane, car=car, t_ns=t_ns, source=source)
    .on_conflict_ignore().returning(PassRow.id))
_insert_lap = Compiled(lambda race, passing, entrant, lap, lap_ns, t_ns, neutralised:
                       LapRow.insert(race=race, passing=passing, entrant=entrant, lap=lap,
                                     lap_ns=lap_ns, t_ns=t_ns, neutralised=neutralised)
                       .returning(LapRow.id))


def insert_pass(race_id: int | None, lane: int, car: int | None, t_ns: int,
                source: str) -> int | None:
    """Store a pass; None if this very edge is already stored (a redelivery)."""
    row = _insert_pass.execute(race_id, lane, car, t_ns, source).fetchone()
    if not row:
        return None
    touched.passes.add(row[0])
    return row[0]


def insert_manual_pass(race_id: int, lane: int, car: int | None, t_ns: int) -> int | None:
    """The director's added crossing; None if a pass of that lane has that very stamp."""
    return insert_pass(race_id, lane, car, t_ns, "manual")


def set_corrected(pass_id: int, t_ns: int | None) -> None:
    PassRow.update(corrected_ns=t_ns).where(PassRow.id == pass_id).execute()
    touched.passes.add(pass_id)


def create_race(cfg: RaceConfig, boot_id: str, event: int | None = None,
                heat: int | None = None, setup_ns: int | None = None) -> RaceRow:
    row = RaceRow.create(name=cfg.name, created_at=time.time(), config=config_to_json(cfg),
                         boot_id=boot_id, event=event, heat=heat, setup_ns=setup_ns)
    touched.races.add(row.id)
    return row


def create_heat_event(*, name: str, drivers: list[str], lanes: list[int], duration_s: int,
                      pause_s: int, min_lap_ms: int, car_class: str) -> HeatEventRow:
    row = HeatEventRow.create(name=name, created_at=time.time(), drivers=json.dumps(drivers),
                              lanes=json.dumps(lanes), duration_s=duration_s, pause_s=pause_s,
                              min_lap_ms=min_lap_ms, car_class=car_class)
    touched.heat_events.add(row.id)
    return row


def save_plan(race_id: int, plan: StartPlan) -> None:
    RaceRow.update(red_ns=json.dumps(list(plan.red_ns)), green_ns=plan.green_ns).where(
        RaceRow.id == race_id).execute()
    touched.races.add(race_id)


def add_control(race_id: int, ctl: Control) -> None:
    row = ControlRow.create(race=race_id, kind=ctl.kind.value, t_ns=ctl.t_ns,
                            entrant=ctl.entrant, value=ctl.value)
    touched.controls.add(row.id)


def set_phase(race_id: int, phase: str) -> None:
    RaceRow.update(phase=phase).where(RaceRow.id == race_id).execute()
    touched.races.add(race_id)


def set_override(pass_id: int, mode: str | None) -> None:
    PassRow.update(override=mode).where(PassRow.id == pass_id).execute()
    touched.passes.add(pass_id)


def record_outcome(race_id: int, out: Outcome) -> None:
    """Store a counted lap (laps are a cache of the scoring, kept for fast reads)."""
    if out.kind.value == "lap":
        row = _insert_lap.execute(race_id, out.pass_id, out.entrant, out.lap, out.lap_ns,
                                  out.t_ns, out.neutralised).fetchone()
        touched.laps.add(row[0])


def rewrite_outcomes(race_id: int, outcomes: dict[int, Outcome]) -> None:
    """After a re-score: laps are derived data, so replace them all."""
    LapRow.delete().where(LapRow.race == race_id).execute()
    touched.laps_replaced.add(race_id)
    for out in outcomes.values():
        record_outcome(race_id, out)


def quarantine(race_id: int, lane: int, car: int | None, t_ns: int, source: str,
               reason: str, received_ns: int) -> bool:
    """Keep a refused pass aside; False if this very one is kept already (a redelivery)."""
    rows = list(QuarantineRow.insert(race=race_id, lane=lane, car=car, t_ns=t_ns,
                                     source=source, reason=reason[:200],
                                     received_ns=received_ns)
                .on_conflict_ignore().returning(QuarantineRow.id).execute())
    if rows and rows[0].id % 500 == 0:  # now and then: only the newest are kept
        QuarantineRow.delete().where(QuarantineRow.id <= rows[0].id - QUARANTINE_KEEP) \
            .execute()
    return bool(rows)


def refused_count(race_id: int) -> int:
    return QuarantineRow.select().where(QuarantineRow.race == race_id).count()


def refused_of(race_id: int, limit: int = 100) -> list[QuarantineRow]:
    """A race's refused passes, the newest first."""
    return list(QuarantineRow.select().where(QuarantineRow.race == race_id)
                .order_by(QuarantineRow.id.desc()).limit(limit))


def command_seen(command_id: str) -> bool:
    """Record a command id; True if it had been processed before."""
    rows = list(CommandRow.insert(command_id=command_id).on_conflict_ignore()
                .returning(CommandRow.id).execute())
    return not rows


# ---------------------------------------------------------------- reads
def newest_race() -> RaceRow | None:
    """The race the service takes up after a restart (shown even when it has ended)."""
    return RaceRow.select().order_by(RaceRow.id.desc()).first()


def race_of_pass(pass_id: int) -> int | None:
    row = PassRow.get_or_none(PassRow.id == pass_id)
    return row.race_id if row else None


def load_race_logs(row: RaceRow):
    """(config, plan, controls, crossings) of a stored race, for the core to re-score."""
    plan = None
    if row.green_ns is not None:
        plan = StartPlan(red_ns=tuple(json.loads(row.red_ns)), green_ns=row.green_ns)
    controls = [Control(ControlKind(c.kind), c.t_ns, c.entrant, c.value)
                for c in ControlRow.select().where(ControlRow.race == row.id)
                .order_by(ControlRow.id)]
    crossings = [Crossing(p.id, p.lane, p.car,
                          p.t_ns if p.corrected_ns is None else p.corrected_ns, p.override)
                 for p in PassRow.select(PassRow.id, PassRow.lane, PassRow.car, PassRow.t_ns,
                                         PassRow.override, PassRow.corrected_ns)
                 .where(PassRow.race == row.id).order_by(PassRow.id).namedtuples()]
    return config_from_json(row.config), plan, controls, crossings


def laps_of(race_id: int) -> list[LapRow]:
    return list(LapRow.select().where(LapRow.race == race_id)
                .order_by(LapRow.t_ns, LapRow.id))


def record_laps(exclude_race: int | None = None) -> list[RecordLap]:
    """Each driver's best lap of every stored race that can hold a record.

    Not eligible: aborted races, endurance races (a team's laps belong to several
    drivers), laps under a flag, and laps ending at a crossing the director added or
    re-timed (a hand-given time is not a measured one). One query, grouped per race and
    entrant, so it stays quick with years of laps.
    """
    best = fn.MIN(LapRow.lap_ns)
    rows = (LapRow.select(LapRow.race, LapRow.entrant, best.alias("best"))
            .join(PassRow, JOIN.INNER, on=(LapRow.passing == PassRow.id))
            .switch(LapRow).join(RaceRow, JOIN.INNER, on=(LapRow.race == RaceRow.id))
            .where(~LapRow.neutralised, PassRow.source != "manual",
                   PassRow.corrected_ns.is_null(), RaceRow.phase != "aborted",
                   RaceRow.id != (exclude_race or 0))
            .group_by(LapRow.race, LapRow.entrant).namedtuples())
    rows = list(rows)
    configs = {race.id: config_from_json(race.config) for race in
               RaceRow.select(RaceRow.id, RaceRow.config)
               .where(RaceRow.id.in_({r.race for r in rows}))}
    out = []
    for r in rows:
        cfg = configs[r.race] if configs[r.race].mode != "endurance" else None
        if cfg is None:
            continue
        driver = next((e.driver for e in cfg.entrants if e.key == r.entrant), "")
        out.append(RecordLap(driver=driver, lap_ns=r.best, race_id=r.race, t_ns=0,
                             car_class=cfg.car_class))
    return out
