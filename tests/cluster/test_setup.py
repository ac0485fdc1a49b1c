"""The cluster's set-up on real engines, fast enough for make test: ``pitwall cluster
init`` and ``add-track`` make a CA, a certificate and logins that the real central
Mosquitto takes; a track's login reaches its own topics over TLS and nothing else; the
bridge and HAProxy files come out of the settings, and bad values are refused."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import getpass

import pytest
from paho.mqtt.client import CallbackAPIVersion, Client

from pitwall.bus.mqtt import no_delay
from pitwall.cluster import render
from pitwall.dev.broker import Mosquitto, free_port, mosquitto_binary, port_open

from ..conftest import make_settings


def pitwall(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pitwall", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def central(tmp_path):
    folder = tmp_path / "central"
    tls, local = free_port(), free_port()
    r = pitwall("cluster", "init", "--dir", str(folder), "--host", "127.0.0.1",
                "--tls-port", str(tls), "--local-port", str(local), "--bind", "127.0.0.1")
    assert r.returncode == 0, r.stderr
    tables = {}
    for track in ("a", "b"):
        r = pitwall("cluster", "add-track", track, "--dir", str(folder), "--host",
                    "127.0.0.1", "--tls-port", str(tls))
        assert r.returncode == 0, r.stderr
        tables[track] = r.stdout
    conf = folder / "mosquitto.conf"
    conf.write_text(conf.read_text() + f"user {getpass.getuser()}\n")
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if port_open("127.0.0.1", tls):
                break
            threading.Event().wait(0.05)
        yield folder, tls, tables
    finally:
        proc.terminate()
        proc.wait(10)


def tls_client(folder, tls: int, user: str, password: str) -> tuple[Client, list, dict]:
    got, result = [], {}
    c = Client(CallbackAPIVersion.VERSION2, client_id=f"test-{user}")
    c.tls_set(ca_certs=str(folder / "ca.pem"), cert_reqs=ssl.CERT_REQUIRED)
    c.username_pw_set(user, password)
    c.on_connect = lambda cl, u, f, rc, p: result.setdefault("rc", rc)
    c.on_message = lambda cl, u, msg: got.append(msg.topic)
    c.connect("127.0.0.1", tls)
    c.loop_start()
    return c, got, result


def password_of(table: str) -> str:
    return table.split('password = "')[1].split('"')[0]


def track_a(central) -> dict:
    """The ``[cluster]`` settings of track a, as ``add-track`` printed them."""
    folder, tls, tables = central
    return {"track": "a", "central_host": "127.0.0.1", "central_port": tls,
            "cafile": str(folder / "ca.pem"), "password": password_of(tables["a"])}


def test_a_track_login_reaches_its_own_topics_over_tls_only(central):
    folder, tls, tables = central
    assert "a" in (folder / "acl").read_text() and "tracks/b/#" in (folder / "acl").read_text()
    assert password_of(tables["a"]) != password_of(tables["b"])
    assert password_of(tables["a"]) not in (folder / "passwd").read_text()  # only a hash
    a, got_a, res_a = tls_client(folder, tls, "a", password_of(tables["a"]))
    b, got_b, res_b = tls_client(folder, tls, "b", password_of(tables["b"]))
    wrong, _, res_wrong = tls_client(folder, tls, "a", "not-the-password")
    try:
        for _ in range(100):
            if "rc" in res_a and "rc" in res_b and "rc" in res_wrong:
                break
            threading.Event().wait(0.05)
        assert not res_a["rc"].is_failure and not res_b["rc"].is_failure
        assert res_wrong["rc"].is_failure
        a.subscribe("tracks/#", qos=1)  # granted, but the ACL passes it only a's topics
        threading.Event().wait(0.3)
        b.publish("tracks/b/race/state", b"{}", qos=1).wait_for_publish(5)
        # Track b writing into track a's topics: refused (Mosquitto drops such a client).
        b.publish("tracks/a/race/command", b"{}", qos=1)
        threading.Event().wait(0.3)
        a.publish("tracks/a/race/state", b"{}", qos=1).wait_for_publish(5)
        for _ in range(100):
            if "tracks/a/race/state" in got_a:
                break
            threading.Event().wait(0.05)
        threading.Event().wait(0.2)
        assert got_a == ["tracks/a/race/state"]  # nothing of b's, and not b's command
    finally:
        for c in (a, b, wrong):
            c.loop_stop()
            c.disconnect()


def test_the_bridge_comes_from_the_settings_and_bad_values_are_refused(tmp_path, central):
    folder, tls, tables = central
    cluster = track_a(central)
    settings = make_settings(tmp_path, 1883, "pitwall", cluster=cluster)
    conf = render.bridge_conf(settings)
    assert "topic # out 1 pitwall/ tracks/a/" in conf
    assert "topic race/command in 1 pitwall/ tracks/a/" in conf
    assert "topic archive/ack in 1 pitwall/ tracks/a/" in conf  # the journal's receipts
    assert f"address 127.0.0.1:{tls}" in conf and "bridge_insecure false" in conf
    assert "cleansession false" in conf and "queue_qos0_messages true" in conf
    for bad in ({"central_host": "x address evil:1"}, {"password": ""},
                {"password": "a b"}):
        s = make_settings(tmp_path, 1883, "pitwall", cluster={**cluster, **bad})
        with pytest.raises(render.ClusterError):
            render.bridge_conf(s)
    with pytest.raises(render.ClusterError, match="not a cluster track"):
        render.bridge_conf(make_settings(tmp_path, 1883, "pitwall"))
    out = tmp_path / "bridge.conf"
    r = pitwall("--config", str(tmp_path / "pitwall.toml"), "cluster", "bridge-conf",
                "--out", str(out))
    assert r.returncode == 2 and "not a cluster track" in r.stderr  # the last config written


def test_haproxy_configuration_passes_haproxys_own_check(tmp_path):
    cfg = render.haproxy_cfg([render.Frontend("a", "127.0.0.1:8081",
                                              ("127.0.0.1:8101", "127.0.0.1:8102"))])
    assert "option httpchk GET /api/ready" in cfg and "balance leastconn" in cfg
    assert cfg.count("server a-") == 2
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if os.path.exists(haproxy):  # make test-cluster installs it
        path = tmp_path / "haproxy.cfg"
        path.write_text(cfg)
        r = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    with pytest.raises(render.ClusterError):
        render.haproxy_cfg([render.Frontend("a", "127.0.0.1:8081", ())])
    with pytest.raises(render.ClusterError):
        render.haproxy_cfg([render.Frontend("A B", "127.0.0.1:8081", ("x:1",))])


def test_a_lap_crosses_the_bridge_acknowledged_so_its_state_follows_at_once(tmp_path, central):
    """race/lap is QoS 0 on the track; over the bridge it goes as QoS 1
    (``upgrade_outgoing_qos``), so the central broker acknowledges it at once and the
    state published right after it is not held by Nagle's algorithm on the bridge's
    socket for the central host's delayed ACK (about 40 ms: docs/scale-out.md)."""
    folder, tls, tables = central
    cluster = track_a(central)
    settings = make_settings(tmp_path, 1883, "pitwall", cluster=cluster)
    track = Mosquitto(persistence=True, workdir=tmp_path / "track",
                      extra=render.bridge_conf(settings)).start()
    watcher, got, result = tls_client(folder, tls, "a", password_of(tables["a"]))
    arrivals: list[tuple[str, int, int]] = []
    watcher.on_message = lambda cl, u, msg: arrivals.append(
        (msg.topic, msg.qos, time.monotonic_ns()))
    publisher = Client(CallbackAPIVersion.VERSION2, client_id="test-lap-service")
    try:
        watcher.subscribe("tracks/a/race/#", qos=1)
        publisher.connect("127.0.0.1", track.port)
        no_delay(publisher)  # as the lap service's own client
        publisher.loop_start()
        deadline = time.monotonic() + 20
        while not any(t == "tracks/a/race/state" for t, _, _ in arrivals):  # bridge up
            assert time.monotonic() < deadline, "the bridge did not come up"
            publisher.publish("pitwall/race/state", b"{}", qos=1, retain=True)
            time.sleep(0.5)
        arrivals.clear()
        for _ in range(5):  # as the lap service: the lap, then at once its state
            publisher.publish("pitwall/race/lap", b'{"lap":1}', qos=0)
            publisher.publish("pitwall/race/state", b'{"laps":1}', qos=1, retain=True)
            time.sleep(0.3)
        laps = [(q, at) for t, q, at in arrivals if t == "tracks/a/race/lap"]
        states = [at for t, _, at in arrivals if t == "tracks/a/race/state"]
        assert len(laps) == 5 and len(states) == 5
        assert {q for q, _ in laps} == {1}  # upgraded on the bridge
        gaps_ms = sorted((s - at) / 1e6 for (_, at), s in zip(laps, states, strict=True))
        # Held by Nagle it would be ~40 ms every time; the median keeps a busy moment
        # of the machine from deciding the test.
        assert gaps_ms[2] < 20, gaps_ms
    finally:
        for c in (watcher, publisher):
            c.loop_stop()
            c.disconnect()
        track.stop()
