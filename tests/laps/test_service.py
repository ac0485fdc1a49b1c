"""The lap service against a real broker and a real SQLite file."""

from __future__ import annotations

from pitwall import contract
from pitwall.core import MS, SECOND
from pitwall.laps import store
from pitwall.laps.service import BATCH

from .conftest import RunningService, command, running_with_batch_sizes, send_pass, start_race


def laps_in_storage(race_id: int):
    return [(r.entrant, r.lap, r.lap_ns) for r in store.laps_of(race_id)]


def test_lap_race_through_the_service_is_exact_and_stored(lap_service, probe):
    state = start_race(probe, mode="laps", laps=2, entrant="lane", min_lap_ms=1000)
    green = state.start_ns
    stamps = {  # four lanes crossing within one millisecond, then a second lap
        1: [green + 3 * SECOND, green + 6 * SECOND + 1],
        2: [green + 3 * SECOND + 250_000, green + 6 * SECOND + 7],
        3: [green + 3 * SECOND + 500_123, green + 7 * SECOND],
        4: [green + 3 * SECOND + 999_999, green + 8 * SECOND],
    }
    for lap in range(2):
        for lane, ts in stamps.items():
            send_pass(probe, lane, ts[lap])
    final = probe.wait_for(lambda: (s := probe.last_state()) and s.phase == "finished" and s,
                           what="finished race")
    expected = sorted((lane, n + 1, ts[n] - (green if n == 0 else ts[n - 1]))
                      for lane, ts in stamps.items() for n in range(2))
    assert sorted(laps_in_storage(final.race_id)) == expected
    events = probe.decoded(probe.topics.race_lap, contract.LapEvent)
    assert sorted((e.entrant, e.lap, e.lap_ns) for e in events) == expected
    assert [s.entrant for s in final.standings] == [1, 2, 3, 4]
    assert all(s.finished for s in final.standings)


def test_bounce_is_published_as_suspect_and_not_counted(lap_service, probe):
    state = start_race(probe, mode="practice", entrant="lane", min_lap_ms=2000)
    green = state.start_ns
    for t in (green + 4 * SECOND, green + 4 * SECOND + 3 * MS, green + 8 * SECOND):
        send_pass(probe, 1, t)
    events = probe.wait_for(
        lambda: len(e := probe.decoded(probe.topics.race_lap, contract.LapEvent)) == 3 and e,
        what="three lap events")
    assert [(e.suspect, e.lap, e.lap_ns) for e in events] == [
        (False, 1, 4 * SECOND), (True, 1, 3 * MS), (False, 2, 4 * SECOND)]  # from the first edge
    assert laps_in_storage(state.race_id) == [(1, 1, 4 * SECOND), (1, 2, 4 * SECOND)]


def test_director_reinstates_a_suspect_crossing_and_the_race_is_rescored(lap_service, probe):
    state = start_race(probe, mode="practice", entrant="lane", min_lap_ms=3000)
    green = state.start_ns
    for t in (green + 4 * SECOND, green + 6 * SECOND, green + 10 * SECOND):
        send_pass(probe, 1, t)
    events = probe.wait_for(
        lambda: len(e := probe.decoded(probe.topics.race_lap, contract.LapEvent)) == 3 and e)
    suspect = next(e for e in events if e.suspect)
    assert command(probe, contract.Reinstate(pass_id=suspect.pass_id)).ok
    probe.wait_for(lambda: probe.last_state().standings[0].laps == 3, what="re-scored state")
    assert laps_in_storage(state.race_id) == [(1, 1, 4 * SECOND), (1, 2, 2 * SECOND),
                                              (1, 3, 4 * SECOND)]
    assert command(probe, contract.Delete(pass_id=suspect.pass_id)).ok
    probe.wait_for(lambda: probe.last_state().standings[0].laps == 2, what="re-scored state")


