"""The archive journal and its writer (docs/scale-out.md), on SQLite at both ends and the
session's real Mosquitto: the lap service (in this process) writes a journal entry with
each transaction; ``pitwall archive`` (a real process) mirrors them. The mirror must equal
the track's own tables, row for row, through a re-score, a writer killed with -9 and a
lap service restarted with entries still in its outbox."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from pitwall import contract
from pitwall.cluster import writer as writer_mod
from pitwall.laps import journal, store

from ..conftest import make_settings
from ..laps.conftest import RunningService, command, send_pass, start_race
from ..support import MqttProbe, ServiceProcess

S = 1_000_000_000
TABLES = ("race", "heat_event", "pass", "control", "lap")
QUICK_START = {"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0}


def rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608


def wait_mirrored(track: Path, mirror: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        diff = [t for t in TABLES if not mirror.exists() or rows(track, t) != rows(mirror, t)]
        if not diff:
            return
        assert time.monotonic() < deadline, f"tables {diff} differ: track " \
            f"{[rows(track, t) for t in diff]} archive " \
            f"{[rows(mirror, t) for t in diff] if mirror.exists() else 'missing'}"
        time.sleep(0.1)


def track_and_archive(tmp_path: Path, broker, topic_root: str):
    """A cluster track's settings and the archive writer's (same topic root, on one broker
    here, its own database): (track settings, track db, writer config, archive db)."""
    track = make_settings(tmp_path / "track", broker.port, topic_root,
                          race=QUICK_START, cluster={"journal": True})
    archive_cfg = tmp_path / "archive" / "pitwall.toml"
    make_settings(tmp_path / "archive", broker.port, topic_root)
    return (track, Path(track.data_dir) / "pitwall.db", archive_cfg,
            tmp_path / "archive" / "data" / "pitwall.db")


@pytest.mark.parametrize("part_rows", [journal.PART_ROWS, 2], ids=["whole", "in-parts"])
def test_the_archive_mirrors_the_track_exactly_once(tmp_path, broker, topic_root, part_rows,
                                                    monkeypatch):
    # "in-parts": every transaction's rows go in entries of two rows, as a re-score of a
    # long race does with thousands of laps.
    monkeypatch.setattr(journal, "PART_ROWS", part_rows)
    track, track_db, archive_cfg, archive_db = track_and_archive(tmp_path, broker, topic_root)
    probe = MqttProbe(track)
    writer = ServiceProcess(archive_cfg, "archive").start()
    laps = RunningService(track)
    try:
        probe.wait_online("archive")
        state = start_race(probe, mode="laps", laps=5, entrant="lane", min_lap_ms=1000,
                           entrants=[contract.EntrantSpec(lane=1, driver="Ann"),
                                     contract.EntrantSpec(lane=2, driver="Bob")])
        green = state.start_ns
        # Both lanes at the same nanosecond, a bounce on lane 1, then a lap each.
        for lane, t in ((1, green + 3 * S), (2, green + 3 * S), (1, green + 3 * S + 5),
                        (1, green + 6 * S), (2, green + 7 * S)):
            send_pass(probe, lane, t)
        probe.wait_for(lambda: len(probe.on(probe.topics.race_lap)) >= 5, what="5 lap events")
        wait_mirrored(track_db, archive_db)
        assert len(rows(archive_db, "lap")) == 4

        # A re-score: the bounce counted instead (the laps are rewritten).
        bounce = next(r for r in rows(track_db, "pass") if r[4] == green + 3 * S + 5)
        assert command(probe, contract.Reinstate(pass_id=bounce[0])).ok
        wait_mirrored(track_db, archive_db)

        # The writer dies mid-race: what it missed waits at the broker, applied once.
        writer.kill()
        for t in (green + 9 * S, green + 10 * S):
            send_pass(probe, 1, t)
            send_pass(probe, 2, t + 1)
        probe.wait_for(lambda: len(rows(track_db, "pass")) == 9, what="9 passes stored")
        writer = ServiceProcess(archive_cfg, "archive").start()
        wait_mirrored(track_db, archive_db)

        # The lap service restarts: entries still in its outbox go out again; the writer
        # recognises them (applied once) and goes on with the new ones.
        laps.stop()
        with sqlite3.connect(track_db) as con:
            unsent = con.execute("SELECT count(*) FROM journal_outbox").fetchone()[0]
        assert unsent >= 1  # the newest entries are deleted only by a later transaction
        laps = RunningService(track)
        send_pass(probe, 1, green + 12 * S)
        wait_mirrored(track_db, archive_db)
        assert [r[2] for r in rows(archive_db, "race")] != []
    finally:
        laps.stop()
        writer.stop()
        probe.close()
    log = writer.output()
    assert "Traceback" not in log, log[-2000:]


def outbox_rows(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT count(*) FROM journal_outbox").fetchone()[0]


@pytest.mark.parametrize("rescue", ["timer", "overtaken"])
def test_entries_lost_on_the_way_are_sent_again(tmp_path, broker, topic_root, monkeypatch,
                                                rescue):
    """The track's broker acknowledging an entry is not enough: published while no writer
    is subscribed, the broker drops it (as a bridge that reconnects may drop what it had
    in flight). It stays in the outbox and is sent again: after a while without receipts
    ("timer"), or at once when a later entry's receipt overtakes it ("overtaken"; the
    timer is then too slow to be what saves it). It leaves on the archive's receipt."""
    monkeypatch.setattr(journal, "RESEND_S", 0.3 if rescue == "timer" else 600.0)
    monkeypatch.setattr(journal, "RESEND_MAX_S", 1.0 if rescue == "timer" else 600.0)
    track, track_db, archive_cfg, archive_db = track_and_archive(tmp_path, broker, topic_root)
    probe = MqttProbe(track)
    laps = RunningService(track)
    writer = None
    try:
        state = start_race(probe, mode="laps", laps=9, entrant="lane", min_lap_ms=1000,
                           entrants=[contract.EntrantSpec(lane=1, driver="Ann")])
        for i in range(1, 4):
            send_pass(probe, 1, state.start_ns + i * 2 * S)
        probe.wait_for(lambda: len(rows(track_db, "pass")) == 3, what="3 passes stored")
        time.sleep(1.5)  # nobody takes them (nor their resends, with the quick timer)
        kept = outbox_rows(track_db)
        assert kept >= 4, f"only {kept} entries kept: no receipt came, none may go"
        assert laps.service.outbox.awaiting == kept

        writer = ServiceProcess(archive_cfg, "archive").start()
        probe.wait_online("archive")
        time.sleep(0.5)  # its subscription made ("online" comes with the connection)
        if rescue == "overtaken":
            send_pass(probe, 1, state.start_ns + 8 * S)
        wait_mirrored(track_db, archive_db)
        probe.wait_for(lambda: laps.service.outbox.awaiting == 0, what="all receipts")
        stored = len(rows(track_db, "pass"))
        send_pass(probe, 1, state.start_ns + 10 * S)  # a transaction: receipts deleted
        probe.wait_for(lambda: len(rows(track_db, "pass")) == stored + 1, what="stored")
        wait_mirrored(track_db, archive_db)
        assert outbox_rows(track_db) <= 2, "entries with receipts stayed in the outbox"
    finally:
        laps.stop()
        if writer is not None:
            writer.stop()
        probe.close()
    assert "Traceback" not in writer.output()


