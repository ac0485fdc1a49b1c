"""The captive portal, through a real uvicorn: each OS's probe before and after the tap,
per client (loopback source addresses 127.0.0.x stand in for phones), RFC 8908, the
lease file, restarts, foreign host names.

The expected answers are written out here byte for byte, not imported from the code,
so a change to what a phone receives fails a test.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os

import httpx
import pytest

from pitwall.api.app import create_app
from pitwall.api.portal_clients import Leases

from .conftest import api_settings
from .live_support import serve

APPLE_SUCCESS = b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
FIREFOX_CANONICAL = (b'<meta http-equiv="refresh" '
                     b'content="0;url=https://support.mozilla.org/kb/captive-portal"/>')

# (OS, host the phone asks, path, status, body, content type) of a working network.
PROBES = [
    ("android", "connectivitycheck.gstatic.com", "/generate_204", 204, b"", None),
    ("android-google", "www.google.com", "/gen_204", 204, b"", None),
    ("apple", "captive.apple.com", "/hotspot-detect.html", 200, APPLE_SUCCESS, "text/html"),
    ("apple-library", "www.apple.com", "/library/test/success.html", 200, APPLE_SUCCESS,
     "text/html"),
    ("apple-any-path", "captive.apple.com", "/", 200, APPLE_SUCCESS, "text/html"),
    ("windows", "www.msftconnecttest.com", "/connecttest.txt", 200, b"Microsoft Connect Test",
     "text/plain"),
    ("windows-ncsi", "www.msftncsi.com", "/ncsi.txt", 200, b"Microsoft NCSI", "text/plain"),
    ("firefox", "detectportal.firefox.com", "/canonical.html", 200, FIREFOX_CANONICAL,
     "text/html"),
    ("firefox-success", "detectportal.firefox.com", "/success.txt", 200, b"success\n",
     "text/plain"),
]
_phones = (f"127.0.0.{n}" for n in itertools.count(10))


def new_phone() -> str:
    """A loopback address no earlier test has used: a phone that never tapped through."""
    return next(_phones)


@contextlib.contextmanager
def phone(base: str, ip: str):
    """An HTTP client whose requests come from ``ip`` (as a phone on the hotspot would)."""
    transport = httpx.HTTPTransport(local_address=ip)
    with httpx.Client(base_url=base, transport=transport, timeout=10,
                      follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def leases(tmp_path_factory):
    path = tmp_path_factory.mktemp("leases") / "dnsmasq.leases"
    path.write_text("")
    return path


@pytest.fixture(scope="module")
def settings(broker, tmp_path_factory, leases):
    tmp = tmp_path_factory.mktemp("portal")
    return api_settings(tmp, broker.port, hotspot={"leases_file": str(leases),
                                                   "portal_ttl_s": 3600})


@pytest.fixture(scope="module")
def base(settings):
    with serve(create_app(settings)) as address:
        yield f"http://{address}"


def write_leases(path, *entries: tuple[str, str]) -> None:
    """dnsmasq's format: expiry mac ip hostname clientid."""
    text = "".join(f"1900000000 {mac} {ip} phone-{i} 01:{mac}\n"
                   for i, (mac, ip) in enumerate(entries))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # as dnsmasq does: a new file, so the mtime changes


