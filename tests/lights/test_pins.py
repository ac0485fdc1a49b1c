"""Exact pin sequences, with their timing, on gpiozero's MockFactory.

Time is the test's: the clock and the scheduler are driven, nothing sleeps. The race
core decides (as in the lap service) and the lights render; each timeline entry is
(seconds, panel) with the panel read back from the mock pins, active-low relay included.
Panel legend: 'RRRRR GYXC B P' = five reds, green, yellow, red flag, chequered, buzzer,
power.
"""

from __future__ import annotations

from pitwall.core import ControlKind, Crossing

from .conftest import MS, S, race

OFF = "..... .... . ."


def started(rig, **cfg):
    """Start command at 0: reds at 1..5 s, green at 7.5 s."""
    r = race(**cfg)
    r.start(now_ns=0, lead_ns=1 * S, hold_ns=2500 * MS)
    rig.lap_service(r)
    return r


def test_no_state_means_no_power_and_a_red_flag(rig):
    assert rig.panel() == "..... ..X. . ."  # before anything is heard from the lap service
    assert rig.factory.pin(19).state is True  # active-low relay: high = released = no power


def test_start_sequence_reds_a_second_apart_beeps_then_green_and_power(rig):
    started(rig)
    assert rig.run_until(9 * S) == [
        (0.0, OFF),
        (1.0, "R.... .... B ."), (1.15, "R.... .... . ."),
        (2.0, "RR... .... B ."), (2.15, "RR... .... . ."),
        (3.0, "RRR.. .... B ."), (3.15, "RRR.. .... . ."),
        (4.0, "RRRR. .... B ."), (4.15, "RRRR. .... . ."),
        (5.0, "RRRRR .... B ."), (5.15, "RRRRR .... . ."),
        (7.5, "..... G... B P"), (8.1, "..... G... . P"),
    ]
    assert rig.factory.pin(19).state is False  # active-low relay: low = energised


def test_jump_start_with_restart_penalty_puts_the_lights_out_and_keeps_power_off(rig):
    r = started(rig, jump_start_penalty="restart")
    rig.run_until(3200 * MS)
    assert rig.panel() == "RRR.. .... . ."
    rig.clock.t = 3400 * MS
    r.add(Crossing(1, lane=2, car=None, t_ns=3400 * MS))  # between first red and green
    rig.publish()
    assert r.phase_at(rig.clock.t) == "ready" and r.void_by == 2
    assert rig.run_until(10 * S) == [(3.4, OFF)]  # out at once; no green, power, beeps
    r.start(now_ns=10 * S, lead_ns=1 * S, hold_ns=1 * S)  # the director starts again
    rig.publish()
    assert rig.run_until(17 * S)[-3:] == [
        (15.15, "RRRRR .... . ."), (16.0, "..... G... B P"), (16.6, "..... G... . P")]


def test_jump_start_with_a_warning_leaves_the_sequence_alone(rig):
    r = started(rig, jump_start_penalty="warning")
    rig.run_until(3400 * MS)
    r.add(Crossing(1, lane=2, car=None, t_ns=3400 * MS))
    rig.publish()
    assert rig.run_until(8 * S)[-3:] == [
        (5.0, "RRRRR .... B ."), (5.15, "RRRRR .... . ."), (7.5, "..... G... B P")]
    assert r.standings()[0].jump_start


def test_yellow_cuts_power_after_the_grace_period_and_green_restores_it_after_a_countdown(rig):
    r = started(rig, yellow_grace_ns=2 * S, green_countdown_ns=1 * S)
    rig.run_until(20 * S)
    r.control(ControlKind.YELLOW, 20 * S)
    rig.publish()
    assert rig.run_until(30 * S) == [(20.0, "..... .Y.. . P"), (22.0, "..... .Y.. . .")]
    r.control(ControlKind.GREEN, 30 * S)
    rig.publish()
    assert rig.run_until(32 * S) == [
        (30.0, "..... .... . ."), (30.25, "..... .Y.. . ."),  # the flag blinks: countdown
        (30.5, "..... .... . ."), (30.75, "..... .Y.. . ."),
        (31.0, "..... G... B P"), (31.6, "..... G... . P")]  # go: power back with a beep


def test_red_flag_cuts_power_at_once(rig):
    r = started(rig)
    rig.run_until(20 * S)
    r.control(ControlKind.RED, 20 * S)
    rig.publish()
    assert rig.run_until(25 * S) == [(20.0, "..... ..X. . .")]


def test_end_of_race_shows_chequered_and_cuts_power(rig):
    r = started(rig, laps=1)
    rig.run_until(12 * S)
    rig.clock.t = 12 * S
    r.add(Crossing(1, lane=1, car=None, t_ns=12 * S))  # the only car takes the flag
    rig.publish()
    assert rig.run_until(15 * S) == [(12.0, "..... ...C . .")]


def test_lap_service_offline_cuts_power_and_shows_red(rig):
    started(rig)
    rig.run_until(10 * S)
    assert rig.panel() == "..... G... . P"
    rig.service.update(laps_online=False)  # its last will arrived
    assert rig.panel() == "..... ..X. . ."
    assert rig.factory.pin(19).state is True
    rig.service.update(laps_online=True)  # back, and the state still says green
    assert rig.panel() == "..... G... . P"


def test_stopping_the_lights_service_cuts_power_and_darkens_every_lamp(rig):
    started(rig)
    rig.run_until(7600 * MS)
    assert rig.panel() == "..... G... B P"
    rig.service.stop()
    assert rig.panel() == OFF
    assert rig.factory.pin(19).state is True  # active-low relay driven high: released
    rig.service.update(laps_online=True)  # a late message changes nothing once stopped
    assert rig.panel() == OFF
