"""Backups while races run, and restores that change nothing unless everything checks.

The lap service is a real process on the session's Mosquitto; ``pitwall backup`` runs as
the maintainer runs it. A pass is acknowledged when the lap service has published its lap
(it publishes only what it committed)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time

import msgspec
import pytest

from pitwall import contract
from pitwall.backup import archive

from ..laps.conftest import send_pass, start_race
from .conftest import rows


class Streamer:
    """Passes on four lanes, every few milliseconds, stamped as a sensor would."""

    def __init__(self, probe) -> None:
        self.probe, self.sent = probe, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            lane = self.sent % 4 + 1
            send_pass(self.probe, lane, time.monotonic_ns())
            self.sent += 1
            time.sleep(0.002)

    def __enter__(self) -> Streamer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def laps_seen(probe) -> list[contract.LapEvent]:
    return probe.decoded(probe.topics.race_lap, contract.LapEvent)


def test_a_backup_during_a_race_holds_every_acknowledged_pass(box, tmp_path):
    state = start_race(box.probe, mode="laps", laps=100_000, entrant="lane")
    with Streamer(box.probe) as streamer:
        box.probe.wait_for(lambda: len(laps_seen(box.probe)) >= 100, timeout=30,
                           what="100 laps acknowledged")
        acknowledged = laps_seen(box.probe)  # each one committed before the backup began
        sent_before = streamer.sent
        data = archive.create(box.data / "pitwall.db", {"track_name": "x"})
        sent_during = streamer.sent - sent_before
        box.probe.wait_for(lambda: streamer.sent > sent_before + 50, what="more passes")
    assert sent_during > 0 or streamer.sent > sent_before, "the race stopped streaming"

    checked = archive.verify(data, tmp_path / "check")
    con = sqlite3.connect(checked.db_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = dict(con.execute("SELECT id, t_ns FROM pass WHERE race_id = ?",
                                  (state.race_id,)).fetchall())
    finally:
        con.close()
    missing = [ev for ev in acknowledged if stored.get(ev.pass_id) != ev.t_ns]
    assert not missing, f"{len(missing)} acknowledged passes are not in the backup"
    assert checked.passes == len(stored) >= len(acknowledged)
    # The race went on while the backup was made, and after: the live database has more.
    box.probe.wait_for(lambda: len(box.passes()) > checked.passes, what="passes after")


def finish_a_race(box, passes: int, *, name: str, run: bool = False) -> int:
    """A race with ``passes`` crossings stored. ``run``: started and finished (the five
    reds take four seconds); otherwise set up and crossed before any start, which stores
    the passes just the same (what a backup is about) and is replaced by the next set-up."""
    if not run:
        reply = box.command(contract.Setup(mode="laps", laps=1000, entrant="lane", name=name))
        assert reply.ok, reply.error
        race_id, t = reply.race_id, time.monotonic_ns()
    else:
        state = start_race(box.probe, mode="laps", laps=1000, entrant="lane", name=name)
        race_id, t = state.race_id, state.start_ns
    for i in range(passes):
        t += 50_000_000
        send_pass(box.probe, i % 2 + 1, t)
    box.probe.wait_for(lambda: len([p for p in box.passes() if p[0] == race_id])
                       == passes, what=f"{passes} passes of {name}")
    if run:
        while time.monotonic_ns() <= t:  # the stamps are the sensors' own: let the clock pass
            time.sleep(0.01)
        assert box.command(contract.Finish()).ok
    return race_id


def test_restore_through_the_lap_service_swaps_the_database_and_keeps_the_old(box):
    first = finish_a_race(box, 12, name="Before")
    made = box.pitwall("backup", "create", "--out", str(box.tmp))
    assert made.returncode == 0, made.stderr
    assert "1 race, 12 passes" in made.stdout
    backup = next(box.tmp.glob("pitwall-backup-*.tar.gz"))
    assert box.pitwall("backup", "verify", str(backup)).returncode == 0

    second = finish_a_race(box, 8, name="After")
    assert second != first
    done = box.pitwall("backup", "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout, done.stdout
    assert {p[0] for p in box.passes()} == {first}
    assert len(box.passes()) == 12
    kept = list(box.data.glob("pitwall.db.before-restore-*"))
    assert len(kept) == 1 and {p[0] for p in box.passes(kept[0])} == {first, second}
    # The lap service took it up: its state is the restored newest race, and it goes on
    # storing into the restored database.
    box.probe.wait_for(lambda: (s := box.probe.last_state()) and s.race_id == first,
                       what="the restored race in the state")
    third = finish_a_race(box, 4, name="Next")
    assert {p[0] for p in box.passes()} == {first, third}
    assert "took up a restored backup" in box.laps.output()


def test_a_restore_is_refused_during_a_race_and_nothing_changes(box):
    finish_a_race(box, 6, name="Done")
    assert box.pitwall("backup", "create", "--out", str(box.tmp)).returncode == 0
    backup = next(box.tmp.glob("pitwall-backup-*.tar.gz"))
    live = start_race(box.probe, mode="laps", laps=1000, entrant="lane", name="Live")
    send_pass(box.probe, 1, live.start_ns + 100_000_000)
    box.probe.wait_for(lambda: len(box.passes()) == 7, what="the live race's pass")
    refused = box.pitwall("backup", "restore", str(backup))
    assert refused.returncode == 1
    assert "finish or abort it first" in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert not (box.data / archive.STAGED).exists()
    send_pass(box.probe, 1, live.start_ns + 200_000_000)
    box.probe.wait_for(lambda: len(box.passes()) == 8, what="the race goes on")
    assert box.probe.last_state().race_id == live.race_id


def test_a_truncated_or_foreign_archive_is_refused_and_nothing_changes(box):
    finish_a_race(box, 6, name="Keep")
    assert box.pitwall("backup", "create", "--out", str(box.tmp)).returncode == 0
    good = next(box.tmp.glob("pitwall-backup-*.tar.gz")).read_bytes()
    db = box.data / "pitwall.db"
    before = hashlib.sha256(archive.snapshot(db)).hexdigest()
    cases = {
        "truncated": (good[: len(good) // 2], "damaged or incomplete"),
        "empty": (b"", "empty"),
        "foreign": (archive.tar_gz({"notes.txt": b"hello"}), "no manifest.json"),
        "garbage": (b"\x1f\x8b" + bytes(range(256)) * 4, "damaged or incomplete"),
    }
    for name, (data, says) in cases.items():
        path = box.tmp / f"{name}.tar.gz"
        path.write_bytes(data)
        done = box.pitwall("backup", "restore", str(path))
        assert done.returncode == 1, (name, done.stdout)
        assert says in done.stderr and "nothing was changed" in done.stderr, (name,
                                                                               done.stderr)
        assert not (box.data / archive.STAGED).exists(), name
        assert not list(box.data.glob(".verify-*")), name
    assert hashlib.sha256(archive.snapshot(db)).hexdigest() == before
    assert not list(box.data.glob("pitwall.db.before-restore-*"))


def test_a_restore_staged_while_the_lap_service_is_down_is_taken_up_when_it_starts(box):
    finish_a_race(box, 5, name="Saved")
    assert box.pitwall("backup", "create", "--out", str(box.tmp)).returncode == 0
    backup = next(box.tmp.glob("pitwall-backup-*.tar.gz"))
    finish_a_race(box, 3, name="Lost")
    box.laps.stop()
    box.probe.wait_for(lambda: box.probe.on(box.probe.topics.status("laps"))[-1:]
                       == [contract.OFFLINE], what="lap service offline")
    done = box.pitwall("backup", "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert "takes the backup up when it starts" in done.stdout
    assert (box.data / archive.STAGED).exists()
    box.laps.start()
    box.probe.wait_online("laps")
    assert not (box.data / archive.STAGED).exists()
    assert len(box.passes()) == 5


def tampered(good: bytes, **manifest_changes) -> bytes:
    members = archive._members(good)
    manifest = msgspec.json.decode(members[archive.MANIFEST])
    manifest.update(manifest_changes)
    members[archive.MANIFEST] = msgspec.json.encode(manifest)
    return archive.tar_gz(members)


@pytest.fixture
def good_archive(tmp_path) -> bytes:
    db = tmp_path / "src" / "pitwall.db"
    db.parent.mkdir()
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE race (id INTEGER PRIMARY KEY);"
                      "CREATE TABLE pass (id INTEGER PRIMARY KEY, race_id INT);"
                      "INSERT INTO race VALUES (1); INSERT INTO pass VALUES (1, 1);")
    con.commit()
    con.close()
    return archive.create(db, {"director_pin": archive.SETTINGS})


@pytest.mark.parametrize("change, says", [
    ({"format": "something-else"}, "not a Pitwall backup"),
    ({"version": 99}, "newer than this Pitwall reads"),
    ({"files": {}}, "lists no database"),
])
def test_a_manifest_that_is_not_ours_is_refused(good_archive, tmp_path, change, says):
    with pytest.raises(archive.BackupError, match=says):
        archive.verify(tampered(good_archive, **change), tmp_path)


def test_a_database_that_fails_its_checksum_or_its_integrity_check_is_refused(
        good_archive, tmp_path):
    members = archive._members(good_archive)
    broken = bytearray(members[archive.DB])
    broken[-10] ^= 0xFF
    with pytest.raises(archive.BackupError, match="does not match its checksum"):
        archive.verify(archive.tar_gz({**members, archive.DB: bytes(broken)}), tmp_path)
    # A manifest that vouches for a damaged database: the integrity check still says no.
    damaged = bytearray(members[archive.DB])
    damaged[4096:4196] = b"\xff" * 100  # page 2's b-tree header: the race table's root
    manifest = msgspec.json.decode(members[archive.MANIFEST])
    manifest["files"][archive.DB]["sha256"] = hashlib.sha256(damaged).hexdigest()
    with pytest.raises(archive.BackupError, match="integrity check|cannot be read|no Pitwall"):
        archive.verify(archive.tar_gz({**members, archive.MANIFEST: msgspec.json.encode(
            manifest), archive.DB: bytes(damaged)}), tmp_path)
    assert not list(tmp_path.glob(".verify-*"))


def test_settings_in_a_backup_carry_no_secrets(box):
    assert box.pitwall("backup", "create", "--out", str(box.tmp)).returncode == 0
    members = archive._members(next(box.tmp.glob("pitwall-backup-*.tar.gz")).read_bytes())
    settings = msgspec.json.decode(members[archive.SETTINGS])
    assert settings["mqtt"]["topic_root"] == box.settings.mqtt.topic_root
    assert settings["director_pin"] in ("", "(removed: a secret)")
    assert rows(box.data / "pitwall.db", "SELECT count(*) FROM race")[0][0] >= 0
