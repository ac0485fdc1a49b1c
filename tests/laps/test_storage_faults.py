"""Storage faults: a full disk keeps the pass until it can be stored; a message that trips
a bug is reported and the service carries on. Faults are injected into the storage
adapter; the broker, paho and SQLite are real."""

from __future__ import annotations

import peewee

from pitwall import contract
from pitwall.core import SECOND
from pitwall.laps import store

from .conftest import send_pass, start_race


def failing(monkeypatch, times: int, exc: Exception):
    real = store.insert_pass
    calls = {"n": 0}

    def insert_pass(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "insert_pass", insert_pass)
    return calls


def test_full_disk_keeps_the_pass_and_stores_it_when_space_returns(lap_service, probe,
                                                                     monkeypatch, caplog):
    state = start_race(probe, mode="practice", entrant="lane", min_lap_ms=1000)
    calls = failing(monkeypatch, 3, peewee.OperationalError("database or disk is full"))
    send_pass(probe, 1, state.start_ns + 4 * SECOND)
    send_pass(probe, 2, state.start_ns + 5 * SECOND)
    final = probe.wait_for(lambda: (s := probe.last_state()) and len(s.standings) == 2 and s,
                           timeout=15, what="both passes stored after the disk error")
    assert calls["n"] >= 5  # three failures, then both passes stored
    assert [s.laps for s in final.standings] == [1, 1]
    assert store.PassRow.select().count() == 2
    assert "storage error" in caplog.text and "retrying" in caplog.text


def test_a_message_that_trips_a_bug_is_reported_and_the_service_goes_on(lap_service, probe,
                                                                         monkeypatch):
    state = start_race(probe, mode="practice", entrant="lane", min_lap_ms=1000)
    poison = state.start_ns + 4 * SECOND
    real = store.insert_pass

    def insert_pass(race_id, lane, car, t_ns, source):
        if t_ns == poison:  # this message fails every time it is tried
            raise KeyError("boom")
        return real(race_id, lane, car, t_ns, source)

    monkeypatch.setattr(store, "insert_pass", insert_pass)
    send_pass(probe, 1, poison)
    reports = probe.wait_for(lambda: probe.decoded(probe.topics.errors, contract.ErrorReport),
                             what="error report")
    assert "internal error" in reports[0].reason and "boom" in reports[0].reason
    send_pass(probe, 1, state.start_ns + 8 * SECOND)
    probe.wait_for(lambda: (s := probe.last_state()) and s.standings and
                   s.standings[0].laps == 1, what="next pass counted")
    assert lap_service.thread.is_alive()
