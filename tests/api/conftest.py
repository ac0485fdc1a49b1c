"""Fixtures for the API: one real stack per test module — the session's Mosquitto, a lap
service process, and the API on a real uvicorn — and HTTP clients with and without the
director's token.

Peewee binds models to one database per process (``create_app`` binds them), so a test
that builds another app rebinds them: don't read through an earlier app afterwards.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from pitwall.api.app import create_app
from pitwall.settings import Settings

from ..conftest import make_settings
from ..support import MqttProbe, ServiceProcess
from .live_support import serve

PIN = "2468"


@dataclass
class Stack:
    settings: Settings
    probe: MqttProbe
    url: str
    laps: ServiceProcess

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def api_settings(tmp_path, port: int, **extra) -> Settings:
    """Settings for an API test: a PIN, a Wi-Fi network, and a start with no waiting
    (lights at once, no hold) so races run in test time."""
    extra = {"director_pin": PIN, "wifi": {"ssid": "Race Net", "passphrase": "go;fast:now"},
             "race": {"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0}, **extra}
    return make_settings(tmp_path, port, f"t{uuid.uuid4().hex[:10]}", **extra)


@contextlib.contextmanager
def api_stack(broker, tmp, **extra) -> Iterator[Stack]:
    """A lap service process and the API on uvicorn, once the API has heard the service."""
    settings = api_settings(tmp, broker.port, **extra)
    probe = MqttProbe(settings)
    laps = ServiceProcess(tmp / "pitwall.toml", "laps").start()
    try:
        probe.wait_online("laps")
        with serve(create_app(settings)) as base:
            stack = Stack(settings, probe, f"http://{base}", laps)
            with stack.client() as c:
                deadline = time.monotonic() + 10
                while not c.get("/api/health").json()["laps_online"]:
                    assert time.monotonic() < deadline, "API never saw the lap service"
                    time.sleep(0.05)
            yield stack
    finally:
        laps.stop()
        probe.close()


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    with api_stack(broker, tmp_path_factory.mktemp("api")) as s:
        yield s


@pytest.fixture(scope="module")
def token(stack) -> str:
    with stack.client() as c:
        r = c.post("/api/auth/login", json={"pin": PIN})
        assert r.status_code == 200, r.text
        return r.json()["token"]


@pytest.fixture
def public(stack):
    with stack.client() as c:
        yield c


@pytest.fixture
def director(stack, token):
    with stack.client(token) as c:
        yield c
