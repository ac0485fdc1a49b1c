"""A really full data partition: a small tmpfs, the real broker and the real lap service.

Nothing is injected: the data folder is a tmpfs of a few MiB that the test fills with a
file, so SQLite itself fails with "database or disk is full". The lap service must say so
(once, on the errors topic, and as status ``degraded``), free its reserve to go on, keep
its MQTT connection while it waits for space (no ``offline`` from its last will), come
back ``online`` when space returns, and store every pass exactly once.

Needs root (to mount the tmpfs), as CI and the appliance image builds run; skipped
otherwise.
"""

from __future__ import annotations

import errno
import subprocess
import threading
import time
from pathlib import Path

import msgspec
import pytest

from pitwall import contract
from pitwall.core import SECOND
from pitwall.laps import engine, space, store

from ..conftest import make_settings
from ..support import MqttProbe
from .conftest import RunningService, send_pass, start_race

DISK_MIB = 8
RESERVE_MIB = 1


@pytest.fixture
def small_disk(tmp_path):
    """A DISK_MIB tmpfs mounted for this test, unmounted afterwards whatever happens."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m,mode=0755",
                           "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(path: Path) -> None:
    """Write ``path`` until the partition is full, down to the last few bytes."""
    chunk = 1 << 16
    with open(path, "ab", buffering=0) as f:
        while chunk >= 64:
            try:
                f.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                chunk //= 2


class KeepFull(threading.Thread):
    """Something else on the box that keeps the partition full: whatever space appears
    (a WAL checkpoint, say) it takes within a few milliseconds."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.halt = path, threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            fill(self.path)
            self.halt.wait(0.02)

    def stop(self) -> None:
        self.halt.set()
        self.join(5)


def test_full_partition_degrades_reports_once_recovers_and_loses_no_pass(
        small_disk, tmp_path, broker, topic_root):
    settings = make_settings(tmp_path, broker.port, topic_root, data_dir=str(small_disk),
                             storage_reserve_mib=RESERVE_MIB)
    # A 1 s keep-alive (the settings allow 5 at least): the broker drops a client that is
    # silent for 1.5 s, so a retry back-off that stops the network loop shows at once.
    settings.mqtt = msgspec.structs.replace(settings.mqtt, keepalive_s=1)
    reserve = small_disk / space.RESERVE
    probe = MqttProbe(settings)
    running = RunningService(settings)
    keep_full = KeepFull(small_disk / "filler-2")
    try:
        probe.wait_online("laps")
        assert reserve.stat().st_size == RESERVE_MIB * space.MIB  # made at start
        state = start_race(probe, mode="practice", entrant="lane", min_lap_ms=1000)
        sent = []

        def send(n: int) -> None:
            for _ in range(n):
                lane = 1 + len(sent) % 2
                t_ns = state.start_ns + (len(sent) + 1) * 2 * SECOND
                sent.append((lane, t_ns))
                send_pass(probe, lane, t_ns)

        def stored() -> list[tuple[int, int]]:
            return [(p.lane, p.t_ns) for p in store.PassRow.select()]

        # 1. The partition fills up: the next pass cannot be stored. The service says so,
        #    frees its reserve and stores the passes after all.
        fill(small_disk / "filler-1")
        send(10)
        status = probe.topics.status("laps")
        probe.wait_for(lambda: contract.DEGRADED in probe.on(status), what="status degraded")
        probe.wait_for(lambda: len(stored()) == 10, what="passes stored on the reserve")
        assert not reserve.exists()

        # 2. Full again, and kept full: passes wait at the broker. The service backs off
        #    for longer than the broker's keep-alive allowance, and stays connected.
        keep_full.start()
        time.sleep(0.3)
        send(10)
        time.sleep(4)
        assert len(stored()) == 10, "nothing can be stored on a full partition"
        assert contract.OFFLINE not in probe.on(status), "connection lost while backing off"

        # 3. Space returns: every pass is stored, the reserve is made again, online.
        keep_full.stop()
        for filler in small_disk.glob("filler-*"):
            filler.unlink()
        probe.wait_for(lambda: len(stored()) == 20, timeout=15, what="all passes stored")
        probe.wait_for(lambda: probe.on(status)[-1:] == [contract.ONLINE], timeout=5,
                       what="status online again")
        assert reserve.stat().st_size == RESERVE_MIB * space.MIB

        # Exactly once each, and scored.
        assert sorted(stored()) == sorted(sent)
        final = probe.wait_for(lambda: (s := probe.last_state()) and
                               sum(x.laps for x in s.standings) == 20 and s,
                               what="every lap scored")
        assert [s.laps for s in final.standings] == [10, 10]
        # One report for the episode, naming the real cause; one degraded status.
        reports = probe.decoded(probe.topics.errors, contract.ErrorReport)
        assert len(reports) == 1, reports
        assert reports[0].reason.startswith("storage full: database or disk is full")
        assert [s for s in probe.on(status) if s != contract.ONLINE] == [contract.DEGRADED]
        # The WAL was checkpointed and cut back.
        wal = small_disk / "pitwall.db-wal"
        assert not wal.exists() or wal.stat().st_size <= engine.WAL_LIMIT
    finally:
        keep_full.halt.set()
        running.stop()
        probe.close()
        store.PassRow._meta.database.close()  # this thread's connection, or umount is busy
