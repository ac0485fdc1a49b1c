"""A private Mosquitto for development and tests: temporary config, free port, localhost.

On the appliance Mosquitto runs as its own systemd service; this is for ``pitwall up``
on a laptop and for the test suite, which must never depend on a broker it did not start.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from pitwall import contract
from pitwall.bus.mqtt import MAX_PAYLOAD


class BrokerError(RuntimeError):
    pass


# Limits in every Mosquitto configuration Pitwall renders (the appliance's role,
# ansible/roles/mosquitto, sets the same; docs/appliance.md explains the figures). Per
# client: 200,000 queued messages or 64 MiB of them, whichever comes first (a pass is
# under 100 bytes: days of racing on every lane while the lap service is away); a message
# whose payload is over 1 MiB is refused. The largest legitimate ones are a big race's
# race/state (tens of KiB) and, on a cluster track, the archive journal entry of a
# re-scored race (about 100 bytes a lap: some 10,000 laps fit).
MAX_QUEUED_MESSAGES = 200_000
MAX_QUEUED_BYTES = 64 * 1024 * 1024
MESSAGE_SIZE_LIMIT = MAX_PAYLOAD  # Bus.publish keeps to it (see there why it must)
LIMITS = (f"max_queued_messages {MAX_QUEUED_MESSAGES}", f"max_queued_bytes {MAX_QUEUED_BYTES}",
          f"message_size_limit {MESSAGE_SIZE_LIMIT}")


def saved_file(path: Path) -> tuple[int, int] | None:
    """(inode, mtime ns) of a persistence file: each save writes a new file and renames it
    into place, so both change."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def check_persistence(pid: int, db_file: Path, timeout: float = 3.0,
                      log: Path | None = None) -> None:
    """Make the running Mosquitto ``pid`` save its persistence file now (SIGUSR1) and
    check that it did: a broker that cannot write it loses every session and queued
    message when it restarts. ``log``: its log file, for a quick answer. Raises
    BrokerError."""
    before = saved_file(db_file)
    logged = log.stat().st_size if log and log.exists() else 0
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = saved_file(db_file)
        if now is not None and now != before:
            return
        if log and log.exists():
            with open(log, "rb") as f:
                f.seek(logged)
                if b"Error" in f.read():  # e.g. "Error: Is a directory." (log_type error)
                    break
        time.sleep(0.02)
    raise BrokerError(f"Mosquitto could not write its persistence file {db_file}: a broker "
                      "restart would lose the lap service's session and queued passes")


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
        self.db_file = self.dir / "mosquitto.db"
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            # Started as root, Mosquitto would switch to user "mosquitto", which cannot
            # write persistence or logs in our private folder: stay who started it.
            f"user {getpass.getuser()}",
            # The appliance's lap service may be away for a while (restart, update): keep
            # its queued passes (far more than Mosquitto's default of 1000), but not
            # without end; and refuse oversized messages. As the appliance's broker.
            *LIMITS,
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
                if self.persistence:  # checked at every start, or it fails silently
                    try:
                        check_persistence(self.proc.pid, self.db_file,
                                          log=self.dir / "mosquitto.log")
                    except BrokerError:
                        self.stop()
                        raise
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