def test_entries_twice_or_out_of_order_change_nothing(tmp_path):
    settings = make_settings(tmp_path, 1883, "unused")
    db = writer_mod.open_archive(settings)
    race = {"id": 1, "name": "R", "created_at": 1.0, "config": "{}", "red_ns": None,
            "green_ns": 5, "boot_id": "b", "phase": "running", "event": None, "heat": None}
    passes = [{"id": 1, "race": 1, "lane": 1, "car": None, "t_ns": 10, "source": "sim",
               "override": None, "corrected_ns": None}]
    lap = {"id": 1, "race": 1, "passing": 1, "entrant": 1, "lap": 1, "lap_ns": 5,
           "t_ns": 10, "neutralised": False}
    first = contract.Journal(origin="o1", seq=1, races=[race], passes=passes, laps=[lap])
    later = contract.Journal(origin="o1", seq=2, races=[{**race, "phase": "finished"}])
    with db.atomic():
        # Out of order, as a reconnecting bridge may deliver: the newer first.
        assert writer_mod.apply(later)
        assert writer_mod.apply(first)  # its pass and lap land; its older race row not
        assert not writer_mod.apply(first)  # delivered again: skipped
    assert store.RaceRow.get_by_id(1).phase == "finished"
    assert store.LapRow.select().count() == 1 and store.PassRow.select().count() == 1
    # A re-score replaces the race's laps: the one not listed is gone.
    lap2 = {**lap, "id": 2, "lap_ns": 6}
    rescored = contract.Journal(origin="o1", seq=3, laps=[lap2], laps_replaced=[1])
    with db.atomic():
        assert writer_mod.apply(rescored)
    assert [(r.id, r.lap_ns) for r in store.LapRow.select()] == [(2, 6)]
    db.close()
