"""The director's login and the guard on every write."""

from __future__ import annotations

import contextlib
import re
import tempfile
import time

import httpx
import pytest
import srp
from litestar.testing import TestClient
from peewee import SqliteDatabase

from pitwall.api import director_login
from pitwall.api.app import create_app
from pitwall.api.auth import COOKIE, Auth
from pitwall.dev.broker import free_port
from pitwall.settings import Settings

from ..support import ServiceProcess
from .conftest import PIN, api_settings
from .director import SignedSession, log_in, prove
from .live_support import serve

READS = {"get", "head", "options"}
# Logging in and out are writes anyone may make (they change no data); so is a phone's
# tap through the captive portal (it changes only that phone's own portal answer).
PUBLIC_WRITES = {"login", "loginChallenge", "loginVerify", "logout", "acceptPortal"}


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
    """The app in-process: its client ("testclient") is not the box, like a phone."""
    with TestClient(create_app(api_settings(tmp_path, broker.port))) as client:
        yield client


@contextlib.contextmanager
def local_api(settings):
    """The app on a real uvicorn at 127.0.0.1: its clients are the box itself."""
    with serve(create_app(settings)) as base, httpx.Client(base_url=f"http://{base}",
                                                           timeout=10) as client:
        yield client


def test_login_sets_a_strict_http_only_cookie_and_both_ways_in_work(tmp_path, broker):
    with local_api(api_settings(tmp_path, broker.port)) as c:
        assert c.post("/api/auth/login", json={"pin": "0000"}).status_code == 401
        r = c.post("/api/auth/login", json={"pin": PIN})
        assert r.status_code == 200
        token = r.json()["token"]
        assert len(token) >= 40 and r.json()["expires_s"] == 24 * 3600
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={token};")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        c.cookies.set(COOKIE, token)
        assert c.get("/api/auth/me").json() == {"director": True}  # by cookie
        assert c.post("/api/drivers", json={"name": "Ann"}).status_code == 201
        c.cookies.clear()
        assert c.get("/api/auth/me").json() == {"director": False}
        bearer = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/auth/me", headers=bearer).json() == {"director": True}
        assert c.post("/api/drivers", json={"name": "Bob"}, headers=bearer).status_code == 201
        assert c.post("/api/auth/logout", headers=bearer).status_code == 200
        assert c.post("/api/drivers", json={"name": "Cat"}, headers=bearer).status_code == 401


