"""The terminal board: the pure ``render`` and ``pitwall board`` as a real process."""

from __future__ import annotations

import time

import msgspec
import pytest

from pitwall import contract
from pitwall.board import clock, render

from .support import ServiceProcess

S = 1_000_000_000


def standing(position, entrant, driver, laps, last_ms=None, best_ms=None, gap_ms=None,
             gap_laps=0, finished=False, jump_start=False):
    return contract.Standing(position=position, entrant=entrant, driver=driver, laps=laps,
                             last_ms=last_ms, best_ms=best_ms, gap_ms=gap_ms,
                             gap_laps=gap_laps, finished=finished, last_t_ns=None,
                             jump_start=jump_start)


STANDINGS = [  # deliberately out of order: the board orders by position
    standing(3, 2, "Cy", 9, 4733.0, 4498.5, gap_laps=1),
    standing(1, 3, "Ann", 10, 4512.0, 4401.25),
    standing(2, 7, "Bob", 10, 4620.999, 4455.0, gap_ms=1234.5, finished=True),
    standing(4, 5, "Dee", 7, None, 4600.0, gap_laps=3, jump_start=True),
]


def race(**changes):
    state = contract.RaceState(race_id=4, name="Club night", phase="running", mode="laps",
                               laps=20, entrant="car", start_ns=100 * S,
                               now_ns=100 * S + 65_432_100_000, flag="green",
                               standings=STANDINGS)
    return msgspec.structs.replace(state, **changes)


def table(text):
    """Rows of the standings table, split into columns."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Pos"))
    return [line.split() for line in lines[start + 1:] if line and line[0] == " "]


def test_rows_follow_position_with_entrant_driver_laps_and_times():
    rows = table(render(race(), 100))
    assert [r[:4] for r in rows] == [["1", "3", "Ann", "10"], ["2", "7", "Bob", "10"],
                                     ["3", "2", "Cy", "9"], ["4", "5", "Dee", "7"]]
    # last lap in seconds, 3 decimals, truncated (4620.999 ms is 4.620, not 4.621)
    assert [r[4] for r in rows] == ["4.512", "4.620", "4.733", "-"]


def test_race_best_lap_is_marked_once():
    text = render(race(), 100)
    bests = [r[5] for r in table(text)]
    assert bests == ["4.401*", "4.455", "4.498", "4.600"]
    assert "* race best lap 4.401 (Ann)" in text


def test_gaps_leader_seconds_and_laps():
    gaps = [" ".join(r[6:8]) if r[7:8] in (["lap"], ["laps"]) else r[6]
            for r in table(render(race(), 100))]
    assert gaps == ["leader", "+1.234", "+1 lap", "+3 laps"]


def test_finished_and_jump_start_are_flagged():
    lines = render(race(), 100).splitlines()
    bob = next(line for line in lines if " Bob " in line)
    dee = next(line for line in lines if " Dee " in line)
    ann = next(line for line in lines if " Ann " in line)
    assert bob.endswith("finished") and dee.endswith("jump start")
    assert "finished" not in ann and "jump" not in ann


def test_header_has_race_mode_phase_flag_clock_and_laps_to_go():
    lines = render(race(), 100).splitlines()
    assert lines[0] == "Club night - lap race - running - flag green"
    assert lines[1] == "clock 1:05.4   laps to go 10 of 20"


def test_timed_race_shows_time_left():
    text = render(race(mode="timed", laps=None, duration_s=300,
                       ends_ns=100 * S + 300 * S), 100)
    assert "clock 1:05.4   time left 3:54.5" in text


def test_endurance_shows_pit_stint_stops_and_pace():
    red = msgspec.structs.replace(
        STANDINGS[1], driver="Red Bulls", pace="good",
        stint=contract.StintNow(no=2, driver="Bob", lap_in=40, laps=12, start_ns=0,
                                end_ns=None, best_ms=4401.25, avg_ms=4450.0),
        pit=contract.PitNow(in_pit=True, since_ns=0, stops=1, required=3, last_ms=None,
                            loss_ms=None))
    text = render(race(mode="endurance", laps=None, duration_s=3600,
                       ends_ns=100 * S + 3600 * S, standings=[red]), 120)
    assert "endurance" in text and "time left 58:54.5" in text
    assert "IN PIT, Bob #2 12L, stops 1/3, good" in text


def test_before_green_shows_lights_and_no_clock():
    state = race(phase="starting", start_ns=None, flag="none", now_ns=10 * S,
                 lights=contract.Lights(red_ns=[8 * S, 9 * S, 10 * S, 11 * S, 12 * S],
                                        green_ns=14 * S))
    assert render(state, 100).splitlines()[1].startswith("start lights 3/5 red")


def test_no_race():
    text = render(contract.RaceState(race_id=None, phase="idle", now_ns=0), 80)
    assert text.startswith("Pitwall - no race set up") and "(no entrants)" in text


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_lines_fit_the_width_and_long_names_are_cut(width):
    long = standing(1, 1, "Bartholomew Longname-Smithington III", 3, 4000.0, 4000.0)
    text = render(race(standings=[long]), width)
    assert all(len(line) <= width for line in text.splitlines())
    row = next(line for line in text.splitlines() if line.startswith("  1 "))
    assert "Barth" in row and "~" in row and "Smithington III" not in row  # cut, marked
    assert "4.000*" in row  # times keep their place; the driver column gives way


@pytest.mark.parametrize(("ns", "shown"), [
    (0, "0:00.0"), (4_512_000_000, "0:04.5"), (65_432_100_000, "1:05.4"),
    (3_725 * S, "1:02:05"), (-5, "0:00.0"),
])
def test_clock(ns, shown):
    assert clock(ns) == shown


def test_board_once_prints_the_retained_state(settings, probe, tmp_path):
    probe.publish(probe.topics.race_state, race(), retain=True)
    board = ServiceProcess(tmp_path / "pitwall.toml", "board", "--once").start()
    try:
        assert board.proc.wait(10) == 0, board.output()
    finally:
        board.stop()
    out = board.output()
    assert "Club night - lap race - running" in out
    for driver in ("Ann", "Bob", "Cy", "Dee"):
        assert f" {driver} " in out
    assert "4.401*" in out and "\x1b[" not in out  # not a terminal: no ANSI


def test_board_once_without_a_state_says_so(settings, probe, tmp_path):
    board = ServiceProcess(tmp_path / "pitwall.toml", "board", "--once",
                           "--timeout", "0.5").start()
    try:
        assert board.proc.wait(10) == 1
    finally:
        board.stop()
    assert "no race state on" in board.output()


def test_board_in_a_log_prints_one_block_per_race_change(settings, probe, tmp_path):
    board = ServiceProcess(tmp_path / "pitwall.toml", "board").start()
    try:
        probe.publish(probe.topics.race_state, race(), retain=True)
        wait_output(board, "Ann")
        # the same race a moment later (clock only): no new block
        probe.publish(probe.topics.race_state, race(now_ns=200 * S), retain=True)
        later = [standing(1, 3, "Ann", 11, 4499.0, 4401.25), *STANDINGS[2:]]
        probe.publish(probe.topics.race_state, race(standings=later), retain=True)
        wait_output(board, "laps to go 9 of 20")
    finally:
        rc = board.stop()
    assert rc == 0
    assert board.output().count("Club night - lap race") == 2


def wait_output(proc, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while text not in proc.output():
        assert time.monotonic() < deadline, f"{text!r} not in output:\n{proc.output()}"
        time.sleep(0.05)
