"""End to end: a local Apex server plays a session over a real WebSocket, ``pitwall feed
apex`` (a real process) ingests it through the session's Mosquitto into a real lap
service, and the API's standings, laps and stints are the feed's own. Then the same with
the connection dropped mid-session, and a replay of the raw archive identical to live.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pitwall.feed import archive
from pitwall.feed.archive import ArchiveWriter

from .apex_session import ApexSession, recorded_session
from .support import check_against_the_feed, live, replay, results


def test_a_live_session_becomes_the_same_race_in_pitwall(stack):
    session = ApexSession(teams=6, duration_s=600, seed=7, stops=1)
    run, server = live(stack, session, speed=200, name="live")
    assert server.connections == 1
    check_against_the_feed(stack, session, run, server.state.final())
    assert run.errors == [], run.errors
    state = run.state
    assert (state.mode, state.entrant, state.duration_s) == ("endurance", "car", 600)
    # Every message the feed sent is in the archive, in order, as it came.
    sent = archive.read(run.archive)
    assert sent[0].data.startswith("init|r|") and len(sent) == len(session.frames) + 1
    assert [m.t_ns for m in sent] == sorted(m.t_ns for m in sent)


def test_a_dropped_connection_loses_and_doubles_nothing(stack):
    session = ApexSession(teams=6, duration_s=600, seed=11, stops=1)
    drop = quiet_moment(session)
    run, server = live(stack, session, speed=100, name="drop", drop_at_ms=drop)
    assert server.connections == 2, "the adapter reconnected once"
    # Batches went out while the adapter was away (laps among them): the snapshot on
    # reconnection brought them back.
    missed = [t for t, _, kind, _, _ in session.events if kind == "lap" and
              server.unsent and server.unsent[0] <= t <= server.unsent[-1]]
    assert missed, "no lap fell in the gap: the test proves nothing"
    check_against_the_feed(stack, session, run, server.state.final())
    assert run.errors == [], run.errors
    assert "reconnecting in" in run.log


THREE_HOURS = dict(teams=20, duration_s=3 * 3600, lap_ms=58_000, stops=3,
                   pit_ms=(60_000, 120_000), title="3 Heures")


def test_a_three_hour_session_replayed_fast_is_identical_to_live(stack, tmp_path):
    session = ApexSession(seed=3, **THREE_HOURS)
    run, server = live(stack, session, speed=4000, name="3h-live")
    expected = check_against_the_feed(stack, session, run, server.state.final())
    # The adapter's own archive of that run, replayed.
    again = replay(stack, run.archive, speed=100, teams=20, name="3h-own-archive")
    assert results(stack, again) == expected and again.errors == []
    # The session as the track's three hours were recorded (receive times in real time),
    # replayed at 10,000x: 1.1 s.
    recording = record(session, tmp_path / "3h.jsonl.gz")
    fast = replay(stack, recording, speed=10_000, teams=20, name="3h-replay-10000x")
    assert results(stack, fast) == expected and fast.errors == []
    assert len({run.race_id, again.race_id, fast.race_id}) == 3


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("PITWALL_SLOW") != "1",
                    reason="108 s: set PITWALL_SLOW=1 to replay a 3-hour session at 100x")
def test_a_three_hour_session_replayed_at_100x_is_identical_to_live(stack, tmp_path):
    session = ApexSession(seed=5, **THREE_HOURS)
    run, server = live(stack, session, speed=4000, name="3h-live-slow")
    expected = check_against_the_feed(stack, session, run, server.state.final())
    recording = record(session, tmp_path / "3h.jsonl.gz")
    began = time.monotonic()
    again = replay(stack, recording, speed=100, teams=20, name="3h-replay-100x",
                   timeout=300)
    assert time.monotonic() - began >= 3 * 3600 / 100, "the replay kept to its speed"
    assert results(stack, again) == expected and again.errors == []


def record(session: ApexSession, path) -> Path:
    """An archive of the session as the adapter records it at the track, in real time."""
    writer = ArchiveWriter(path.parent)
    out = writer.start(session.title2)
    for t_ns, text in recorded_session(session):
        writer.write(t_ns, text)
    writer.close()
    return out


def quiet_moment(session: ApexSession) -> int:
    """A time past a third of the session with no pit entry or exit in the next minute
    (a stop missed while away cannot be timed, and is reported as such) and laps in it."""
    pits = [t for t, _, kind, _, _ in session.events if kind != "lap"]
    laps = [t for t, _, kind, _, _ in session.events if kind == "lap"]
    for t in range(session.duration_ms // 3, session.duration_ms, 1000):
        if not any(t - 5000 <= p <= t + 60_000 for p in pits) and \
                sum(t <= x <= t + 15_000 for x in laps) >= 2:
            return t
    raise AssertionError("no quiet minute in the session")
