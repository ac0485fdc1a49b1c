"""Hardening (issue 16, the lap service's side): implausible passes are refused and kept
aside, a rolled-back batch reports each bad message once, and bad input cannot amplify
itself into the log or the errors topic. Real Mosquitto, paho and SQLite throughout."""

from __future__ import annotations

import logging
import time
import uuid

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from pitwall import contract
from pitwall.core import SECOND
from pitwall.laps import store

from ..conftest import make_settings
from ..support import MqttProbe
from .conftest import RunningService, command, running_with_batch_sizes, send_pass, start_race

FAST_START = {"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0,
              "green_countdown_ms": 0}
REPORT_BOUND = 1024  # an error message: three quoted fields of 200 bytes and the keys


def reports(probe) -> list[contract.ErrorReport]:
    return probe.decoded(probe.topics.errors, contract.ErrorReport)


def wait_running(probe, **setup) -> contract.RaceState:
    state = start_race(probe, **setup)
    probe.wait_for(lambda: probe.last_state().phase == "running", timeout=10, what="green")
    return state


def test_implausible_passes_are_refused_kept_aside_and_never_scored(tmp_path, broker,
                                                                     topic_root):
    settings = make_settings(tmp_path, broker.port, topic_root, track_lanes=2,
                             race={**FAST_START, "pass_horizon_s": 600})
    running = RunningService(settings)
    probe = MqttProbe(settings)
    try:
        g = wait_running(probe, mode="practice", entrant="lane", min_lap_ms=0).start_ns
        send_pass(probe, 1, g + 1 * SECOND)
        send_pass(probe, 1, 5)  # before the race was set up
        send_pass(probe, 1, 2**62)  # 146 years ahead of anything in the race
        send_pass(probe, 7, g + 2 * SECOND)  # the track has two lanes
        send_pass(probe, 2, g + 3 * SECOND)
        # Beyond what storage holds: refused by the contract, not by SQLite mid-batch.
        probe.publish(probe.topics.lane_pass(1), msgspec.json.encode(
            {"lane": 1, "t_ns": 2**63, "source": "sim"}))
        send_pass(probe, 1, g + 4 * SECOND)
        send_pass(probe, 7, g + 2 * SECOND)  # a redelivery of a refused pass: kept once
        send_pass(probe, 2, g + 5 * SECOND)
        state = probe.wait_for(
            lambda: (s := probe.last_state()) and {x.entrant: x.laps for x in s.standings}
            == {1: 2, 2: 2} and s, what="the valid passes scored")
        assert state.refused == 3
        assert all(x.best_ms < 5_000 for x in state.standings)  # no lap of 4.6e12 ms

        got = reports(probe)
        refused = [r.reason for r in got if r.reason.startswith("refused pass")]
        assert len(refused) == 3, refused
        assert any("before race" in r for r in refused)
        assert any("ahead of race" in r for r in refused)
        assert any("lane 7 is not a lane of race" in r for r in refused)
        bad = [r.reason for r in got if r.reason.startswith("bad pass")]
        assert len(bad) == 1 and str(2**63 - 1) in bad[0], bad
        assert not [r for r in got if "internal error" in r.reason]
        assert running.service.counters.totals["retries"] == 0  # no batch rolled back

        kept = store.refused_of(state.race_id)
        assert sorted((r.lane, r.t_ns) for r in kept) == [(1, 5), (1, 2**62),
                                                          (7, g + 2 * SECOND)]
        stamps = {p.t_ns for p in store.PassRow.select()}
        assert stamps == {g + 1 * SECOND, g + 3 * SECOND, g + 4 * SECOND, g + 5 * SECOND}
    finally:
        probe.close()
        running.stop()
    # Restarted, the service knows the race's refused passes (and still refuses them).
    again = RunningService(settings)
    probe = MqttProbe(settings)
    try:
        probe.wait_for(lambda: (s := probe.last_state()) and s.refused == 3,
                       what="the refused count after a restart")
    finally:
        probe.close()
        again.stop()


