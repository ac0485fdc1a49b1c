"""The same API and lap service on PostgreSQL (``database_url``): a race run through the
API and read back, and the setup data. Skipped, with the reason, where no PostgreSQL
server binaries or no psycopg2 are installed."""

from __future__ import annotations

import time
import uuid

import pytest

from pitwall.dev.postgres import Postgres, server_bin

from .conftest import PIN, api_stack
from .test_races import publish_pass, start_race, wait_json

S = 1_000_000_000


@pytest.fixture(scope="module")
def postgres():
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver is an optional extra "
                        "(.venv/bin/pip install -e 'services[postgres]'); without it "
                        "Peewee cannot reach PostgreSQL")
    if server_bin() is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    with Postgres() as pg:
        yield pg.create("pitwall")


@pytest.fixture(scope="module")
def pg_stack(broker, postgres, tmp_path_factory):
    with api_stack(broker, tmp_path_factory.mktemp("api-pg"), database_url=postgres) as stack:
        yield stack


def test_a_race_and_setup_data_on_postgresql(pg_stack):
    with pg_stack.client() as public:
        deadline = time.monotonic() + 10
        while not public.get("/api/health").json()["laps_online"]:
            assert time.monotonic() < deadline, pg_stack.laps.output()
            time.sleep(0.05)
        token = public.post("/api/auth/login", json={"pin": PIN}).json()["token"]
        with pg_stack.client(token) as director:
            ann = director.post("/api/drivers", json={"name": f"Ann {uuid.uuid4().hex[:4]}"})
            assert ann.status_code == 201, ann.text
            car = director.post("/api/cars", json={"name": "Car", "car_id": 1,
                                                   "driver_id": ann.json()["id"]})
            assert car.status_code == 201
            assert director.post("/api/cars", json={"name": "Dup", "car_id": 1}).status_code \
                == 409
            race_id, green = start_race(director, public, mode="laps", laps=2, entrant="car",
                                        min_lap_ms=1000, entrants=[{"car": 1, "driver": "Ann"}])
            times = [green + 3 * S + 1, green + 3 * S + 2, green + 6 * S + 3]
            for t in times:
                publish_pass(pg_stack, 1, 1, t)
            wait_json(public, "/api/races/current",
                      lambda s: s["race_id"] == race_id and s["phase"] == "finished",
                      what=f"finish; lap service log: {pg_stack.laps.output()[-2000:]}")
            laps = public.get(f"/api/races/{race_id}/laps").json()
            assert [(x["lap"], x["lap_ns"], x["t_ns"]) for x in laps] == [
                (1, times[0] - green, times[0]), (2, times[2] - times[0], times[2])]
            kinds = [p["kind"] for p in public.get(f"/api/races/{race_id}/passes").json()]
            assert kinds == ["lap", "suspect", "lap"]
            assert public.get(f"/api/races/{race_id}").json()["standings"][0]["finished"]
