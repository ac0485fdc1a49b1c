"""Storage for the API: the lap service's race tables (read only) and the setup data the
API writes itself (drivers, cars, the default grid).

Race data has one writer, the lap service; the API only reads it. Drivers, cars and
assignments are setup data with no timing in them, so the API owns those tables. Both
live in the same database (SQLite in WAL mode lets the API read while the lap service
writes; or PostgreSQL through ``database_url``).

Peewee connections are per thread: every request opens and closes its own inside the
handler (``with db.connection_context():``), never in a dependency that may run on
another thread.
"""

from __future__ import annotations

from peewee import CharField, Database, ForeignKeyField, IntegerField

from pitwall.laps import store
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


SETUP_MODELS = [DriverRow, CarRow, AssignmentRow]


def open_database(settings: Settings) -> Database:
    """Bind the race and setup models, create missing tables, and leave no connection
    open (requests open their own)."""
    db = store.open_database(settings.data_dir, settings.database_url)
    db.bind(SETUP_MODELS)
    db.create_tables(SETUP_MODELS, safe=True)
    db.close()
    return db
