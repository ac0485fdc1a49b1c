"""The API process's one MQTT connection.

Every browser is served from this single subscription: the bridge keeps the latest
retained race state, lights state and lap-service availability, tells its listeners about
every change (the live push fans them out), and sends race commands, matching each
``race/reply`` to its command by id.

paho calls back on its own network thread. Listeners run there too, so they must only
hand the message over (``loop.call_soon_threadsafe``); ``command()`` resolves its future
the same way.

Payloads are checked against the contract before they are kept or passed on: a
malformed ``race/state`` is logged and dropped, and the last good state stays.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable

import msgspec
from paho.mqtt.client import MQTTMessage

from pitwall import contract
from pitwall.api.health_log import HealthLog
from pitwall.bus import Bus
from pitwall.settings import Settings

log = logging.getLogger(__name__)

SEEN_WINDOW_S = 600.0
SEEN_MAX = 64 + 256  # every lane and every car ID: the hints can never grow past this

Listener = Callable[[str, bytes], None]  # (kind, payload): "state" | "lap" | "lights" | "status"


class CommandTimeout(Exception):
    """No reply from the lap service in time."""


class Unavailable(CommandTimeout):
    """The command was not sent: the broker or the lap service is away.

    Not sending matters: the lap service's session is persistent, so a command queued now
    would run whenever the service comes back (a start, minutes late).
    """


class _ApiBus(Bus):
    """A Bus that also reports connection changes to the bridge."""

    def __init__(self, settings: Settings, on_change: Callable[[], None]) -> None:
        super().__init__(settings, "api", persistent=False)
        self._on_change = on_change

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        super()._on_connect(client, userdata, flags, reason_code, properties)
        if not reason_code.is_failure:
            self._on_change()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        super()._on_disconnect(client, userdata, flags, reason_code, properties)
        self._on_change()


class Bridge:
    """>>> bridge = Bridge(settings); bridge.start()           # doctest: +SKIP
    >>> bridge.add_listener(lambda kind, payload: ...)      # doctest: +SKIP
    >>> reply = await bridge.command(contract.Start())      # doctest: +SKIP
    """

    def __init__(self, settings: Settings) -> None:
        self.bus = _ApiBus(settings, self._connection_changed)
        self.topics = self.bus.topics
        self._lock = threading.Lock()
        self._state: bytes | None = None
        self._lights: bytes | None = None
        self._laps_online = False
        self._laps_degraded = False  # status/laps says degraded (storage full)
        self._demo_director = False
        self.health = HealthLog()  # health/state: now and the last hour
        self.lap_stats: contract.LapStats | None = None  # laps/stats: for /metrics
        self._seen: dict[tuple[str, int], float] = {}  # ("car"|"lane", n) -> monotonic s
        self._listeners: list[Listener] = []
        self._pending: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        t = self.topics
        self.bus.subscribe(t.race_state, self._on_state)
        self.bus.subscribe(t.race_lap, self._on_lap)
        self.bus.subscribe(t.lights_state, self._on_lights)
        self.bus.subscribe(t.status("laps"), self._on_laps_status)
        self.bus.subscribe(t.race_reply, self._on_reply)
        self.bus.subscribe(t.status(contract.DEMO_DIRECTOR), self._on_director_status)
        self.bus.subscribe(t.lane_pass_all, self._on_pass)
        self.bus.subscribe(t.health_state, self._on_health)
        self.bus.subscribe(t.laps_stats, self._on_lap_stats)

    # -------------------------------------------------------------- lifecycle
    def start(self, wait: float | None = 5.0) -> None:
        """Connect in the background (reconnecting for ever); optionally wait."""
        self.bus.start(wait=wait)

    def stop(self) -> None:
        self.bus.stop()
        self._connection_changed()

    # -------------------------------------------------------------- reads
    def state(self) -> bytes | None:
        """The latest retained race/state payload, raw JSON as the lap service sent it."""
        return self._state

    def lights(self) -> bytes | None:
        return self._lights

    def laps_online(self) -> bool:
        return self._laps_online

    @property
    def connected(self) -> bool:
        return self.bus.connected.is_set()

    def status(self) -> bytes:
        """``{"laps": bool, "mqtt": bool}``: is what the API shows live? A lap service we
        cannot hear (broker away) counts as offline. ``"degraded": true`` is added while
        the lap service says degraded (it cannot store passes: they wait at the broker)."""
        mqtt = self.connected
        status = {"laps": mqtt and self._laps_online, "mqtt": mqtt}
        if mqtt and self._laps_online and self._laps_degraded:
            status["degraded"] = True
        return msgspec.json.encode(status)

    @property
    def demo_director(self) -> bool:
        """Is ``pitwall up``'s simulated director running races?"""
        return self.connected and self._demo_director

    def seen(self, within_s: float = SEEN_WINDOW_S) -> tuple[list[int], list[int]]:
        """(cars, lanes) seen crossing in the last ``within_s`` seconds, for set-up hints."""
        since = time.monotonic() - within_s
        seen = [key for key, t in list(self._seen.items()) if t >= since]
        return (sorted(n for kind, n in seen if kind == "car"),
                sorted(n for kind, n in seen if kind == "lane"))

    def director_logged_in(self) -> None:
        """Tell the bus (a demo director yields to the real one)."""
        if self.connected:
            self.bus.publish(self.topics.director_login, b"{}")

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(kind, payload)`` on paho's thread for every change."""
        with self._lock:
            self._listeners = [*self._listeners, fn]

    def remove_listener(self, fn: Listener) -> None:
        with self._lock:
            self._listeners = [f for f in self._listeners if f is not fn]

    # -------------------------------------------------------------- commands
    async def command(self, cmd: contract.Command, timeout: float = 5.0) -> contract.Reply:
        """Send a race command with a fresh id and wait for its reply."""
        if not self.connected:
            raise Unavailable("not connected to the MQTT broker")
        if not self._laps_online:
            raise Unavailable("the lap service is offline")
        cmd = msgspec.structs.replace(cmd, id=uuid.uuid4().hex[:16])
        loop = asyncio.get_running_loop()
        future: asyncio.Future[contract.Reply] = loop.create_future()
        self._pending[cmd.id] = (loop, future)
        try:
            self.bus.publish(self.topics.race_command, cmd)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            name = msgspec.inspect.type_info(type(cmd)).tag
            raise CommandTimeout(f"no reply to {name!r} within {timeout} s") from None
        finally:
            self._pending.pop(cmd.id, None)

    # -------------------------------------------------------------- paho thread
    def _on_state(self, message: MQTTMessage) -> None:
        payload = self._checked(message, contract.RaceState)
        if payload is not None:
            self._state = payload or None  # an empty retained message clears the topic
            if payload:
                self._notify("state", payload)

    def _on_lap(self, message: MQTTMessage) -> None:
        payload = self._checked(message, contract.LapEvent)
        if payload:
            self._notify("lap", payload)

    def _on_lights(self, message: MQTTMessage) -> None:
        payload = self._checked(message, contract.LightsState)
        if payload is not None:
            self._lights = payload or None
            if payload:
                self._notify("lights", payload)

    def _on_laps_status(self, message: MQTTMessage) -> None:
        online = message.payload in contract.RUNNING
        degraded = message.payload == contract.DEGRADED
        if (online, degraded) != (self._laps_online, self._laps_degraded):
            self._laps_online, self._laps_degraded = online, degraded
            self._notify("status", self.status())

    def _on_director_status(self, message: MQTTMessage) -> None:
        self._demo_director = message.payload == contract.ONLINE

    def _on_health(self, message: MQTTMessage) -> None:
        payload = self._checked(message, contract.HealthState)
        if payload:
            self.health.add(contract.decode(payload, contract.HealthState))

    def _on_lap_stats(self, message: MQTTMessage) -> None:
        payload = self._checked(message, contract.LapStats)
        if payload:
            self.lap_stats = contract.decode(payload, contract.LapStats)

    def _on_pass(self, message: MQTTMessage) -> None:
        # Only hints for the set-up form: a malformed pass is the lap service's to report.
        try:
            p = contract.decode(message.payload, contract.Pass)
        except msgspec.MsgspecError:
            return
        now = time.monotonic()
        if len(self._seen) < SEEN_MAX or ("lane", p.lane) in self._seen:
            self._seen[("lane", p.lane)] = now
            if p.car is not None:
                self._seen[("car", p.car)] = now

    def _on_reply(self, message: MQTTMessage) -> None:
        try:
            reply = contract.decode(message.payload, contract.Reply)
        except msgspec.MsgspecError as exc:
            log.warning("malformed race/reply ignored: %s", exc)
            return
        pending = self._pending.get(reply.id) if reply.id else None
        if pending:
            loop, future = pending
            loop.call_soon_threadsafe(_resolve, future, reply)

    def _connection_changed(self) -> None:
        self._notify("status", self.status())

    def _checked(self, message: MQTTMessage, kind: type) -> bytes | None:
        """The payload if it is in contract (b"" for a cleared retained topic), else None."""
        payload = bytes(message.payload)
        if not payload:
            return b""
        try:
            contract.decode(payload, kind)
        except msgspec.MsgspecError as exc:
            log.warning("malformed %s on %s ignored: %s", kind.__name__, message.topic, exc)
            return None
        return payload

    def _notify(self, kind: str, payload: bytes) -> None:
        for fn in self._listeners:
            try:
                fn(kind, payload)
            except Exception:  # one broken listener must not starve the others
                log.exception("live listener failed on %s", kind)


def _resolve(future: asyncio.Future, reply: contract.Reply) -> None:
    if not future.done():  # it may have timed out meanwhile
        future.set_result(reply)
