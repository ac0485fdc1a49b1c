"""Drivers, cars and the default grid: the setup data the API writes itself; bad input is
a 4xx with a reason, never a 500."""

from __future__ import annotations

import pytest


def test_drivers_cars_and_grid_round_trip(stack, director, public):
    ann = director.post("/api/drivers", json={"name": "Ann", "color": "#ff8800"}).json()
    bob = director.post("/api/drivers", json={"name": "Bob"}).json()
    assert ann["name"] == "Ann" and bob["color"] == ""
    r = director.put(f"/api/drivers/{bob['id']}", json={"name": "Bobby", "color": "#0000ff"})
    assert r.status_code == 200 and r.json() == {"id": bob["id"], "name": "Bobby",
                                                 "color": "#0000ff"}
    car = director.post("/api/cars", json={"name": "Red Ferrari", "car_id": 3,
                                           "driver_id": ann["id"]}).json()
    assert car["car_id"] == 3 and car["driver_id"] == ann["id"]
    analog = director.post("/api/cars", json={"name": "Old Mini"}).json()
    assert analog["car_id"] is None
    grid = [{"lane": 1, "driver_id": ann["id"]}, {"car": 3, "driver_id": bob["id"]}]
    r = director.put("/api/assignments", json=grid)
    assert r.status_code == 200
    assert public.get("/api/assignments").json() == [
        {"lane": 1, "car": None, "driver_id": ann["id"]},
        {"lane": None, "car": 3, "driver_id": bob["id"]}]
    assert [d["name"] for d in public.get("/api/drivers").json()] == ["Ann", "Bobby"]

    # Removing a driver keeps their car (unassigned) and drops their grid slots.
    assert director.delete(f"/api/drivers/{ann['id']}").status_code == 204
    cars = {c["id"]: c for c in public.get("/api/cars").json()}
    assert cars[car["id"]]["driver_id"] is None and analog["id"] in cars
    assert public.get("/api/assignments").json() == [
        {"lane": None, "car": 3, "driver_id": bob["id"]}]
    assert director.delete(f"/api/cars/{analog['id']}").status_code == 204
    assert analog["id"] not in {c["id"] for c in public.get("/api/cars").json()}


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [
    ("POST", "/api/drivers", {"name": ""}, 400, "length"),
    ("POST", "/api/drivers", {"name": "Ann", "color": "red"}, 400, "color"),
    ("POST", "/api/drivers", {"name": "Ann", "age": 9}, 400, "age"),
    ("POST", "/api/drivers", "not json", 400, ""),
    ("PUT", "/api/drivers/987654", {"name": "Nobody"}, 404, "no driver"),
    ("DELETE", "/api/drivers/987654", None, 404, "no driver"),
    ("PUT", "/api/drivers/0", {"name": "Zero"}, 400, "driver_id"),
    ("POST", "/api/cars", {"name": "Car", "car_id": 256}, 400, "car_id"),
    ("POST", "/api/cars", {"name": "Car", "driver_id": 987654}, 400, "no driver"),
    ("PUT", "/api/cars/987654", {"name": "Car"}, 404, "no car"),
    ("PUT", "/api/assignments", [{"driver_id": 1}], 400, "exactly one"),
    ("PUT", "/api/assignments", [{"lane": 1, "car": 2, "driver_id": 1}], 400, "exactly one"),
    ("PUT", "/api/assignments", [{"lane": 99, "driver_id": 1}], 400, "<= 64"),
    ("PUT", "/api/assignments", {"lane": 1}, 400, ""),
    ("POST", "/api/races", {"mode": "drag"}, 400, "mode"),
    ("POST", "/api/races", {"laps": 0}, 400, "laps"),
    ("POST", "/api/races", {"entrants": [{"car": 1, "colour": "red"}]}, 400, "colour"),
    ("POST", "/api/races/current/launch", None, 400, "action"),
    ("POST", "/api/passes/0/delete", None, 400, "pass_id"),
    ("POST", "/api/auth/login", {"pin": 1234}, 400, "pin"),
    ("GET", "/api/races?limit=0", None, 400, "limit"),
    ("GET", "/api/races/abc", None, 404, ""),
    ("GET", "/api/races/99999999999999999999", None, 400, "race_id"),
])
def test_bad_input_is_a_4xx_with_a_reason(director, method, path, body, status, says):
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    r = director.request(method, path, **({} if body is None else kwargs))
    assert r.status_code == status, r.text
    assert r.json()["status_code"] == status
    assert says in r.text


def test_a_car_id_belongs_to_one_car(director):
    assert director.post("/api/cars", json={"name": "A", "car_id": 7}).status_code == 201
    r = director.post("/api/cars", json={"name": "B", "car_id": 7})
    assert r.status_code == 409 and "car ID 7" in r.json()["detail"]
