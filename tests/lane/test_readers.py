"""Lane readers on gpiozero mock pins: exact edge timestamps, modes, pin handling."""

from __future__ import annotations

import time

import pytest
from gpiozero.exc import GPIOPinInUse
from hypothesis import given
from hypothesis import strategies as st

from pitwall.contract import Pass
from pitwall.core.decoder_board import bits_for
from pitwall.lane.hardware import gpio_errors
from pitwall.lane.modes import BeamReader, DecoderReader, IrReader, build_reader
from pitwall.lane.reader import ticks_to_ns
from pitwall.settings import SettingsError

from .conftest import lane_settings, wait_until

# Edge ticks far from this process's monotonic clock: a pass stamped with the time it was
# processed could never equal them.
TICK = 1234.000000123


# ------------------------------------------------------------------ ticks -> ns
@pytest.mark.parametrize(("ticks", "ns"), [
    (0.0, 0), (1.5, 1_500_000_000), (TICK, 1_234_000_000_123), (1e-9, 1),
])
def test_ticks_to_ns(ticks, ns):
    assert ticks_to_ns(ticks) == ns


@given(st.integers(min_value=0, max_value=2**51))
def test_lgpio_kernel_stamps_survive_the_float_round_trip(ns):
    # lgpio hands gpiozero kernel_ns / 1e9; below 2**51 ns (~26 days) we get it back.
    assert ticks_to_ns(ns / 1e9) == ns


@given(st.integers(min_value=2**51, max_value=2**52))
def test_lgpio_kernel_stamps_within_1ns_up_to_52_days(ns):
    assert abs(ticks_to_ns(ns / 1e9) - ns) <= 1


# ------------------------------------------------------------------ beam
@pytest.mark.parametrize(("active_low", "pull", "active", "idle"), [
    (True, "up", False, True),
    (False, "down", True, False),
])
def test_beam_one_pass_per_active_edge_at_the_edge_time(factory, active_low, pull, active,
                                                        idle):
    passes: list[Pass] = []
    reader = build_reader(lane_settings(pin=17, active_low=active_low), factory,
                          passes.append)
    pin = factory.pin(17)
    assert isinstance(reader, BeamReader)
    assert pin.pull == pull
    assert not pin.bounce  # no gpiozero debounce: it would shift every timestamp

    pin.edge(active, TICK)          # car breaks the beam
    pin.edge(idle, TICK + 0.004)    # beam restored: not a pass
    pin.edge(active, TICK + 2.5)    # next lap
    assert passes == [
        Pass(lane=1, car=None, t_ns=1_234_000_000_123, source="gpio"),
        Pass(lane=1, car=None, t_ns=ticks_to_ns(TICK + 2.5), source="gpio"),
    ]
    reader.close()


def test_beam_reports_every_bounce(factory):
    # Bounces are kept: the lap service's minimum lap time marks them, with true times.
    passes: list[Pass] = []
    reader = build_reader(lane_settings(), factory, passes.append)
    pin = factory.pin(17)
    ticks = [TICK, TICK + 0.0001, TICK + 0.0002]
    for t in ticks:
        pin.edge(False, t)
        pin.edge(True, t + 0.00005)
    assert [p.t_ns for p in passes] == [ticks_to_ns(t) for t in ticks]
    reader.close()


def test_published_time_is_the_edge_time_even_when_published_later(factory):
    # A slow publisher (a stand-in for a broker that is away) delays publication; the
    # pass still carries its edge's time, not the time it went out.
    passes: list[tuple[float, Pass]] = []

    def slow_publish(message: Pass) -> None:
        time.sleep(0.05)
        passes.append((time.monotonic(), message))

    reader = build_reader(lane_settings(), factory, slow_publish)
    pin = factory.pin(17)
    edge_tick = time.monotonic()  # a realistic tick, on the same clock
    pin.edge(False, edge_tick)
    sent_at, message = passes[0]
    assert message.t_ns == round(edge_tick * 1e9)
    assert sent_at - edge_tick >= 0.05
    reader.close()


def test_a_failing_publisher_does_not_break_the_reader(factory):
    calls = []

    def flaky(message: Pass) -> None:
        calls.append(message)
        if len(calls) == 1:
            raise RuntimeError("broker hiccup")

    reader = build_reader(lane_settings(), factory, flaky)
    pin = factory.pin(17)
    pin.edge(False, TICK)
    pin.edge(True, TICK + 0.1)
    pin.edge(False, TICK + 1)
    assert [p.t_ns for p in calls] == [ticks_to_ns(TICK), ticks_to_ns(TICK + 1)]
    reader.close()


def test_close_releases_the_pin(factory):
    passes: list[Pass] = []
    reader = build_reader(lane_settings(), factory, passes.append)
    reader.close()
    factory.pin(17).edge(False, TICK)
    assert passes == []
    build_reader(lane_settings(), factory, passes.append).close()  # free to open again


# ------------------------------------------------------------------ decoder board
DECODER = {"mode": "decoder", "pin": 17, "id_pins": [5, 6, 13], "hshake_pin": 26}


def set_car(factory, car: int) -> None:
    for pin, bit in zip(DECODER["id_pins"], bits_for(car), strict=True):
        factory.pin(pin).edge(bool(bit), TICK - 1)


