"""A private Mosquitto for development and tests: temporary config, free port, localhost.

On the appliance Mosquitto runs as its own systemd service; this is for ``pitwall up``
on a laptop and for the test suite, which must never depend on a broker it did not start.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from pitwall import contract


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return candidate
    raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")


class Mosquitto:
    """A Mosquitto process on 127.0.0.1 that this process owns.

    ``persistence=True`` keeps sessions and queued messages across restarts of the broker
    (``restart()``), as the appliance's broker does.
    """

    def __init__(self, port: int | None = None, *, persistence: bool = False,
                 workdir: str | Path | None = None, extra: str = "") -> None:
        self.port = port or free_port()
        self.persistence = persistence
        self.extra = extra  # more configuration, e.g. a bridge (pitwall cluster)
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="pitwall-mqtt-")
        self.dir = Path(workdir or self._tmp.name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.config = self.dir / "mosquitto.conf"
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            # Started as root, Mosquitto would switch to user "mosquitto", which cannot
            # write persistence or logs in our private folder: stay who started it.
            f"user {getpass.getuser()}",
            # The appliance's lap service may be away for a while (restart, update):
            # keep every queued pass for it instead of Mosquitto's default of 1000.
            "max_queued_messages 0",
            "max_queued_bytes 0",
            f"max_inflight_messages {contract.INFLIGHT}",
            # Mosquitto batches small packets by default (Nagle): ~20 ms per pass on the
            # way to the lap service. Passes are tiny and latency is the product.
            "set_tcp_nodelay true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.dir}/",
            "autosave_interval 1",
            f"log_dest file {self.dir}/mosquitto.log",
            "log_type error",
            "log_type warning",
        ]
        return "\n".join(lines) + "\n" + self.extra

    def start(self, timeout: float = 10.0) -> Mosquitto:
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_open("127.0.0.1", self.port):
                return self
            if self.proc.poll() is not None:
                log = self.dir / "mosquitto.log"
                err = log.read_text(errors="replace")[-500:] if log.exists() else ""
                raise BrokerError(f"mosquitto exited with {self.proc.returncode}: {err.strip()}")
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        """Stop gracefully (SIGTERM saves the persistence file)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
