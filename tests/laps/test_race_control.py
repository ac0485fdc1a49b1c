"""The lap service applies the race-control rules on its own clock: a jump start's
penalty shows in the standings, a deslotted car calls a yellow, the lights state
carries the power cut."""

from __future__ import annotations

import time

from pitwall import contract
from pitwall.core import SECOND

from ..conftest import make_settings
from .conftest import RunningService, send_pass, start_race


def test_jump_start_penalty_and_automatic_track_call(tmp_path, broker, topic_root, probe):
    settings = make_settings(tmp_path, broker.port, topic_root, race={
        "start_lead_ms": 0, "hold_min_ms": 300, "hold_max_ms": 300, "min_lap_ms": 100,
        "jump_start_penalty": "time", "jump_start_penalty_ms": 2500,
        "auto_yellow_factor": 2.0, "yellow_grace_ms": 0})
    running = RunningService(settings)
    try:
        state = start_race(probe, mode="laps", laps=50, entrant="lane")
        green = state.start_ns
        assert state.jump_start_penalty == "time"
        send_pass(probe, 2, green - SECOND // 2)  # lane 2 goes before green
        while time.monotonic_ns() < green + 600_000_000:
            time.sleep(0.01)
        send_pass(probe, 1, green + 300_000_000)
        send_pass(probe, 1, green + 600_000_000)  # 300 ms laps: overdue after 600 ms more
        called = probe.wait_for(lambda: (s := probe.last_state()) and s.flag == "yellow" and s,
                                timeout=5, what="automatic yellow")
        assert called.track_call == 1
        jumper = next(s for s in called.standings if s.entrant == 2)
        assert jumper.jump_start and jumper.penalty == "time" and jumper.penalty_ms == 2500.0
        # The lights state follows the race state (published right after it).
        lights = probe.wait_for(
            lambda: (ls := probe.decoded(probe.topics.lights_state, contract.LightsState))
            and ls[-1].flag == "yellow" and ls[-1], what="yellow lights state")
        assert not lights.power
        assert lights.power_cut_ns is not None
        # The call came when lane 1 was overdue: 2 x its 300 ms average after its last pass.
        assert lights.power_cut_ns >= green + 600_000_000 + 600_000_000
    finally:
        running.stop()
