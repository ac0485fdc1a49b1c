"""Test helpers: an MQTT recorder, settings files, and real service processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import tomli_w
from paho.mqtt.client import CallbackAPIVersion, Client
from paho.mqtt.enums import MQTTProtocolVersion

from pitwall import contract
from pitwall.bus.mqtt import no_delay
from pitwall.settings import Settings


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write a settings dict as TOML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data))
    return path


class MqttProbe:
    """Subscribes to the settings' topic root (or to ``filters``) and records every message
    with its arrival time (CLOCK_MONOTONIC ns)."""

    def __init__(self, settings: Settings, filters: list[str] | None = None) -> None:
        self.topics = contract.Topics(settings.mqtt.topic_root)
        self.filters = filters or [f"{self.topics.root}/#"]
        self.messages: list[tuple[str, bytes, bool]] = []
        self.arrivals: list[int] = []  # parallel to messages
        self._cond = threading.Condition()
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}",
                             protocol=MQTTProtocolVersion.MQTTv5)
        self.client.max_queued_messages_set(0)
        connected = threading.Event()

        def on_connect(client, userdata, flags, rc, props):
            no_delay(client)  # it publishes and acknowledges its own echoes: no 40 ms stalls
            for topic_filter in self.filters:
                client.subscribe(topic_filter, qos=1)
            connected.set()

        self.client.on_connect = on_connect
        self.client.on_message = self._on_message
        self.client.connect(settings.mqtt.host, settings.mqtt.port)
        self.client.loop_start()
        assert connected.wait(5), "probe could not connect to the broker"
        time.sleep(0.05)  # let the subscription settle

    def _on_message(self, client, userdata, msg) -> None:
        now = time.monotonic_ns()
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            self.arrivals.append(now)
            self._cond.notify_all()

    def publish(self, topic: str, payload: bytes | msgspec.Struct, retain: bool = False):
        if isinstance(payload, msgspec.Struct):
            payload = contract.encode(payload)
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(5)
        except RuntimeError:
            pass  # published while disconnected: paho queued it and sends it on reconnect
        return info

    def mark(self) -> int:
        """Index of the next message, for ``since``."""
        with self._cond:
            return len(self.messages)

    def on(self, topic: str, since: int = 0) -> list[bytes]:
        with self._cond:
            return [p for t, p, _ in self.messages[since:] if t == topic]

    def timed(self, topic: str, since: int = 0) -> list[tuple[int, bytes]]:
        """(arrival ns, payload) of each message on ``topic`` from index ``since``."""
        with self._cond:
            pairs = zip(self.messages[since:], self.arrivals[since:], strict=True)
            return [(a, m[1]) for m, a in pairs if m[0] == topic]

    def decoded(self, topic: str, kind: type) -> list:
        return [msgspec.json.decode(p, type=kind) for p in self.on(topic)]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0,
                 what: str = "condition", poll: float = 0.1) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
                self._cond.wait(min(left, poll))

    def wait_online(self, service: str, timeout: float = 10.0) -> None:
        """Until ``service``'s retained status (its latest) reads online."""
        self.wait_for(lambda: self.on(self.topics.status(service))[-1:] == [contract.ONLINE],
                      timeout, what=f"{service} online")

    def last_state(self) -> contract.RaceState | None:
        states = self.on(self.topics.race_state)
        return msgspec.json.decode(states[-1], type=contract.RaceState) if states else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class ServiceProcess:
    """A real ``pitwall`` subcommand in its own process (so it can be killed with -9)."""

    def __init__(self, config: Path, *args: str, log: Path | None = None) -> None:
        self.args = [sys.executable, "-m", "pitwall", "--config", str(config), *args]
        self.log_path = log or config.parent / f"{args[0]}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServiceProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PITWALL_")}
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env)
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, like a power cut to the process."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
        return self.proc.returncode if self.proc else None

    def alive(self) -> bool:
        return bool(self.proc) and self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
