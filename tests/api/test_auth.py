"""The director's login and the guard on every write."""

from __future__ import annotations

import re
import tempfile

import pytest
from litestar.testing import TestClient
from peewee import SqliteDatabase

from pitwall.api.app import create_app
from pitwall.api.auth import COOKIE, Auth
from pitwall.settings import Settings

from .conftest import PIN, api_settings

READS = {"get", "head", "options"}
# Logging in and out are writes anyone may make (they change no data); so is a phone's
# tap through the captive portal (it changes only that phone's own portal answer).
PUBLIC_WRITES = {"login", "logout", "acceptPortal"}


def app_document() -> dict:
    """The app's OpenAPI document, built without a server (for parametrising tests)."""
    app = create_app(Settings(data_dir=tempfile.mkdtemp()), db=SqliteDatabase(":memory:"))
    return app.openapi_schema.to_schema()


def write_operations() -> list[tuple[str, str, str]]:
    """(method, path, operation id) of every write in the OpenAPI document."""
    ops = []
    for path, item in app_document()["paths"].items():
        for method, op in item.items():
            if method in READS or not isinstance(op, dict) or "operationId" not in op:
                continue
            if op["operationId"] not in PUBLIC_WRITES:
                ops.append((method.upper(), path, op["operationId"]))
    return ops


WRITES = write_operations()


def test_the_write_list_is_complete():
    ids = {op for _, _, op in WRITES}
    assert {"setUpRace", "controlRace", "reinstatePass", "deletePass", "addDriver",
            "updateDriver", "deleteDriver", "addCar", "updateCar", "deleteCar",
            "setAssignments"} <= ids


def concrete(path: str) -> str:
    path = re.sub(r"\{\w+_(id|row)\}", "1", path)
    path = re.sub(r"\{(entrant|no)\}", "1", path)
    return re.sub(r"\{decision\}", "confirm", re.sub(r"\{action\}", "start", path))


@pytest.mark.parametrize(("method", "path", "op"), WRITES, ids=[w[2] for w in WRITES])
def test_every_write_needs_the_director(stack, public, method, path, op):
    for headers in ({}, {"Authorization": "Bearer not-a-token"},
                    {"Cookie": f"{COOKIE}=forged"}):
        r = public.request(method, concrete(path), headers=headers, json={})
        assert r.status_code == 401, (op, headers, r.text)
        assert "log in" in r.json()["detail"]


@pytest.fixture
def app_client(tmp_path, broker):
    with TestClient(create_app(api_settings(tmp_path, broker.port))) as client:
        yield client


def test_login_sets_a_strict_http_only_cookie_and_both_ways_in_work(app_client):
    c = app_client
    assert c.post("/api/auth/login", json={"pin": "0000"}).status_code == 401
    r = c.post("/api/auth/login", json={"pin": PIN})
    assert r.status_code == 200
    token = r.json()["token"]
    assert len(token) >= 40 and r.json()["expires_s"] == 24 * 3600
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={token};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert c.get("/api/auth/me").json() == {"director": True}  # by cookie
    assert c.post("/api/drivers", json={"name": "Ann"}).status_code == 201
    c.cookies.clear()
    assert c.get("/api/auth/me").json() == {"director": False}
    bearer = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/auth/me", headers=bearer).json() == {"director": True}
    assert c.post("/api/drivers", json={"name": "Bob"}, headers=bearer).status_code == 201
    assert c.post("/api/auth/logout", headers=bearer).status_code == 200
    assert c.post("/api/drivers", json={"name": "Cat"}, headers=bearer).status_code == 401


def test_five_wrong_pins_lock_the_client_out_for_a_minute(app_client):
    c = app_client
    for _ in range(5):
        assert c.post("/api/auth/login", json={"pin": "9999"}).status_code == 401
    r = c.post("/api/auth/login", json={"pin": PIN})  # even the right PIN, now
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "try again" in r.json()["detail"]


def test_lockout_ends_after_the_window_and_logins_expire():
    clock = {"wall": 1000.0, "mono": 50.0}
    auth = Auth("1234", 600, None, clock=lambda: clock["wall"], monotonic=lambda: clock["mono"])
    for _ in range(5):
        with pytest.raises(Exception, match="wrong PIN"):
            auth.login("1111", "10.0.0.9")
    with pytest.raises(Exception, match="too many"):
        auth.login("1234", "10.0.0.9")
    token = auth.login("1234", "10.0.0.7")  # another phone is not locked out
    clock["mono"] += 60
    assert auth.login("1234", "10.0.0.9")
    assert auth.valid(token)
    clock["wall"] += 601
    assert not auth.valid(token)


def test_a_restart_keeps_directors_logged_in_and_a_new_pin_logs_them_out(tmp_path, broker):
    settings = api_settings(tmp_path, broker.port)
    with TestClient(create_app(settings)) as c:
        token = c.post("/api/auth/login", json={"pin": PIN}).json()["token"]
    tokens_file = tmp_path / "data" / "api-tokens.json"
    assert oct(tokens_file.stat().st_mode & 0o777) == "0o600"
    assert token not in tokens_file.read_text()  # only a keyed hash is stored
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/auth/me", headers=bearer).json() == {"director": True}
    settings.director_pin = "135790"
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/auth/me", headers=bearer).json() == {"director": False}


def test_without_a_pin_nobody_can_log_in_or_write(tmp_path, broker):
    with TestClient(create_app(api_settings(tmp_path, broker.port, director_pin=""))) as c:
        r = c.post("/api/auth/login", json={"pin": ""})
        assert r.status_code == 400  # an empty PIN is a bad request, not a login
        r = c.post("/api/auth/login", json={"pin": "1234"})
        assert r.status_code == 503 and "director_pin" in r.json()["detail"]
        assert c.post("/api/drivers", json={"name": "Ann"}).status_code == 401
        assert c.get("/api/info").json()["director_pin_set"] is False


def test_replicas_sharing_the_token_file_share_the_logins(tmp_path):
    """API replicas of one track (docs/scale-out.md) share <data_dir>/api-tokens.json: a
    login on one is valid on the others, a logout on one ends it on all."""
    path = tmp_path / "api-tokens.json"
    one, two = Auth(PIN, 3600, path), Auth(PIN, 3600, path)
    first = one.login(PIN, "10.0.0.2")
    second = two.login(PIN, "10.0.0.3")  # written after reading what `one` wrote
    assert one.valid(first) and two.valid(first)
    assert one.valid(second) and two.valid(second)
    two.logout(first)
    assert not one.valid(first) and one.valid(second)
    assert Auth(PIN, 3600, path).valid(second)  # and a third, started later
