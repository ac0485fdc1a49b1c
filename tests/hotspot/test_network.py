"""The race Wi-Fi end to end, in network namespaces: the real dnsmasq with the rendered
file, the rendered nftables rules, the real API, and phones taking a DHCP lease with
busybox udhcpc and fetching pages with curl. Root only (see conftest.py)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import needs_root_and_tools
from .netns import HotspotLab, run

pytestmark = needs_root_and_tools

ADDRESS = "10.77.0.1"
API_PORT = 8080
BOARD = "pitwall.lan"
PORTAL_API = f"http://{ADDRESS}/api/captive"
RESOLV = Path("/etc/resolv.conf")


def _fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


# Taken when the module is imported, before any namespace or DHCP client exists.
HOST_RESOLV_BEFORE = _fingerprint(RESOLV) if RESOLV.exists() else None


def lab_settings(tmp: Path) -> dict:
    return {
        "data_dir": str(tmp / "data"),
        "director_pin": "2468",
        "api": {"port": API_PORT, "public_url": f"http://{BOARD}/"},
        "mqtt": {"port": 1883},
        "wifi": {"ssid": "Race Net", "passphrase": "go fast now", "country": "GB"},
        # br0 stands in for wlan0: the phones' veth ends are its ports.
        "hotspot": {"interface": "br0", "address": ADDRESS, "board_host": BOARD,
                    "leases_file": str(tmp / "dnsmasq.leases")},
    }


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hotspot")
    hotspot = HotspotLab(tmp, lab_settings(tmp), phones=2)
    request.addfinalizer(hotspot.close)  # also if the set-up below fails half way
    try:
        hotspot.render()
        hotspot.build_network(ADDRESS, 24, "br0")
        hotspot.load_firewall()
        hotspot.start_dnsmasq()
        hotspot.start_api(mqtt_port=1883)
        hotspot.start_internet_host()
        with ThreadPoolExecutor() as pool:  # phones join at the same time, as they do
            list(pool.map(lambda phone: phone.dhcp(), hotspot.phones))
        phone1, phone2 = hotspot.phones
        phone1.set_resolver(phone1.lease["dns"].split()[0])  # what a phone does
        phone2.set_resolver("8.8.8.8")  # a phone with a hard-coded resolver
        hotspot.wait_http(f"http://{ADDRESS}:{API_PORT}/api/health")
        yield hotspot
    finally:
        hotspot.close()


def test_a_phone_gets_a_lease_with_the_pi_as_gateway_and_dns_and_option_114(lab):
    for phone in lab.phones:
        lease = phone.lease
        assert lease["router"].split()[0] == ADDRESS
        assert lease["dns"].split()[0] == ADDRESS
        assert lease["mask"] == "24"
        assert 10 <= int(lease["ip"].rsplit(".", 1)[1]) <= 250
        assert bytes.fromhex(lease["opt114"]).decode() == PORTAL_API
    # The lease file the captive portal reads knows each phone by MAC and IP.
    leases = Path(lab.settings_data["hotspot"]["leases_file"]).read_text()
    for phone in lab.phones:
        assert re.search(rf"^\d+ {phone.mac} {re.escape(phone.lease['ip'])} ", leases, re.M), \
            leases


@pytest.mark.parametrize("name", [
    "connectivitycheck.gstatic.com", "www.google.com", "captive.apple.com",
    "www.msftconnecttest.com", "detectportal.firefox.com", BOARD, "example.org",
    "no-such-name.invalid",
])
def test_every_name_resolves_to_the_pi(lab, name):
    assert lab.phones[0].dig(name) == [ADDRESS]


def test_dnsmasq_answers_on_the_hotspot_interface_only(lab):
    listening = lab.pi.run("ss", "-Hlnu", "sport", "= :53").stdout
    assert f"{ADDRESS}:53" in listening and "127.0.0.1:53" not in listening, listening


def test_windows_dns_check_gets_its_fixed_answer(lab):
    assert lab.phones[0].dig("dns.msftncsi.com") == ["131.107.255.255"]


def test_ipv6_names_get_an_empty_answer_and_the_board_has_a_reverse_name(lab):
    phone = lab.phones[0]
    assert phone.dig("captive.apple.com", "AAAA") == []
    assert phone.dig(f"{ADDRESS.split('.')[3]}.0.77.10.in-addr.arpa", "PTR") == [f"{BOARD}."]


def test_a_phone_with_a_hard_coded_resolver_is_answered_by_the_pi(lab):
    phone = lab.phones[1]
    assert "nameserver 8.8.8.8" in Path(f"/etc/netns/{phone.name}/resolv.conf").read_text()
    assert phone.dig("connectivitycheck.gstatic.com") == [ADDRESS]  # via its resolv.conf
    assert phone.dig("example.com", server="1.1.1.1") == [ADDRESS]
    tcp = phone.run("dig", "+short", "+tcp", "+time=2", "+tries=1", "@9.9.9.9", "a.example")
    assert tcp.stdout.split() == [ADDRESS], tcp.stdout + tcp.stderr


def test_plain_http_to_any_address_lands_on_the_api(lab):
    for phone, url in ((lab.phones[0], f"http://{BOARD}/api/health"),
                       (lab.phones[0], f"http://{ADDRESS}/api/health"),
                       (lab.phones[1], "http://203.0.113.5/api/health")):
        status, headers, body = phone.http(url)
        assert status == 200, (url, body)
        assert "laps_online" in json.loads(body), body


def test_nothing_is_forwarded_even_with_forwarding_switched_on(lab):
    phone, pi = lab.phones[1], lab.pi
    target = f"http://{lab.INTERNET_HOST}:{lab.INTERNET_PORT}/"
    assert pi.run("sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"

    def reaches_internet() -> bool:
        proc = phone.run("curl", "-s", "--connect-timeout", "1", "--max-time", "2", target)
        return proc.returncode == 0 and "the internet" in proc.stdout

    assert not reaches_internet()
    run(["ip", "netns", "exec", pi.name, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    try:
        assert not reaches_internet()  # the forward chain's drop policy holds
        # Control: without the Pi's rules the same request gets through, so the two
        # checks above can fail.
        run(["ip", "netns", "exec", pi.name, "nft", "delete", "table", "inet",
             "pitwall_hotspot"])
        assert reaches_internet()
        # ... and a hard-coded resolver is no longer answered.
        dig = phone.run("dig", "+short", "+time=1", "+tries=1", "@1.1.1.1", "example.com")
        assert dig.returncode != 0 and ADDRESS not in dig.stdout
    finally:
        run(["ip", "netns", "exec", pi.name, "sysctl", "-qw", "net.ipv4.ip_forward=0"])
        lab.load_firewall()
    assert pi.run("nft", "list", "chain", "inet", "pitwall_hotspot", "forward").returncode == 0


def test_a_phone_reaches_only_dhcp_dns_the_api_and_mdns(lab):
    """A service bound to 0.0.0.0 on the Pi (Mosquitto, SSH, ...) is not reachable from
    the Wi-Fi; the API's own port is. Control: without the rules the same service is."""
    phone, pi = lab.phones[0], lab.pi
    port = 18099
    server = pi.start(sys.executable, "-m", "http.server", "--bind", "0.0.0.0", str(port),
                      log=lab.tmp / "other-service.log")
    try:
        def reaches(url: str) -> bool:
            proc = phone.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                             "--connect-timeout", "1", "--max-time", "2", url)
            return proc.returncode == 0 and proc.stdout.strip() == "200"

        other = f"http://{ADDRESS}:{port}/"
        deadline = time.monotonic() + 5
        while pi.run("curl", "-s", "-o", "/dev/null", other).returncode != 0:
            assert time.monotonic() < deadline, "the stand-in service did not start"
            time.sleep(0.1)
        assert not reaches(other)
        assert reaches(f"http://{ADDRESS}:{API_PORT}/api/health")
        assert reaches(f"http://{ADDRESS}/api/health")
        run(["ip", "netns", "exec", pi.name, "nft", "delete", "chain", "inet",
             "pitwall_hotspot", "input"])
        try:
            assert reaches(other)
        finally:
            lab.load_firewall()
        assert not reaches(other)
        dropped = pi.run("nft", "list", "chain", "inet", "pitwall_hotspot", "from_hotspot")
        assert re.search(r"counter packets [1-9]\d* bytes \d+ drop", dropped.stdout), \
            dropped.stdout
    finally:
        server.terminate()
        server.wait(5)


