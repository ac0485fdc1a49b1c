"""The MQTT adapter against a real broker: availability, persistence, error reports."""

import msgspec

from pitwall import contract
from pitwall.bus import Bus


def test_status_is_online_while_running_and_offline_after_stop(settings, probe):
    bus = Bus(settings, "demo")
    assert bus.start(wait=5)
    status = probe.topics.status("demo")
    probe.wait_for(lambda: contract.ONLINE in probe.on(status), what="online status")
    bus.stop()
    probe.wait_for(lambda: probe.on(status)[-1:] == [contract.OFFLINE], what="offline status")


def test_persistent_session_receives_what_was_published_while_away(settings, probe):
    received = []
    bus = Bus(settings, "keeper", persistent=True)
    topic = f"{settings.mqtt.topic_root}/x"
    bus.subscribe(topic, lambda m: received.append(m.payload))
    bus.start(wait=5)
    bus.client.disconnect()  # away, session kept by the broker
    bus.client.loop_stop()
    for i in range(50):
        probe.publish(topic, str(i).encode())
    again = Bus(settings, "keeper", persistent=True)
    again.subscribe(topic, lambda m: received.append(m.payload))
    again.start(wait=5)
    probe.wait_for(lambda: len(received) == 50, what="queued messages")
    assert received == [str(i).encode() for i in range(50)]
    again.stop()


def test_report_error_publishes_reason(settings, probe):
    bus = Bus(settings, "demo")
    bus.start(wait=5)
    bus.report_error("some/topic", "not JSON", b"\xff\xfegarbage")
    reports = probe.wait_for(lambda: probe.decoded(probe.topics.errors, contract.ErrorReport),
                             what="error report")
    assert reports[0].reason == "not JSON" and reports[0].topic == "some/topic"
    assert reports[0].service == "demo" and "garbage" in reports[0].payload
    bus.stop()
    assert msgspec.json.decode(contract.encode(reports[0]))["reason"] == "not JSON"
