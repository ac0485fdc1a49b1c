"""The broker's persistence is checked, not assumed; and its size limit holds. Real
Mosquitto processes of their own (they are restarted), the real lap service."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import pytest
from paho.mqtt.client import CallbackAPIVersion, Client
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

from pitwall import contract
from pitwall.bus import Bus
from pitwall.dev.broker import MESSAGE_SIZE_LIMIT, BrokerError, Mosquitto

from ..conftest import make_settings
from ..support import MqttProbe
from .conftest import RunningService

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "ansible/roles/mosquitto/files/mosquitto-persistence-check"


def break_persistence(folder) -> None:
    """Mosquitto writes mosquitto.db.new, then renames it: a folder in its way makes every
    save fail, even for root."""
    (folder / "mosquitto.db.new").mkdir(parents=True)


def test_pitwall_ups_broker_checks_its_persistence_at_start(tmp_path):
    with Mosquitto(persistence=True, workdir=tmp_path / "good") as good:
        assert good.db_file.exists()  # saved at start, on request
    break_persistence(tmp_path / "bad")
    broker = Mosquitto(persistence=True, workdir=tmp_path / "bad")
    with pytest.raises(BrokerError, match="could not write its persistence file"):
        broker.start()
    assert broker.proc is None  # not left running


def test_the_appliances_persistence_check_over_a_real_broker(tmp_path):
    with Mosquitto(persistence=True, workdir=tmp_path, extra="autosave_interval 3600\n") as mq:
        def check() -> subprocess.CompletedProcess:
            return subprocess.run([str(CHECK), str(mq.proc.pid), str(mq.db_file), "1"],
                                  capture_output=True, text=True, timeout=10)

        done = check()
        assert done.returncode == 0, done.stdout + done.stderr
        break_persistence(tmp_path)  # e.g. the folder turned read-only under it
        done = check()
        assert done.returncode == 1, done.stdout + done.stderr
        assert "could not write its persistence file" in done.stderr


@pytest.mark.parametrize("persistent", [False, True])
def test_lap_service_warns_loudly_when_the_broker_lost_its_session(tmp_path, topic_root,
                                                                  persistent, caplog):
    with Mosquitto(persistence=persistent, workdir=tmp_path / "mqtt") as broker:
        settings = make_settings(tmp_path, broker.port, topic_root)
        probe = MqttProbe(settings)
        try:
            running = RunningService(settings)
            probe.wait_online("laps")
            # The broker restarts under the running service, which reconnects.
            caplog.clear()
            broker.restart()
            deadline = time.monotonic() + 10
            while not running.service.bus.connected.is_set() or \
                    "connected to MQTT" not in caplog.text:
                assert time.monotonic() < deadline, "lap service did not reconnect"
                time.sleep(0.05)
            running.stop()
            # ... and the service starts again, with the broker restarted meanwhile.
            broker.restart()
            probe.wait_for(lambda: probe.client.is_connected(), what="probe back")
            time.sleep(0.2)  # its subscription
            mark = probe.mark()
            running = RunningService(settings)
            probe.wait_for(lambda: probe.on(probe.topics.status("laps"), mark)[-1:]
                           == [contract.ONLINE], what="laps online")
            time.sleep(0.3)
            running.stop()
        finally:
            probe.close()
    lost = [r for r in caplog.records if r.levelno == logging.ERROR
            and "kept no session" in r.getMessage()]
    reports = [r for r in probe.decoded(probe.topics.errors, contract.ErrorReport)
               if "kept no session" in r.reason]
    if persistent:
        assert not lost and not reports
    else:
        assert len(lost) == 2  # on the reconnection, and at the next start
        assert len(reports) == 1  # the one after the start reached the probe
        assert reports[0].topic == probe.topics.status("laps")


def test_the_broker_refuses_an_oversized_message(probe, broker):
    # An MQTT 3.1.1 client: the broker acknowledges and drops the message. (Over MQTT 5
    # its PUBACK carries a reason code paho takes for a protocol error: see below.)
    topic = f"{probe.topics.root}/lane/1/pass"
    client = Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish(topic, b"x" * (MESSAGE_SIZE_LIMIT + 1), qos=1).wait_for_publish(5)
        client.publish(topic, b"x" * MESSAGE_SIZE_LIMIT, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
    probe.wait_for(lambda: probe.on(topic), what="the message at the limit")
    time.sleep(0.2)
    assert [len(p) for p in probe.on(topic)] == [MESSAGE_SIZE_LIMIT]


def test_a_service_never_publishes_over_the_limit_and_stays_connected(settings, probe, caplog):
    """paho 2.2 over MQTT 5 would resend a refused message on every reconnection for ever,
    and nothing after it would get through: the bus refuses to send it at all."""
    bus = Bus(settings, "sizer", announce=False)
    bus.start(wait=5)
    try:
        topic = probe.topics.laps_stats
        info = bus.publish(topic, b"x" * (MESSAGE_SIZE_LIMIT + 1))
        assert info.rc == MQTTErrorCode.MQTT_ERR_PAYLOAD_SIZE
        bus.publish(topic, b"after")
        probe.wait_for(lambda: probe.on(topic) == [b"after"], what="the next message")
        assert bus.connected.is_set()
        assert "over the brokers' message size limit" in caplog.text
    finally:
        bus.stop()