# (OS, probe URL, the exact answer of a working network). The phone opens its portal
# sheet when the answer differs; it stays on the network when it matches.
PROBES = [
    ("Android", "http://connectivitycheck.gstatic.com/generate_204", 204, b""),
    ("Android/Chrome", "http://www.google.com/gen_204", 204, b""),
    ("Apple", "http://captive.apple.com/hotspot-detect.html", 200,
     b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"),
    ("Windows", "http://www.msftconnecttest.com/connecttest.txt", 200,
     b"Microsoft Connect Test"),
    ("Windows (old)", "http://www.msftncsi.com/ncsi.txt", 200, b"Microsoft NCSI"),
    ("Firefox", "http://detectportal.firefox.com/canonical.html", 200,
     b'<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'),
    ("Firefox", "http://detectportal.firefox.com/success.txt", 200, b"success\n"),
]


def captive_state(phone, url: str = PORTAL_API) -> dict:
    status, headers, body = phone.http(url)
    assert status == 200, body
    assert headers["content-type"].startswith("application/captive+json"), headers
    return json.loads(body)


def test_probes_open_the_portal_then_say_online_after_the_tap(lab):
    phone, other = lab.phones
    portal_page = f"http://{BOARD}/portal.html"
    for os_name, url, _, _ in PROBES:
        status, headers, _ = phone.http(url)
        assert (status, headers.get("location")) == (302, portal_page), (os_name, url, status)
    status, headers, page = phone.http(portal_page)  # what the portal sheet shows
    assert status == 200 and headers["content-type"].startswith("text/html"), status
    state = captive_state(phone)
    assert state["captive"] is True and state["user-portal-url"] == portal_page

    status, _, body = phone.http(f"http://{BOARD}/api/portal/accept", method="POST",
                                 headers=("Accept: application/json",))
    assert status == 200, body

    for os_name, url, online_status, online_body in PROBES:
        status, _, body = phone.http(url)
        assert (status, body) == (online_status, online_body), (os_name, url, status, body)
    assert captive_state(phone)["captive"] is False
    assert captive_state(phone, f"http://{BOARD}/api/captive")["captive"] is False

    # The phone with a hard-coded resolver has not tapped: still captive, by name and
    # by a cached address alike.
    for url in ("http://connectivitycheck.gstatic.com/generate_204",
                "http://203.0.113.5/generate_204"):
        status, headers, _ = other.http(url)
        assert (status, headers.get("location")) == (302, portal_page), url
    assert captive_state(other)["captive"] is True


def test_host_resolv_conf_is_untouched(lab):
    """Last in the module: every DHCP client and resolver change has happened by now."""
    assert HOST_RESOLV_BEFORE is not None
    assert _fingerprint(RESOLV) == HOST_RESOLV_BEFORE


def test_the_lab_cleans_up_after_a_failure(tmp_path):
    lab = HotspotLab(tmp_path, lab_settings(tmp_path), phones=1)
    with pytest.raises(RuntimeError, match="boom"), lab:
        lab.render()
        lab.build_network(ADDRESS, 24, "br0")
        dnsmasq = lab.start_dnsmasq()
        lab.phones[0].dhcp()
        raise RuntimeError("boom")
    assert dnsmasq.poll() is not None
    for ns in lab.namespaces():
        assert not ns.exists()
        assert not Path(f"/etc/netns/{ns.name}").exists()
