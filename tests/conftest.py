"""Shared fixtures: a real Mosquitto for the session, settings per test, MQTT probes.

Each test gets its own topic root, so retained messages from one test never reach
another, even though they share the broker.
"""

from __future__ import annotations

import uuid

import pytest
from pytest_mqtt.model import MqttSettings

from pitwall import settings as settings_mod
from pitwall.dev.broker import Mosquitto

from .support import MqttProbe, write_config


@pytest.fixture(scope="session")
def broker():
    with Mosquitto() as mosquitto:
        yield mosquitto


@pytest.fixture(scope="session")
def mqtt_settings(broker) -> MqttSettings:
    """Point pytest-mqtt's ``mosquitto`` and ``capmqtt`` fixtures at our broker."""
    return MqttSettings(host="127.0.0.1", port=broker.port, username="", password="",
                        subscribe_all=True)


@pytest.fixture
def topic_root() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(tmp_path, broker, topic_root) -> settings_mod.Settings:
    """Settings for one test: its own data folder, topic root and the session broker."""
    return make_settings(tmp_path, broker.port, topic_root)


def make_settings(tmp_path, port: int, topic_root: str, **extra) -> settings_mod.Settings:
    data = {
        "data_dir": str(tmp_path / "data"),
        # No 16 MiB reserve file in every test's data folder (tests/laps/test_disk_full.py
        # sets one).
        "storage_reserve_mib": 0,
        "mqtt": {"port": port, "topic_root": topic_root},
        **extra,
    }
    path = write_config(tmp_path / "pitwall.toml", data)
    return settings_mod.load(path, environ={})


@pytest.fixture
def probe(settings):
    """An MQTT client that records every message under the test's topic root."""
    p = MqttProbe(settings)
    yield p
    p.close()
