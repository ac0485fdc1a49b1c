"""The one MQTT adapter every process uses.

It owns the things that must be the same everywhere: MQTT v5, paho's VERSION2 callbacks,
a retained ``{root}/status/{service}`` that reads ``online`` and becomes ``offline`` by
last will, automatic reconnects, an unbounded outgoing queue (QoS 1 passes published
while the broker is away are sent when it is back), and — for subscribers that must not
lose messages — a persistent session: a fixed client id, ``clean_start=False`` and a
session expiry, so the broker queues what arrives while the process is down.

Callbacks run on paho's network thread; handlers must hand work to their own thread if
it is slow.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable

import msgspec
from paho.mqtt.client import (
    CallbackAPIVersion,
    Client,
    MQTTMessage,
    MQTTMessageInfo,
    topic_matches_sub,
)
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pitwall import contract
from pitwall.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[MQTTMessage], None]


class Bus:
    """A connected MQTT client for one service.

    >>> bus = Bus(settings, "laps", persistent=True)          # doctest: +SKIP
    >>> bus.subscribe(bus.topics.race_command, on_command)    # doctest: +SKIP
    >>> bus.start(); bus.publish(bus.topics.race_state, state, retain=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        settings: Settings,
        service: str,
        *,
        persistent: bool = False,
        manual_ack: bool = False,
        client_id: str | None = None,
        announce: bool = True,
    ) -> None:
        self.settings = settings
        self.service = service
        self.topics = contract.Topics(settings.mqtt.topic_root)
        self.persistent = persistent
        self.connected = threading.Event()
        self._subscriptions: dict[str, Handler] = {}
        self._announce = announce
        # A persistent session is found again by its client id, so it must be fixed; it
        # follows the topic root so that tracks sharing one broker keep separate sessions.
        fixed = f"{self.topics.root.replace('/', '-')}-{service}"
        cid = client_id or (fixed if persistent else f"{fixed}-{uuid.uuid4().hex[:8]}")
        self.manual_ack = manual_ack
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=cid,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=manual_ack,
        )
        self.client.max_queued_messages_set(0)  # never drop outgoing messages
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=2)
        if announce:
            self.client.will_set(
                self.topics.status(service), contract.OFFLINE, qos=contract.QOS, retain=True
            )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # -------------------------------------------------------------- lifecycle
    def start(self, wait: float | None = 10.0) -> bool:
        """Connect in the background; optionally wait for the first connection."""
        props = None
        if self.persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.settings.mqtt.session_expiry_s
        self.client.connect_async(
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            keepalive=self.settings.mqtt.keepalive_s,
            clean_start=not self.persistent,
            properties=props,
        )
        self.client.loop_start()
        if wait:
            ok = self.connected.wait(wait)
            if not ok:
                log.warning("MQTT broker at %s:%s not reachable yet; retrying in the background",
                            self.settings.mqtt.host, self.settings.mqtt.port)
            return ok
        return False

    def stop(self) -> None:
        """Say offline (the will only covers crashes), then disconnect."""
        if self._announce and self.connected.is_set():
            info = self.publish(self.topics.status(self.service), contract.OFFLINE, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # connection already gone
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    # -------------------------------------------------------------- messaging
    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Register a handler; (re)subscribed on every connection."""
        self._subscriptions[topic_filter] = handler
        if self.connected.is_set():
            self.client.subscribe(topic_filter, qos=contract.QOS)

    def publish(
        self, topic: str, payload: bytes | msgspec.Struct, *, retain: bool = False
    ) -> MQTTMessageInfo:
        if isinstance(payload, msgspec.Struct):
            payload = contract.encode(payload)
        return self.client.publish(topic, payload, qos=contract.QOS, retain=retain)

    def ack(self, message: MQTTMessage) -> None:
        """Acknowledge a message (manual_ack mode): the broker may now forget it."""
        self.client.ack(message.mid, message.qos)

    def report_error(self, topic: str, reason: str, payload: bytes) -> None:
        """Log a rejected message and publish it with its reason on ``{root}/errors``."""
        text = payload[:500].decode("utf-8", errors="replace")
        log.warning("rejected message on %s: %s", topic, reason)
        self.publish(
            self.topics.errors,
            contract.ErrorReport(service=self.service, topic=topic, reason=reason, payload=text),
        )

    # -------------------------------------------------------------- paho callbacks
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connection refused: %s", reason_code)
            return
        log.info("connected to MQTT %s:%s (session present: %s)", self.settings.mqtt.host,
                 self.settings.mqtt.port, flags.session_present)
        for topic_filter in self._subscriptions:
            client.subscribe(topic_filter, qos=contract.QOS)
        if self._announce:
            client.publish(self.topics.status(self.service), contract.ONLINE,
                           qos=contract.QOS, retain=True)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("MQTT connection lost (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: MQTTMessage) -> None:
        for topic_filter, handler in self._subscriptions.items():
            if topic_matches_sub(topic_filter, message.topic):
                try:
                    handler(message)
                except Exception:  # a bad handler must not kill paho's network thread
                    log.exception("handler for %s failed", message.topic)
                return
        # A message for a subscription we no longer hold (e.g. queued in an old session).
        if self.manual_ack:
            self.ack(message)