def test_a_batch_rolled_back_and_retried_reports_each_bad_message_once(settings, probe,
                                                                       monkeypatch):
    """Bad messages queued with one that trips a bug: the batch is rolled back and retried
    one by one, and each bad message is reported exactly once (not also for the attempt
    that was rolled back)."""
    first = RunningService(settings)
    state = start_race(probe, mode="practice", entrant="lane", min_lap_ms=0)
    first.stop()
    poison = state.start_ns + 7 * SECOND
    bad = [b"not json", b'{"lane": 1}', b'{"lane": 1, "t_ns": "soon"}',
           b'{"lane": 1, "t_ns": 3, "zz": 1}']
    for payload in bad:
        probe.publish(probe.topics.lane_pass(1), payload)
    send_pass(probe, 1, 5)  # before the set-up: refused and kept aside
    probe.publish(probe.topics.race_command, b'{"cmd": "warp"}')
    send_pass(probe, 2, poison)
    send_pass(probe, 1, state.start_ns + 9 * SECOND)
    probe.wait_for(lambda: len(probe.on(probe.topics.lane_pass(1))) == 6, what="all sent")
    n_bad = len(bad) + 3  # and the refused pass, the bad command, the poison

    real = store.insert_pass

    def insert_pass(race_id, lane, car, t_ns, source):
        if t_ns == poison:
            raise KeyError("boom")
        return real(race_id, lane, car, t_ns, source)

    monkeypatch.setattr(store, "insert_pass", insert_pass)
    second, sizes = running_with_batch_sizes(settings)
    try:
        probe.wait_for(lambda: (s := probe.last_state()) and s.standings
                       and s.standings[0].laps == 1, what="the valid pass counted")
        assert sizes[0] == n_bad + 1  # all of it in one batch: the one that failed
        assert second.service.counters.totals["retries"] == 1
        time.sleep(0.5)  # anything more would have been sent by now
        got = reports(probe)
        assert len(got) == n_bad, [r.reason for r in got]
        assert sum("internal error" in r.reason for r in got) == 1
        assert store.QuarantineRow.select().count() == 1  # the retry kept it once
    finally:
        second.stop()


def test_huge_bad_messages_are_quoted_short_and_repeated_reports_summarised(
        tmp_path, broker, topic_root, caplog):
    """20 bad passes of 1 MB (the value, or an unknown field's name, that the reason would
    quote) and 5 bad commands: every report and log line stays short, and past the burst
    the rest are counted in one summary per topic and kind of reason."""
    settings = make_settings(tmp_path, broker.port, topic_root,
                             mqtt={"port": broker.port, "topic_root": topic_root,
                                   "error_burst": 5, "error_window_s": 3.0})
    running = RunningService(settings)
    probe = MqttProbe(settings)
    try:
        caplog.set_level(logging.INFO, logger="pitwall")
        huge = "x" * 1_000_000
        for i in range(20):
            body = {"lane": 1, "t_ns": huge} if i % 2 else {"lane": 1, "t_ns": 1, huge: 1}
            probe.publish(probe.topics.lane_pass(1), msgspec.json.encode(body))
        for _ in range(5):
            probe.publish(probe.topics.race_command,
                          msgspec.json.encode({"cmd": "setup", "mode": huge}))

        def represented():
            got = reports(probe)
            return sum(r.suppressed or 1 for r in got) == 25 and got

        got = probe.wait_for(represented, timeout=15, what="25 bad messages reported")
        assert running.thread.is_alive()
        raw = probe.on(probe.topics.errors)
        assert max(len(m) for m in raw) <= REPORT_BOUND
        assert all(len(r.reason.encode()) <= contract.REPORT_MAX
                   and len(r.payload.encode()) <= contract.REPORT_MAX for r in got)
        # 5 reports of each kind a window, then one summary for the passes held back (in one
        # 3 s window: 5 + 5 reports and a summary of 15; more if sending took longer).
        summaries = [r for r in got if r.suppressed]
        assert summaries and all(r.topic == probe.topics.lane_pass(1) for r in summaries)
        assert len(got) <= 5 + 5 + 1 + 6 * (len(summaries) - 1)
        assert len(got) < 25
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("pitwall")]
        assert max(len(line) for line in lines) <= 2 * contract.REPORT_MAX + 200
        assert sum(len(line) for line in lines) < 20_000
    finally:
        probe.close()
        running.stop()