def test_the_plain_pin_and_its_tokens_work_only_from_the_box(tmp_path, broker):
    """A phone on the Wi-Fi cannot send the PIN in clear, nor use a token: both could be
    sniffed. The same data folder served to a phone (TestClient) and to the box."""
    settings = api_settings(tmp_path, broker.port)
    with local_api(settings) as box:
        token = box.post("/api/auth/login", json={"pin": PIN}).json()["token"]
    with TestClient(create_app(settings)) as phone:
        r = phone.post("/api/auth/login", json={"pin": PIN})
        assert r.status_code == 403 and "/api/auth/challenge" in r.json()["detail"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert phone.get("/api/auth/me", headers=bearer).json() == {"director": False}
        phone.cookies.set(COOKIE, token)
        assert phone.post("/api/drivers", json={"name": "Ann"}).status_code == 401


def test_the_challenge_login_never_sends_the_pin_and_signs_each_request(app_client):
    sent: list[bytes] = []
    app_client.event_hooks["request"] = [
        lambda req: sent.append(str(req.headers).encode() + req.read())]
    assert prove(app_client, "0000").status_code == 401  # a wrong PIN is refused
    session = log_in(app_client, PIN)
    assert app_client.get("/api/auth/me").json() == {"director": True}
    r = app_client.post("/api/drivers", json={"name": "Ann"})
    assert r.status_code == 201, r.text
    # Not in any header or body, as a token of its own: the four digits can also turn up
    # inside the exchange's long hex numbers, by chance.
    alone = re.compile(rb"(?<![0-9a-fA-F])" + PIN.encode() + rb"(?![0-9a-fA-F])")
    assert not any(alone.search(raw) for raw in sent)
    assert not any(b"Bearer" in raw or COOKIE.encode() in raw for raw in sent)

    # A sniffed request, sent again byte for byte, is refused...
    replay = r.request
    again = app_client.send(httpx.Request(replay.method, replay.url, headers=replay.headers,
                                          content=replay.content), auth=None)
    assert again.status_code == 401
    # ...and so is its signature on another body or path, or with no signature at all.
    forged = dict(replay.headers)
    for url, body in ((replay.url, b'{"name":"Eve"}'),
                      (replay.url.copy_with(path="/api/cars"), replay.content)):
        r = app_client.send(httpx.Request("POST", url, headers=forged, content=body),
                            auth=None)
        assert r.status_code == 401, r.text
    assert app_client.post("/api/drivers", json={"name": "Bob"}, auth=None).status_code == 401
    names = [d["name"] for d in app_client.get("/api/drivers").json()]
    assert names.count("Ann") == 1 and "Eve" not in names

    # A stale time stamp (a request kept for later) is refused too.
    app_client.auth = SignedSession(session.sid, session.key, session.offset - 600)
    assert app_client.post("/api/drivers", json={"name": "Dan"}).status_code == 401
    app_client.auth = session
    assert app_client.post("/api/auth/logout").status_code == 200
    assert app_client.post("/api/drivers", json={"name": "Dan"}).status_code == 401


def test_a_challenge_is_good_for_one_try_and_a_minute(tmp_path):
    clock = {"wall": 1000.0}
    auth = Auth(PIN, 600, tmp_path / "t.json", clock=lambda: clock["wall"])
    challenge, salt, B = auth.challenge("10.0.0.9")
    user = srp.User(director_login.USER, PIN, hash_alg=srp.SHA256, ng_type=srp.NG_2048)
    _, A = user.start_authentication()
    M = user.process_challenge(salt, B)
    clock["wall"] += 61
    with pytest.raises(Exception, match="expired"):
        auth.verify(challenge, A, M, "10.0.0.9")
    clock["wall"] -= 61
    assert auth.verify(challenge, A, M, "10.0.0.9")
    with pytest.raises(Exception, match="expired"):  # replayed: used already
        auth.verify(challenge, A, M, "10.0.0.9")
    # Another replica of the same data folder answers a challenge this one issued.
    challenge, salt, B = auth.challenge("10.0.0.9")
    user = srp.User(director_login.USER, PIN, hash_alg=srp.SHA256, ng_type=srp.NG_2048)
    _, A = user.start_authentication()
    M = user.process_challenge(salt, B)
    other = Auth(PIN, 600, tmp_path / "t.json", clock=lambda: clock["wall"])
    sid, hamk = other.verify(challenge, A, M, "10.0.0.9")
    user.verify_session(hamk)
    fields = {"sid": sid, "ts": str(int(clock["wall"])), "nonce": "ab" * 16}
    key = director_login.signing_key(user.get_session_key())
    fields["sig"] = director_login.signature(key, "POST", "/api/x", fields["ts"],
                                             fields["nonce"], b"{}")
    assert auth.signed(fields, "POST", "/api/x", b"{}")  # signed on one, checked on another


def test_five_wrong_pins_lock_the_client_out_for_a_minute(app_client):
    c = app_client
    for _ in range(5):
        assert prove(c, "9999").status_code == 401
    r = prove(c, PIN)  # even the right PIN, now
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "try again" in r.json()["detail"]


def srp_login(auth: Auth, pin: str, client: str) -> str:
    """The challenge login straight on an Auth: the session id."""
    challenge, salt, B = auth.challenge(client)
    user = srp.User(director_login.USER, pin, hash_alg=srp.SHA256, ng_type=srp.NG_2048)
    _, A = user.start_authentication()
    return auth.verify(challenge, A, user.process_challenge(salt, B), client)[0]


def test_lockout_ends_after_the_window_and_logins_expire():
    clock = {"wall": 1000.0, "mono": 50.0}
    auth = Auth("1234", 600, None, clock=lambda: clock["wall"], monotonic=lambda: clock["mono"],
                local_clients=["10.0.0.7/32"])
    for _ in range(5):
        with pytest.raises(Exception, match="wrong PIN"):
            srp_login(auth, "1111", "10.0.0.9")
    with pytest.raises(Exception, match="too many"):
        srp_login(auth, "1234", "10.0.0.9")
    assert srp_login(auth, "1234", "10.0.0.8")  # another phone is not locked out
    token = auth.login("1234", "10.0.0.7")  # nor the box
    clock["mono"] += 60
    assert srp_login(auth, "1234", "10.0.0.9")
    assert auth.valid(token)
    clock["wall"] += 601
    assert not auth.valid(token)


def test_many_addresses_together_are_locked_out_but_the_box_is_not(tmp_path, broker):
    """On an open /24 an attacker rotates addresses: twenty wrong PINs from all of them
    in a minute lock out every address but the box's own. Real uvicorn, each client from
    its own loopback address (only 127.0.0.1 is the box here)."""
    settings = api_settings(tmp_path, broker.port, api={"local_clients": ["127.0.0.1/32"]})
    with serve(create_app(settings)) as base:
        def client(n: int) -> httpx.Client:
            transport = httpx.HTTPTransport(local_address=f"127.0.0.{n}")
            return httpx.Client(base_url=f"http://{base}", transport=transport, timeout=10)

        for n in range(2, 7):  # five addresses, four guesses each: none locked by itself
            with client(n) as c:
                for _ in range(4):
                    assert prove(c, "0000").status_code == 401
        with client(7) as c:  # a new address, the right PIN: refused for now
            r = prove(c, PIN)
            assert r.status_code == 429, r.text
            assert 1 <= int(r.headers["retry-after"]) <= 60
        with client(1) as box:  # the TV/kiosk on the box itself still gets in
            assert prove(box, PIN).status_code == 200
            assert box.post("/api/auth/login", json={"pin": PIN}).status_code == 200
        # The box's own wrong PINs lock only the box, and only after five.
        with client(1) as box:
            for _ in range(5):
                assert box.post("/api/auth/login", json={"pin": "0000"}).status_code == 401
            assert box.post("/api/auth/login", json={"pin": PIN}).status_code == 429


def test_x_forwarded_for_is_not_believed(tmp_path, broker):
    """``pitwall api`` itself (uvicorn trusts X-Forwarded-For from loopback by default):
    five wrong PINs from one address claiming five others still lock it out."""
    port = free_port()
    api_settings(tmp_path, broker.port, api={"local_clients": [], "port": port,
                                              "host": "127.0.0.1"})
    api = ServiceProcess(tmp_path / "pitwall.toml", "api").start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if c.get("/api/health").status_code == 200:
                        break
                assert api.alive() and time.monotonic() < deadline, api.output()
                time.sleep(0.1)
            for n in range(5):
                c.headers["X-Forwarded-For"] = f"10.9.9.{n + 10}"
                assert prove(c, "0000").status_code == 401
            c.headers["X-Forwarded-For"] = "10.9.9.99"
            assert prove(c, PIN).status_code == 429
    finally:
        api.stop()


def test_a_restart_keeps_directors_logged_in_and_a_new_pin_logs_them_out(tmp_path, broker):
    settings = api_settings(tmp_path, broker.port)
    with local_api(settings) as c:
        token = c.post("/api/auth/login", json={"pin": PIN}).json()["token"]
    with TestClient(create_app(settings)) as c:
        sid = log_in(c, PIN).sid
    tokens_file = tmp_path / "data" / "api-tokens.json"
    assert oct(tokens_file.stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "data" / "api-login.key").stat().st_mode & 0o777) == "0o600"
    assert token not in tokens_file.read_text()  # only a keyed hash is stored
    assert sid not in tokens_file.read_text()
    bearer = {"Authorization": f"Bearer {token}"}
    with local_api(settings) as c:
        assert c.get("/api/auth/me", headers=bearer).json() == {"director": True}
    settings.director_pin = "135790"
    with local_api(settings) as c:
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
    box = ["10.0.0.0/24"]
    one, two = Auth(PIN, 3600, path, local_clients=box), Auth(PIN, 3600, path, local_clients=box)
    first = one.login(PIN, "10.0.0.2")
    second = two.login(PIN, "10.0.0.3")  # written after reading what `one` wrote
    assert one.valid(first) and two.valid(first)
    assert one.valid(second) and two.valid(second)
    two.logout(first)
    assert not one.valid(first) and one.valid(second)
    assert Auth(PIN, 3600, path, local_clients=box).valid(second)  # and a third, started later


def test_the_401s_are_in_the_openapi_document():
    paths = app_document()["paths"]
    for method, path, op in WRITES:
        operation = paths[path][method.lower()]
        assert "401" in operation["responses"], op
        assert operation["security"] == [{"director": []}], op
    assert "401" in paths["/api/maintenance/clients"]["get"]["responses"]  # director_read
    assert "401" not in paths["/api/drivers"]["get"]["responses"]  # a public read
    assert {"401", "403", "429"} <= paths["/api/auth/login"]["post"]["responses"].keys()


@pytest.mark.parametrize("path", ["/index.html%00.js", "/%00", "/js/api.js%00",
                                  "/api/drivers%00"])
def test_a_nul_byte_in_the_path_is_404_not_500(stack, public, path):
    r = public.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text)
