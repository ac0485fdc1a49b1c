"""The one MQTT adapter every process uses.

It owns the things that must be the same everywhere: MQTT v5, paho's VERSION2 callbacks,
a retained ``{root}/status/{service}`` that reads ``online`` and becomes ``offline`` by
last will, automatic reconnects, an unbounded outgoing queue (QoS 1 passes published
while the broker is away are sent when it is back), and — for subscribers that must not
lose messages — a persistent session: a fixed client id, ``clean_start=False`` and a
session expiry, so the broker queues what arrives while the process is down.

Two ways to run it. ``start()`` gives paho its own network thread: callbacks run there and
handlers must hand slow work to a thread of their own. ``connect()`` + ``poll()`` run the
network loop in the caller's thread instead (the lap service): messages are read only when
the caller asks, so a backlog stays queued at the broker rather than piling up in memory,
and no message is handed from thread to thread.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
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
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pitwall import contract
from pitwall.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[MQTTMessage], None]

# Largest payload any Pitwall process publishes: every Mosquitto configuration Pitwall
# renders refuses bigger ones (message_size_limit; pitwall.dev.broker.LIMITS).
MAX_PAYLOAD = 1024 * 1024

_json = msgspec.json.Encoder()
ELLIPSIS = "\u2026"


def clip(value: str | bytes | bytearray | memoryview, limit: int = contract.REPORT_MAX) -> str:
    """``value`` as text of at most ``limit`` bytes, counted as JSON writes it (escapes
    included), a cut marked with an ellipsis: what an error report or a log line may quote
    of anything that came from outside."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value[:limit + 1]).decode("utf-8", errors="replace")
    # Every character takes a byte at least; lone surrogates cannot be encoded.
    value = value[:limit + 1].encode("utf-8", errors="replace").decode("utf-8")
    if _json_len(value) <= limit:
        return value
    lo, hi = 0, len(value)  # the longest prefix that fits with the ellipsis
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _json_len(value[:mid]) + len(ELLIPSIS.encode()) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return value[:lo] + ELLIPSIS


def _json_len(text: str) -> int:
    return len(_json.encode(text)) - 2


