"""Setup data the director keeps: drivers, cars, and the default grid (assignments).

The API writes these tables itself (they hold no timing); races copy what they need
into their own setup, so editing a driver never changes a stored result.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import peewee
from litestar import delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.params import JSONBody, PathParameter
from msgspec import Meta

from pitwall import contract
from pitwall.api.database import AssignmentRow, CarRow, DriverRow

RowId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="database id")]
Name = Annotated[str, Meta(min_length=1, max_length=60)]
Color = Annotated[str, Meta(pattern=r"^(#[0-9a-fA-F]{6})?$", description="#rrggbb or empty")]
DriverRef = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class DriverIn(_In, kw_only=True):
    name: Name
    color: Color = ""


class Driver(msgspec.Struct, kw_only=True):
    id: int
    name: str
    color: str


class CarIn(_In, kw_only=True):
    name: Name
    car_id: contract.CarId | None = None
    driver_id: DriverRef | None = None


class Car(msgspec.Struct, kw_only=True):
    id: int
    name: str
    car_id: int | None
    driver_id: int | None


class Assignment(_In, kw_only=True):
    """Who usually drives a lane (analog) or a car (digital): exactly one of the two."""

    lane: contract.LaneNo | None = None
    car: contract.CarId | None = None
    driver_id: DriverRef


def driver_view(row: DriverRow) -> Driver:
    return Driver(id=row.id, name=row.name, color=row.color)


def car_view(row: CarRow) -> Car:
    return Car(id=row.id, name=row.name, car_id=row.car_id, driver_id=row.driver_id)


def _check_driver(driver_id: int | None) -> None:
    if driver_id is not None and not DriverRow.select().where(DriverRow.id == driver_id).exists():
        raise ClientException(f"no driver {driver_id}")


def _car_taken(exc: peewee.IntegrityError, car_id: int | None) -> HTTPException:
    return HTTPException(status_code=409, detail=f"car ID {car_id} belongs to another car")


# ---------------------------------------------------------------- drivers
@get("/api/drivers", operation_id="listDrivers", summary="Drivers, by name",
     sync_to_thread=True, tags=["club"])
def list_drivers(state: State) -> list[Driver]:
    with state.db.connection_context():
        return [driver_view(r) for r in DriverRow.select().order_by(DriverRow.name, DriverRow.id)]


@post("/api/drivers", operation_id="addDriver", summary="Add a driver (director)",
      sync_to_thread=True, tags=["club"])
def add_driver(data: JSONBody[DriverIn], state: State) -> Driver:
    with state.db.connection_context():
        return driver_view(DriverRow.create(name=data.name, color=data.color))


@put("/api/drivers/{driver_id:int}", operation_id="updateDriver",
     summary="Rename or recolour a driver (director)", sync_to_thread=True, tags=["club"])
def update_driver(driver_id: RowId, data: JSONBody[DriverIn], state: State) -> Driver:
    with state.db.connection_context():
        if not DriverRow.update(name=data.name, color=data.color).where(
                DriverRow.id == driver_id).execute():
            raise NotFoundException(f"no driver {driver_id}")
        return driver_view(DriverRow.get_by_id(driver_id))


@delete("/api/drivers/{driver_id:int}", operation_id="deleteDriver",
        summary="Remove a driver (their cars keep running, unassigned) (director)",
        sync_to_thread=True, tags=["club"])
def delete_driver(driver_id: RowId, state: State) -> None:
    with state.db.connection_context(), state.db.atomic():
        # Explicit rather than relying on ON DELETE (SQLite needs foreign_keys=1 for that).
        CarRow.update(driver=None).where(CarRow.driver == driver_id).execute()
        AssignmentRow.delete().where(AssignmentRow.driver == driver_id).execute()
        if not DriverRow.delete().where(DriverRow.id == driver_id).execute():
            raise NotFoundException(f"no driver {driver_id}")


# ---------------------------------------------------------------- cars
@get("/api/cars", operation_id="listCars", summary="Cars, by name", sync_to_thread=True,
     tags=["club"])
def list_cars(state: State) -> list[Car]:
    with state.db.connection_context():
        return [car_view(r) for r in CarRow.select().order_by(CarRow.name, CarRow.id)]


@post("/api/cars", operation_id="addCar", summary="Add a car (director)", sync_to_thread=True,
      tags=["club"])
def add_car(data: JSONBody[CarIn], state: State) -> Car:
    with state.db.connection_context(), state.db.atomic():
        _check_driver(data.driver_id)
        try:
            with state.db.atomic():
                row = CarRow.create(name=data.name, car_id=data.car_id, driver=data.driver_id)
        except peewee.IntegrityError as exc:
            raise _car_taken(exc, data.car_id) from None
        return car_view(row)


@put("/api/cars/{car_row:int}", operation_id="updateCar", summary="Change a car (director)",
     sync_to_thread=True, tags=["club"])
def update_car(car_row: RowId, data: JSONBody[CarIn], state: State) -> Car:
    with state.db.connection_context(), state.db.atomic():
        _check_driver(data.driver_id)
        try:
            with state.db.atomic():
                changed = CarRow.update(name=data.name, car_id=data.car_id,
                                        driver=data.driver_id).where(
                    CarRow.id == car_row).execute()
        except peewee.IntegrityError as exc:
            raise _car_taken(exc, data.car_id) from None
        if not changed:
            raise NotFoundException(f"no car {car_row}")
        return car_view(CarRow.get_by_id(car_row))


@delete("/api/cars/{car_row:int}", operation_id="deleteCar", summary="Remove a car (director)",
        sync_to_thread=True, tags=["club"])
def delete_car(car_row: RowId, state: State) -> None:
    with state.db.connection_context():
        if not CarRow.delete().where(CarRow.id == car_row).execute():
            raise NotFoundException(f"no car {car_row}")


# ---------------------------------------------------------------- default grid
@get("/api/assignments", operation_id="listAssignments",
     summary="The default grid: who drives which lane or car", sync_to_thread=True,
     tags=["club"])
def list_assignments(state: State) -> list[Assignment]:
    with state.db.connection_context():
        rows = list(AssignmentRow.select())
    # Lanes first, then cars (sorted here: SQL engines disagree on where NULLs go).
    rows.sort(key=lambda r: (r.lane is None, r.lane or 0, r.car or 0))
    return [Assignment(lane=r.lane, car=r.car, driver_id=r.driver_id) for r in rows]


@put("/api/assignments", operation_id="setAssignments",
     summary="Replace the default grid (director)", sync_to_thread=True, tags=["club"])
def set_assignments(data: JSONBody[Annotated[list[Assignment], Meta(max_length=256)]],
                    state: State) -> list[Assignment]:
    seen = set()
    for a in data:
        if (a.lane is None) == (a.car is None):
            raise ClientException("each assignment names exactly one of lane or car")
        key = ("lane", a.lane) if a.lane is not None else ("car", a.car)
        if key in seen:
            raise ClientException(f"{key[0]} {key[1]} is assigned twice")
        seen.add(key)
    with state.db.connection_context(), state.db.atomic():
        for driver_id in {a.driver_id for a in data}:
            _check_driver(driver_id)
        AssignmentRow.delete().execute()
        for a in data:
            AssignmentRow.create(lane=a.lane, car=a.car, driver=a.driver_id)
    return data


route_handlers = [list_drivers, add_driver, update_driver, delete_driver, list_cars, add_car,
                  update_car, delete_car, list_assignments, set_assignments]