def test_commands_that_do_not_fit_are_refused_with_a_reason(lap_service, probe):
    reply = command(probe, contract.Start())
    assert not reply.ok and reply.error == "no race is set up"
    assert command(probe, contract.Setup(mode="timed", entrant="lane")).error == \
        "a timed session needs a duration"
    assert command(probe, contract.Setup(mode="laps", laps=5)).ok
    assert command(probe, contract.Start()).ok
    assert "already been started" in command(probe, contract.Start()).error
    assert "finish or abort it first" in command(probe, contract.Setup(mode="laps", laps=3)).error
    assert command(probe, contract.Abort()).ok
    assert probe.wait_for(lambda: probe.last_state().phase == "aborted")


def test_passes_outside_a_race_are_stored_but_not_scored(lap_service, probe):
    send_pass(probe, 1, 123_456_789)
    probe.wait_for(lambda: store.PassRow.select().count() == 1, what="committed pass")
    row = store.PassRow.get()
    assert (row.race_id, row.lane, row.t_ns) == (None, 1, 123_456_789)
    assert probe.wait_for(lambda: probe.last_state(), what="retained state").phase == "idle"


def test_restart_restores_the_race_and_processes_passes_sent_while_down(settings, probe):
    first = RunningService(settings)
    state = start_race(probe, mode="laps", laps=10, entrant="lane", min_lap_ms=1000)
    green = state.start_ns
    send_pass(probe, 1, green + 3 * SECOND)
    probe.wait_for(lambda: probe.last_state().standings and
                   probe.last_state().standings[0].laps == 1)
    first.stop()
    for n in range(2, 6):  # published while the lap service is down
        send_pass(probe, 1, green + 3 * n * SECOND)
    second = RunningService(settings)
    try:
        final = probe.wait_for(lambda: (s := probe.last_state()) and s.standings and
                               s.standings[0].laps == 5 and s, what="five laps after restart")
        assert final.race_id == state.race_id and final.start_ns == green
        assert [lap for _, _, lap in laps_in_storage(state.race_id)] == [3 * SECOND] * 5
    finally:
        second.stop()


def test_status_is_retained_online_and_offline(settings, probe):
    running = RunningService(settings)
    status = probe.topics.status("laps")
    probe.wait_for(lambda: contract.ONLINE in probe.on(status))
    running.stop()
    probe.wait_for(lambda: probe.on(status)[-1] == contract.OFFLINE)


def test_a_backlog_is_read_in_bounded_batches_and_nothing_is_lost(settings, probe):
    """Passes queued while the service was down stay at the broker until it takes them:
    the service never holds more than one batch, and every pass is stored exactly once."""
    first = RunningService(settings)
    state = start_race(probe, mode="practice", entrant="lane", min_lap_ms=0)
    first.stop()
    n = 1500
    for i in range(n):
        lane = i % 4 + 1
        send_pass(probe, lane, state.start_ns + (i + 1) * MS)
    probe.wait_for(lambda: len(probe.on(probe.topics.lane_pass(4))) == n // 4, what="sent")

    second, sizes = running_with_batch_sizes(settings)
    try:
        final = probe.wait_for(lambda: (s := probe.last_state()) and
                               sum(x.laps for x in s.standings) == n and s,
                               timeout=30, what=f"{n} laps")
        assert final.race_id == state.race_id
        # A turn stops reading once BATCH messages came in; paho's last read of the turn
        # may add the few packets it reads at a time.
        assert max(sizes) <= 2 * BATCH and sum(sizes) == n
        assert len(sizes) >= n // BATCH  # it really came in several batches
        stored = store.PassRow.select().where(store.PassRow.race == state.race_id).count()
        assert stored == n
    finally:
        second.stop()


def test_events_are_qos_0_and_everything_else_qos_1(topic_root):
    topics = contract.Topics(topic_root)
    assert topics.qos(topics.race_lap) == topics.qos(topics.errors) == 0
    for topic in (topics.lane_pass(1), topics.race_state, topics.race_command,
                  topics.race_reply, topics.lights_state, topics.status("laps")):
        assert topics.qos(topic) == 1