class ReportLimiter:
    """Rate limit for error reports, per window of ``window_s`` seconds: at most ``burst``
    reports per key (topic and kind of reason) and ``burst * KEYS_AT_FULL_RATE`` in all.
    What is held back is counted; when the window ends, each key that held some back gets
    one summary (its last report, with ``suppressed`` set to the count)."""

    KEYS_AT_FULL_RATE = 5
    MAX_KEYS = 64  # keys followed per window; more share one ("", "other")

    def __init__(self, burst: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.window_s, self.clock = burst, window_s, clock
        self.total = burst * self.KEYS_AT_FULL_RATE
        self.ends = float("-inf")  # a window starts with the first report after a quiet one
        self._sent: dict[tuple[str, str], int] = {}
        self._held: dict[tuple[str, str], list] = {}  # key -> [count, last report]
        self._sent_total = 0
        self._lock = threading.Lock()  # with start(), reports come from several threads

    @staticmethod
    def key(report: contract.ErrorReport) -> tuple[str, str]:
        return report.topic, report.reason.split(":", 1)[0][:60]

    def admit(self, report: contract.ErrorReport) -> tuple[bool, list[contract.ErrorReport]]:
        """(send this report now?, the summaries of a window that just ended)."""
        summaries = self.due()
        key = self.key(report)
        with self._lock:
            if key not in self._sent and len(self._sent) >= self.MAX_KEYS:
                key = ("", "other")
            sent = self._sent.get(key, 0)
            if sent < self.burst and self._sent_total < self.total:
                self._sent[key] = sent + 1
                self._sent_total += 1
                return True, summaries
            held = self._held.setdefault(key, [0, report])
            held[0] += 1
            held[1] = report
            return False, summaries

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def due(self) -> list[contract.ErrorReport]:
        """If the window has ended: start the next, and return the summaries of this one."""
        now = self.clock()
        if now < self.ends:
            return []
        with self._lock:
            if now < self.ends:
                return []
            out = [msgspec.structs.replace(report, suppressed=count)
                   for count, report in self._held.values()]
            self._sent.clear()
            self._held.clear()
            self._sent_total = 0
            self.ends = now + self.window_s
            return out



def no_delay(client) -> None:
    """Switch Nagle's algorithm off on a connected paho client's socket (paho leaves it
    on): a small packet written while an earlier one is unacknowledged, such as a PUBACK
    and then a PUBLISH, otherwise waits for the peer's delayed ACK, 40 ms on Linux."""
    sock = client.socket()
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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
        self._routes: dict[str, Handler | None] = {}  # topic -> handler, see _route()
        self._announce = announce
        self._status = contract.ONLINE  # what status/{service} says while connected
        self._sessions = 0  # connections so far (a persistent session must be found again)
        self.session_lost: Callable[[str], None] | None = None  # see _on_connect
        self._polled = False  # True after connect(): the caller drives the network loop
        self._delivered = 0  # messages handed to handlers (poll() counts per turn)
        self._retry_at = 0.0  # polled mode: next reconnect attempt (time.monotonic)
        self._retry_delay = 0.1
        self.reports = ReportLimiter(settings.mqtt.error_burst, settings.mqtt.error_window_s)
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
        self.client.max_inflight_messages_set(contract.INFLIGHT)
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
        self._connect_async()
        self.client.loop_start()
        if wait:
            ok = self.connected.wait(wait)
            if not ok:
                self._warn_unreachable()
            return ok
        return False

    def connect(self, wait: float | None = 10.0) -> bool:
        """Connect without a network thread: from now on the caller drives it with poll()."""
        self._polled = True
        self._connect_async()
        deadline = time.monotonic() + (wait or 0)
        while not self.connected.is_set() and time.monotonic() < deadline:
            self.poll(0.05)
        if wait and not self.connected.is_set():
            self._warn_unreachable()
        return self.connected.is_set()

    def poll(self, timeout: float, max_messages: int = 500) -> int:
        """One turn of the network loop in the caller's thread (after connect()).

        Waits up to ``timeout`` for traffic, reads what has arrived (stopping once about
        ``max_messages`` messages went to the handlers), sends what is queued, keeps the
        connection alive and reconnects with back-off. Returns the number of messages
        delivered. Handlers run in this thread, before poll() returns.
        """
        self._delivered = 0
        sock = self.client.socket()
        if sock is None:
            self._reconnect_when_due(timeout)
            return 0
        wlist = [sock] if self.client.want_write() else []
        try:
            readable, _, _ = select.select([sock], wlist, [], timeout)
        except (OSError, ValueError):  # socket closed under us: reconnect next turn
            return 0
        while readable and self._delivered < max_messages and self.client.socket():
            if self.client.loop_read() != 0:
                break
            readable, _, _ = select.select([sock], [], [], 0)
        if self.client.socket() and self.client.want_write():
            self.client.loop_write()
        if self.client.socket():
            self.client.loop_misc()
        if self.reports.holding:
            self.flush_reports()
        return self._delivered

    def stop(self) -> None:
        """Say offline (the will only covers crashes), then disconnect."""
        if self._announce and self.connected.is_set():
            info = self.publish(self.topics.status(self.service), contract.OFFLINE, retain=True)
            if self._polled:
                deadline = time.monotonic() + 2
                while not info.is_published() and self.connected.is_set() \
                        and time.monotonic() < deadline:
                    self.poll(0.05)  # reads the broker's acknowledgement
            else:
                with contextlib.suppress(RuntimeError, ValueError):  # connection already gone
                    info.wait_for_publish(timeout=2)
        self.client.disconnect()
        if not self._polled:
            self.client.loop_stop()

    def _connect_async(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        # Ask the broker to keep no more than this unacknowledged with us. Mosquitto 2.0.11
        # does not always keep to it once acknowledgements flow, so poll() also bounds
        # what it reads per turn.
        props.ReceiveMaximum = contract.INFLIGHT
        if self.persistent:
            props.SessionExpiryInterval = self.settings.mqtt.session_expiry_s
        self.client.connect_async(
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            keepalive=self.settings.mqtt.keepalive_s,
            clean_start=not self.persistent,
            properties=props,
        )

    def _reconnect_when_due(self, timeout: float) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            time.sleep(min(timeout, self._retry_at - now))
            return
        try:
            self.client.reconnect()
            self._retry_delay = 0.1
        except OSError as exc:
            log.debug("MQTT connect failed: %s", exc)
            self._retry_at = now + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, 2.0)

    def _warn_unreachable(self) -> None:
        log.warning("MQTT broker at %s:%s not reachable yet; retrying in the background",
                    self.settings.mqtt.host, self.settings.mqtt.port)

    # -------------------------------------------------------------- messaging
    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Register a handler; (re)subscribed on every connection."""
        self._subscriptions[topic_filter] = handler
        self._routes.clear()
        if self.connected.is_set():
            self.client.subscribe(topic_filter, qos=contract.QOS)

    def publish(
        self, topic: str, payload: bytes | msgspec.Struct, *, retain: bool = False
    ) -> MQTTMessageInfo:
        if isinstance(payload, msgspec.Struct):
            payload = contract.encode(payload)
        if len(payload) > MAX_PAYLOAD:
            # Mosquitto would refuse it with a PUBACK reason code paho 2.2 takes for a
            # protocol error: paho drops the connection, sends the message again on
            # reconnecting, and so on for ever; nothing after it would get through.
            log.error("not publishing %d bytes on %s: over the brokers' message size limit "
                      "of %d", len(payload), topic, MAX_PAYLOAD)
            info = MQTTMessageInfo(0)
            info.rc = MQTTErrorCode.MQTT_ERR_PAYLOAD_SIZE
            return info
        return self.client.publish(topic, payload, qos=self.topics.qos(topic), retain=retain)

    def ack(self, message: MQTTMessage) -> None:
        """Acknowledge a message (manual_ack mode): the broker may now forget it."""
        self.client.ack(message.mid, message.qos)

    def set_status(self, status: bytes) -> None:
        """Say ``status`` (``contract.ONLINE`` or ``DEGRADED``) on the retained
        status/{service}; it is said again on every reconnection until changed."""
        if status == self._status:
            return
        self._status = status
        if self._announce and self.connected.is_set():
            self.publish(self.topics.status(self.service), status, retain=True)

    def report_error(self, topic: str, reason: str, payload: bytes | str) -> None:
        """Log a rejected message and publish it with its reason on ``{root}/errors``.

        The topic, the reason and the payload are each quoted to ``contract.REPORT_MAX``
        bytes at most, and reports are rate-limited (``[mqtt] error_burst`` per topic and
        kind of reason in ``error_window_s``; the rest are counted in one summary), so
        bad input cannot flood the log or the errors topic."""
        report = contract.ErrorReport(service=self.service, topic=clip(topic),
                                      reason=clip(reason), payload=clip(payload))
        send, summaries = self.reports.admit(report)
        self._send_reports(summaries)
        if send:
            log.warning("rejected message on %s: %s", report.topic, report.reason)
            self.publish(self.topics.errors, report)

    def flush_reports(self) -> None:
        """Send the summaries of a rate-limit window that has ended (poll() calls this;
        with start(), the next report does)."""
        self._send_reports(self.reports.due())

    def _send_reports(self, summaries: list[contract.ErrorReport]) -> None:
        for report in summaries:
            log.warning("%d more rejected messages on %s held back in the last %.0f s, the "
                        "last: %s", report.suppressed, report.topic, self.reports.window_s,
                        report.reason)
            self.publish(self.topics.errors, report)

    # -------------------------------------------------------------- paho callbacks
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connection refused: %s", reason_code)
            return
        no_delay(client)
        log.info("connected to MQTT %s:%s (session present: %s)", self.settings.mqtt.host,
                 self.settings.mqtt.port, flags.session_present)
        self._sessions += 1
        if self.persistent and not flags.session_present and self.session_lost is not None:
            # A new session: the broker kept nothing for us. Expected on the very first
            # connection to a broker; otherwise the broker lost it (restarted without
            # working persistence) or it expired while we were away.
            self.session_lost("reconnected" if self._sessions > 1 else "started")
        for topic_filter in self._subscriptions:
            client.subscribe(topic_filter, qos=contract.QOS)
        if self._announce:
            self.publish(self.topics.status(self.service), self._status, retain=True)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("MQTT connection lost (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: MQTTMessage) -> None:
        self._delivered += 1
        handler = self._route(message.topic)
        if handler is not None:
            try:
                handler(message)
            except Exception:  # a bad handler must not kill paho's network thread
                log.exception("handler for %s failed", clip(message.topic))
        elif self.manual_ack:
            # A message for a subscription we no longer hold (e.g. queued in an old session).
            self.ack(message)

    def _route(self, topic: str) -> Handler | None:
        """The handler for a topic; matched once per topic name (there are few), then cached."""
        try:
            return self._routes[topic]
        except KeyError:
            handler = next((h for f, h in self._subscriptions.items()
                            if topic_matches_sub(f, topic)), None)
            if len(self._routes) < 1024:  # garbage topics must not grow it without end
                self._routes[topic] = handler
            return handler