def accept(client: httpx.Client) -> dict:
    r = client.post("/api/portal/accept", headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def assert_portal_redirect(r: httpx.Response, board: str) -> None:
    assert r.status_code == 302, (r.status_code, r.text)
    assert r.headers["location"] == f"{board}portal.html"
    assert "no-store" in r.headers["cache-control"]


# ---------------------------------------------------------------- probes
@pytest.mark.parametrize(("os_name", "host", "path", "status", "body", "media"), PROBES,
                         ids=[p[0] for p in PROBES])
def test_a_captive_phone_is_sent_to_the_portal_then_told_it_is_online(
        base, os_name, host, path, status, body, media):
    with phone(base, new_phone()) as c:
        # The probe names a foreign host: the board's name is the hotspot's (pitwall.lan).
        assert_portal_redirect(c.get(path, headers={"Host": host}), "http://pitwall.lan/")
        accept(c)
        r = c.get(path, headers={"Host": host})
        assert r.status_code == status
        assert r.content == body
        if media:
            assert r.headers["content-type"].split(";")[0] == media
        assert "no-store" in r.headers["cache-control"]


def test_a_redirect_under_the_boards_own_address_stays_there(base):
    with phone(base, new_phone()) as c:
        assert_portal_redirect(c.get("/generate_204"), f"{base}/")


def test_another_phone_is_still_captive_after_one_taps_through(base):
    with phone(base, new_phone()) as a, phone(base, new_phone()) as b:
        accept(a)
        assert a.get("/generate_204").status_code == 204
        assert b.get("/generate_204").status_code == 302
        assert b.get("/api/captive").json()["captive"] is True


# ---------------------------------------------------------------- RFC 8908
def test_the_captive_api_flips_per_phone(base):
    with phone(base, new_phone()) as c:
        r = c.get("/api/captive")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/captive+json"
        assert r.headers["cache-control"] == "private"
        assert r.json() == {"captive": True, "user-portal-url": f"{base}/portal.html",
                            "venue-info-url": f"{base}/", "can-extend-session": False}
        after = accept(c)
        assert after["captive"] is False
        assert 3590 <= after["seconds-remaining"] <= 3600  # portal_ttl_s
        r = c.get("/api/captive")
        assert r.json()["captive"] is False
        assert r.headers["content-type"] == "application/captive+json"


# ---------------------------------------------------------------- tap-through
def test_the_tap_through_is_public_idempotent_and_small(base, settings):
    store = os.path.join(settings.data_dir, "portal-clients.json")
    with phone(base, new_phone()) as c:
        # No director token, no cookie: still accepted.
        accept(c)
        written = os.stat(store).st_mtime_ns
        for _ in range(20):  # a flood of taps from one phone writes nothing more
            accept(c)
        assert os.stat(store).st_mtime_ns == written
        assert os.stat(store).st_mode & 0o777 == 0o600
        r = c.post("/api/portal/accept", content=b"x" * 100_000)
        assert r.status_code == 413
        assert r.json()["status_code"] == 413


def test_the_form_without_javascript_comes_back_to_the_page(base):
    with phone(base, new_phone()) as c:
        r = c.post("/api/portal/accept", data={},
                   headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert r.status_code == 303
        assert r.headers["location"] == "/portal.html?online=1"
        assert c.get("/generate_204").status_code == 204


# ---------------------------------------------------------------- foreign hosts
def test_a_foreign_host_goes_to_the_portal_then_to_the_board(base):
    with phone(base, new_phone()) as c:
        for path in ("/", "/some/page?q=1", "/redirect"):  # /redirect: Windows opens it
            assert_portal_redirect(c.get(path, headers={"Host": "example.com"}),
                                   "http://pitwall.lan/")
        # The board's own address keeps serving the web app and the portal page.
        assert c.get("/").status_code == 200
        page = c.get("/portal.html")
        assert page.status_code == 200 and b"/js/portal.js" in page.content
        accept(c)
        r = c.get("/", headers={"Host": "example.com:80"})
        assert r.status_code == 302 and r.headers["location"] == "http://pitwall.lan/"
        # The API answers under any name (tools, and option 114's URL).
        assert c.get("/api/health", headers={"Host": "example.com"}).status_code == 200


# ---------------------------------------------------------------- identity and storage
def test_a_phone_is_known_by_its_mac_when_the_lease_file_says(base, leases):
    first, second, third = new_phone(), new_phone(), new_phone()
    mac, other_mac = "aa:bb:cc:00:11:22", "aa:bb:cc:33:44:55"
    write_leases(leases, (mac, first))
    try:
        with phone(base, first) as c:
            accept(c)
        # The phone comes back with a new address; another phone gets its old one.
        write_leases(leases, (mac.upper(), second), (other_mac, first))
        with phone(base, second) as c:
            assert c.get("/generate_204").status_code == 204
        with phone(base, first) as c:
            assert c.get("/generate_204").status_code == 302
        with phone(base, third) as c:  # not in the lease file: by IP, and it never tapped
            assert c.get("/generate_204").status_code == 302
    finally:
        write_leases(leases)


@pytest.mark.parametrize("garbage", [
    b"not a lease file\n\x00\xff\xfe garbage",
    b"1900000000 zz:zz:zz:zz:zz:zz 127.0.0.1 x *\nduid 00:01\n",
    b"x" * 2_000_000,  # bigger than any real lease file
    None,  # a directory where the file should be
])
def test_a_garbled_lease_file_leaves_phones_known_by_ip(base, leases, garbage):
    if garbage is None:
        leases.unlink()
        leases.mkdir()
    else:
        leases.write_bytes(garbage)
    try:
        with phone(base, new_phone()) as c, phone(base, new_phone()) as other:
            assert c.get("/generate_204").status_code == 302
            accept(c)
            assert c.get("/generate_204").status_code == 204
            assert other.get("/generate_204").status_code == 302
    finally:
        if leases.is_dir():
            leases.rmdir()
        write_leases(leases)


def test_the_state_survives_an_api_restart(broker, tmp_path):
    settings = api_settings(tmp_path, broker.port,
                            hotspot={"leases_file": str(tmp_path / "none")})
    a, b = new_phone(), new_phone()
    with serve(create_app(settings)) as address, phone(f"http://{address}", a) as c:
        accept(c)
    with serve(create_app(settings)) as address:
        with phone(f"http://{address}", a) as c:
            assert c.get("/generate_204").status_code == 204
            assert c.get("/api/captive").json()["captive"] is False
        with phone(f"http://{address}", b) as c:
            assert c.get("/generate_204").status_code == 302


def test_an_unreadable_state_file_means_the_portal_again_not_a_crash(broker, tmp_path):
    settings = api_settings(tmp_path, broker.port)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "portal-clients.json").write_text('{"clients": [{"ip": 1}]}')
    with serve(create_app(settings)) as address, \
            phone(f"http://{address}", new_phone()) as c:
        assert c.get("/generate_204").status_code == 302
        accept(c)
        assert c.get("/generate_204").status_code == 204


def test_a_hostile_host_header_is_foreign_and_never_echoed(base):
    with phone(base, new_phone()) as c:
        for host in ('127.0.0.1:"><script>x</script>', "127.0.0.1:8o8o", "a b"):
            r = c.get("/", headers={"Host": host})
            # Refused outright (Litestar: 400 with a detail), or treated as a foreign name.
            if r.status_code == 400:
                assert r.json()["detail"]
            else:
                assert_portal_redirect(r, "http://pitwall.lan/")
            assert b"<script>" not in r.content and "script" not in r.headers.get("location", "")


# ---------------------------------------------------------------- the lease file, directly
def test_the_lease_file_is_parsed_leniently_and_complained_about_once(tmp_path, caplog):
    path = tmp_path / "leases"
    path.write_text("1900000000 AA:BB:CC:DD:EE:FF 10.77.0.11 phone *\n"
                    "duid 00:01:00:01:2c:2f:1a:2b\n"
                    "garbage line\n"
                    "\n"
                    "0 11:22:33:44:55:66 10.77.0.12 * 01:11:22:33:44:55:66\n")
    leases = Leases(path)
    with caplog.at_level(logging.WARNING, logger="pitwall.api.portal_clients"):
        for _ in range(5):
            assert leases.mac_of("10.77.0.11") == "aa:bb:cc:dd:ee:ff"
            assert leases.mac_of("10.77.0.12") == "11:22:33:44:55:66"
            assert leases.mac_of("10.77.0.13") is None
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: 1 line(s) not in dnsmasq's lease format were skipped"]
    write_leases(path, ("aa:bb:cc:dd:ee:ff", "10.77.0.13"))  # dnsmasq rewrote it
    assert leases.mac_of("10.77.0.13") == "aa:bb:cc:dd:ee:ff"
    assert leases.mac_of("10.77.0.11") is None
