"""Storage for the API: the lap service's race tables (read only) and the setup data the
API writes itself (drivers, cars, the default grid).

Race data has one writer, the lap service; the API only reads it. Drivers, cars,
assignments and championships (a points table and the list of its rounds) are setup data
with no timing in them, so the API owns those tables. Both
live in the same database (SQLite in WAL mode lets the API read while the lap service
writes; or PostgreSQL through ``database_url``).

Peewee connections are per thread: every request opens and closes its own inside the
handler (``with db.connection_context():``), never in a dependency that may run on
another thread.
"""

from __future__ import annotations

from peewee import CharField, Database, DoubleField, ForeignKeyField, IntegerField, TextField

from pitwall.laps import engine, store
from pitwall.settings import Settings


class DriverRow(store.BaseModel):
    name = CharField(max_length=60)
    color = CharField(max_length=7, default="")  # "#rrggbb", or "" for the board's choice

    class Meta:
        table_name = "driver"


class CarRow(store.BaseModel):
    name = CharField(max_length=60)
    car_id = IntegerField(null=True, unique=True)  # digital ID; null for analog cars
    driver = ForeignKeyField(DriverRow, null=True, on_delete="SET NULL")

    class Meta:
        table_name = "car"


class AssignmentRow(store.BaseModel):
    """The default grid: who usually drives which lane or car (pre-fills a race setup)."""

    lane = IntegerField(null=True)
    car = IntegerField(null=True)
    driver = ForeignKeyField(DriverRow, on_delete="CASCADE")

    class Meta:
        table_name = "assignment"


class ChampionshipRow(store.BaseModel):
    """A season: its points table; its rounds are races or heat events (RoundRow)."""

    name = CharField(max_length=80)
    points = TextField()  # JSON list: points for 1st, 2nd, …
    fastest_lap = IntegerField(default=0)
    drop_worst = IntegerField(default=0)
    created_at = DoubleField()

    class Meta:
        table_name = "championship"


class RoundRow(store.BaseModel):
    """One round, in the order added: a race or a heat-rotation event (one of the two)."""

    championship = ForeignKeyField(ChampionshipRow, backref="rounds", on_delete="CASCADE")
    race = ForeignKeyField(store.RaceRow, null=True, on_delete="SET NULL")
    event = ForeignKeyField(store.HeatEventRow, null=True, on_delete="SET NULL")

    class Meta:
        table_name = "championship_round"


SETUP_MODELS = [DriverRow, CarRow, AssignmentRow, ChampionshipRow, RoundRow]


def open_database(settings: Settings) -> Database:
    """Bind the race and setup models, create missing tables, and leave no connection
    open (requests open their own)."""
    db = store.open_database(settings.data_dir, settings.database_url)
    db.bind(SETUP_MODELS)
    ensure_tables(db)
    return db


def ensure_tables(db: Database) -> None:
    """Create the setup tables a database lacks (a new one, or a restored older backup)."""
    with db.connection_context():
        engine.create_tables(db, SETUP_MODELS)