@pytest.mark.parametrize("car", range(1, 9))
def test_decoder_reads_car_id_at_the_flag_edge(factory, car):
    passes: list[Pass] = []
    reader = build_reader(lane_settings(**DECODER, hshake_ms=1), factory, passes.append)
    assert isinstance(reader, DecoderReader)
    set_car(factory, car)
    factory.pin(17).edge(False, TICK)  # FLAG falls
    assert passes == [Pass(lane=1, car=car, t_ns=ticks_to_ns(TICK), source="decoder")]
    reader.close()


def test_decoder_flag_active_high(factory):
    passes: list[Pass] = []
    reader = build_reader(lane_settings(**DECODER, active_low=False), factory,
                          passes.append)
    set_car(factory, 6)
    flag = factory.pin(17)
    flag.edge(True, TICK)
    flag.edge(False, TICK + 0.01)  # release: nothing
    assert passes == [Pass(lane=1, car=6, t_ns=ticks_to_ns(TICK), source="decoder")]
    reader.close()


def test_decoder_pulses_hshake_without_blocking_the_callback(factory):
    passes: list[Pass] = []
    reader = build_reader(lane_settings(**DECODER, hshake_ms=300), factory, passes.append)
    hshake = factory.pin(26)
    assert hshake.function == "output"
    assert hshake.state == 0
    hshake.clear_states()
    set_car(factory, 3)

    started = time.monotonic()
    factory.pin(17).edge(False, TICK)
    callback_s = time.monotonic() - started
    assert callback_s < 0.15, f"FLAG callback held the thread for {callback_s:.3f} s"
    assert passes[0].car == 3  # published without waiting for the pulse to end

    wait_until(lambda: len(hshake.states) >= 3, what="HSHAKE pulse to end")
    assert [s.state for s in hshake.states] == [False, True, False]
    high_for = hshake.states[2].timestamp
    assert 0.29 <= high_for < 1.0, f"HSHAKE was high for {high_for:.3f} s, expected 0.3"
    reader.close()


def test_decoder_acknowledges_every_car(factory):
    passes: list[Pass] = []
    reader = build_reader(lane_settings(**DECODER, hshake_ms=1), factory, passes.append)
    hshake, flag = factory.pin(26), factory.pin(17)
    hshake.clear_states()
    for i, car in enumerate([2, 7, 2]):
        set_car(factory, car)
        flag.edge(False, TICK + i)
        wait_until(lambda n=i: len(hshake.states) >= 3 + 2 * n, what=f"pulse {i + 1}")
        flag.edge(True, TICK + i + 0.01)
    assert [p.car for p in passes] == [2, 7, 2]
    assert [s.state for s in hshake.states] == [False, True, False] + [True, False] * 2
    reader.close()


@pytest.mark.parametrize(("fields", "message"), [
    ({"id_pins": [5, 6]}, "id_pins needs 3"),
    ({"hshake_pin": None}, "hshake_pin is required"),
    ({"id_pins": [5, 6, 17]}, "used twice"),
    ({"hshake_pin": 5}, "used twice"),
])
def test_decoder_settings_are_checked(factory, fields, message):
    with pytest.raises(SettingsError, match=message):
        build_reader(lane_settings(**{**DECODER, **fields}), factory, print)
    assert not factory._reservations  # nothing opened


def test_busy_pin_is_a_gpio_error_and_releases_what_was_opened(factory):
    holder = build_reader(lane_settings(pin=17), factory, print)  # FLAG pin taken
    with pytest.raises(GPIOPinInUse) as caught:
        build_reader(lane_settings(**{**DECODER, "lane": 2}), factory, print)
    assert isinstance(caught.value, gpio_errors())  # main.py turns it into one line
    holder.close()
    # The ID and HSHAKE pins opened before the failure were released again.
    build_reader(lane_settings(**{**DECODER, "lane": 2}), factory, print).close()


# ------------------------------------------------------------------ IR
def blink(pin, start: float, period_us: float, n: int, active_low: bool = True) -> list:
    """Drive n IR flashes; returns the active-edge ticks."""
    ticks = [start + i * period_us / 1e6 for i in range(n)]
    for t in ticks:
        pin.edge(not active_low, t)
        pin.edge(active_low, t + period_us / 2e6)
    return ticks


@pytest.mark.parametrize(("system", "car", "period_us", "active_low"), [
    ("carrera", 1, 128, True),
    ("carrera", 4, 320, True),
    ("carrera", 8, 576, False),
    ("scalextric", 2, 240, True),
    ("scalextric", 6, 432, False),
])
def test_ir_decodes_car_from_pin_edges(factory, system, car, period_us, active_low):
    passes: list[Pass] = []
    reader = build_reader(lane_settings(mode="ir", ir_system=system, active_low=active_low),
                          factory, passes.append)
    assert isinstance(reader, IrReader)
    pin = factory.pin(17)
    ticks = blink(pin, TICK, period_us, 30, active_low)
    assert passes == [Pass(lane=1, car=car, t_ns=ticks_to_ns(ticks[0]), source="ir")]
    reader.close()


def test_ir_holdoff_and_next_lap_through_pins(factory):
    passes: list[Pass] = []
    reader = build_reader(lane_settings(mode="ir", ir_holdoff_ms=300), factory,
                          passes.append)
    pin = factory.pin(17)
    lap1 = blink(pin, TICK, 192, 20)          # car 2
    blink(pin, TICK + 0.1, 192, 20)           # still crossing (run broke): held off
    lap2 = blink(pin, TICK + 3.2, 192, 20)    # next lap
    assert [(p.car, p.t_ns) for p in passes] == [
        (2, ticks_to_ns(lap1[0])), (2, ticks_to_ns(lap2[0]))]
    reader.close()