# ---------------------------------------------------------------- fuzz
class LogSizes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.longest = 0
        self.total = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + (record.exc_text or "")
        self.longest = max(self.longest, len(text))  # handle() holds the handler's lock
        self.total += len(text)


@pytest.fixture(scope="module")
def fuzz_rig(tmp_path_factory, broker):
    tmp = tmp_path_factory.mktemp("fuzz")
    root = f"f{uuid.uuid4().hex[:8]}"
    settings = make_settings(tmp, broker.port, root, track_lanes=4, race=FAST_START)
    sizes = LogSizes()
    logger = logging.getLogger("pitwall")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(sizes)
    running = RunningService(settings)
    probe = MqttProbe(settings)
    start_race(probe, mode="practice", entrant="lane", min_lap_ms=0)
    try:
        yield running, probe, sizes
    finally:
        probe.close()
        running.stop()
        logger.removeHandler(sizes)
        logger.setLevel(level)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                  max_size=4),
    max_leaves=10)
pass_payloads = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from(["lane", "car", "t_ns", "source", "zz"]), json_values,
                    max_size=5).map(msgspec.json.encode),
    st.fixed_dictionaries({"lane": st.integers(-5, 70), "t_ns": st.integers(-1, 2**64),
                           "car": st.none() | st.integers(-1, 300)}).map(msgspec.json.encode),
    st.integers(1, 300_000).map(lambda n: b'{"lane": 1, "t_ns": "' + b"9" * n + b'"}'),
    st.integers(1, 300_000).map(lambda n: b'{"lane": 1, "' + b"k" * n + b'": 1}'),
)
command_payloads = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.text(max_size=12), json_values, max_size=5).map(msgspec.json.encode),
    st.fixed_dictionaries(
        {"cmd": st.sampled_from(["setup", "start", "yellow", "green", "red", "finish",
                                 "reinstate", "delete", "add_pass", "move_pass", "pit_in",
                                 "driver", "penalty", "heats", "warp"])},
        optional={"mode": json_values, "laps": json_values, "pass_id": json_values,
                  "t_ns": json_values, "race_id": json_values, "entrants": json_values,
                  "id": st.text(max_size=80)}).map(msgspec.json.encode),
    st.integers(1, 300_000).map(lambda n: b'{"cmd": "' + b"c" * n + b'"}'),
)
lane_topics = st.one_of(st.integers(0, 70).map(str), st.text("abc/+#", min_size=1,
                                                             max_size=5))


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passes=st.lists(st.tuples(lane_topics, pass_payloads), max_size=6),
       commands=st.lists(command_payloads, max_size=4))
def test_fuzzed_pass_and_command_topics_keep_the_service_up_and_its_output_bounded(
        fuzz_rig, passes, commands):
    running, probe, sizes = fuzz_rig
    root = probe.topics.root
    sent_bytes = 0
    for level, payload in passes:
        topic = f"{root}/lane/{level}/pass"
        if "+" in level or "#" in level:
            continue  # not a topic one can publish to
        probe.client.publish(topic, payload, qos=1)
        sent_bytes += len(payload)
    for payload in commands:
        probe.client.publish(probe.topics.race_command, payload, qos=1)
    # A command of our own, after all of them: once it is answered, they were processed.
    command(probe, contract.Yellow(), timeout=15)
    assert running.thread.is_alive()
    assert max((len(m) for m in probe.on(probe.topics.errors)), default=0) <= REPORT_BOUND
    assert sizes.longest <= 4 * REPORT_BOUND, "a log line quotes too much"
    assert sizes.total < 2_000_000  # over the whole run, whatever was sent
