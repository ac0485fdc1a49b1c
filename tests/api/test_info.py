"""Health, track info, the Wi-Fi QR code, the web app at /, the OpenAPI document, and
what the API says when the lap service does not answer."""

from __future__ import annotations

import time

import segno.helpers
from litestar.testing import TestClient

from pitwall import contract
from pitwall.api import commands
from pitwall.api.app import create_app

from ..support import MqttProbe
from .director import log_in
from .conftest import PIN, api_settings


def test_health_and_info(stack, public):
    assert public.get("/api/health").json() == {"ok": True, "laps_online": True, "mqtt": True}
    info = public.get("/api/info").json()
    assert info["track_name"] == "Pitwall" and info["director_pin_set"] is True
    assert info["wifi"] == {"ssid": "Race Net", "qr_svg": "/api/wifi/qr.svg"}
    assert info["board_url"] == stack.url + "/"
    assert info["lanes"] == [] and info["version"]


def test_wifi_qr_code(stack, public):
    r = public.get("/api/wifi/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.lstrip().startswith("<?xml") and "Join Wi-Fi Race Net" in r.text
    # What the code holds: special characters escaped as the WIFI: scheme wants.
    assert segno.helpers.make_wifi_data(ssid="Race Net", password="go;fast:now",
                                        security="WPA") == r"WIFI:T:WPA;S:Race Net;P:go\;fast\:now;;"


def test_openapi_document_names_and_summarises_every_operation(public):
    doc = public.get("/schema/openapi.json").json()
    ops = [op for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(ops) >= 20
    assert all(op.get("operationId") and op.get("summary") for op in ops)
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))


def test_web_app_is_served_at_root(public):
    r = public.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()


def test_without_wifi_or_web_app_the_api_says_so(tmp_path, broker):
    settings = api_settings(tmp_path, broker.port, wifi={},
                            api={"webui_dir": str(tmp_path / "nowhere")},
                            track_lanes=4, track_name="Club track")
    with TestClient(create_app(settings)) as c:
        r = c.get("/")
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/plain")
        assert "nowhere" in r.text and "api.webui_dir" in r.text
        assert c.get("/api/wifi/qr.svg").status_code == 404
        info = c.get("/api/info").json()
        assert info["wifi"] is None and info["lanes"] == [1, 2, 3, 4]
        assert info["track_name"] == "Club track"
        # No lap service has ever published: the live race is idle.
        current = c.get("/api/races/current").json()
        assert current["race_id"] is None and current["phase"] == "idle"


def test_no_answer_from_the_lap_service_is_504(tmp_path, broker, monkeypatch):
    monkeypatch.setattr(commands, "TIMEOUT_S", 0.5)
    settings = api_settings(tmp_path, broker.port)
    probe = MqttProbe(settings)
    try:
        with TestClient(create_app(settings)) as c:
            log_in(c, PIN)  # the challenge login: TestClient is not the box itself
            r = c.post("/api/races/current/start")  # nobody has ever said online
            assert r.status_code == 504 and "offline" in r.json()["detail"]
            # A lap service that says it is online but never answers.
            probe.publish(probe.topics.status("laps"), contract.ONLINE, retain=True)
            deadline = time.monotonic() + 5
            while not c.get("/api/health").json()["laps_online"]:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            started = time.monotonic()
            r = c.post("/api/races", json={"mode": "practice"})
            assert r.status_code == 504
            assert r.json()["detail"].startswith("lap service not answering")
            assert 0.4 < time.monotonic() - started < 3
            # It was sent, with a fresh id, exactly as the contract says.
            sent = probe.wait_for(lambda: probe.on(probe.topics.race_command), what="command")
            cmd = contract.decode_command(sent[-1])
            assert isinstance(cmd, contract.Setup) and cmd.mode == "practice" and cmd.id
    finally:
        probe.publish(probe.topics.status("laps"), b"", retain=True)
        probe.close()
