"""IR period decoding from synthetic edge trains (times in integer nanoseconds)."""

import random

import pytest

from pitwall.core.ir import NOMINAL_US, Detection, IrDecoder

US = 1_000
MS = 1_000_000
T0 = 5_000_000_000_123  # an arbitrary monotonic time, not a round number

CARRERA = [(car, 64 * (car + 1)) for car in range(1, 9)]    # (ID, period µs)
SCALEXTRIC = [(car, 48 * (3 + car)) for car in range(1, 7)]


def train(period_us: float, n: int, start: int = T0, jitter_us: float = 0.0,
          seed: int = 1) -> list[int]:
    """n edge times ``period_us`` apart; each period off by up to ±jitter_us."""
    rng = random.Random(seed)
    times, t = [], start
    for _ in range(n):
        times.append(t)
        t += round((period_us + rng.uniform(-jitter_us, jitter_us)) * US)
    return times


def feed_all(decoder: IrDecoder, times) -> list[Detection]:
    return [d for t in times if (d := decoder.feed(t)) is not None]


def test_nominal_tables_match_the_published_formulas():
    assert NOMINAL_US["carrera"] == {car: float(p) for car, p in CARRERA}
    assert NOMINAL_US["scalextric"] == {car: float(p) for car, p in SCALEXTRIC}


@pytest.mark.parametrize(("system", "car", "period_us"),
                         [("carrera", c, p) for c, p in CARRERA]
                         + [("scalextric", c, p) for c, p in SCALEXTRIC])
def test_each_id_decodes_from_a_clean_train(system, car, period_us):
    decoder = IrDecoder(system, tolerance_us=12, holdoff_ms=300)
    assert feed_all(decoder, train(period_us, 40)) == [Detection(car=car, t_ns=T0)]


@pytest.mark.parametrize(("system", "car", "period_us"),
                         [("carrera", c, p) for c, p in CARRERA]
                         + [("scalextric", c, p) for c, p in SCALEXTRIC])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_id_decodes_with_jitter_within_tolerance(system, car, period_us, seed):
    decoder = IrDecoder(system, tolerance_us=12, holdoff_ms=300)
    times = train(period_us, 40, jitter_us=11.5, seed=seed)
    assert feed_all(decoder, times) == [Detection(car=car, t_ns=T0)]


@pytest.mark.parametrize(("offset_us", "expected"), [
    (0, 3), (12, 3), (-12, 3),     # Carrera ID 3 is 256 µs; tolerance 12 µs, inclusive
    (12.001, None), (-12.001, None),
    (31, None),                    # between IDs 3 (256) and 4 (320), matches neither
])
def test_classify_window(offset_us, expected):
    decoder = IrDecoder("carrera", tolerance_us=12)
    assert decoder.classify(round((256 + offset_us) * US)) == expected


def test_a_period_midway_between_two_ids_is_ambiguous():
    decoder = IrDecoder("carrera", tolerance_us=40)  # windows overlap
    assert decoder.classify(288 * US) is None        # exactly between 256 and 320
    assert decoder.classify(287 * US) == 3           # otherwise the nearest wins
    assert decoder.classify(289 * US) == 4


def test_one_matching_period_is_not_enough():
    decoder = IrDecoder("carrera")
    assert decoder.feed(T0) is None
    assert decoder.feed(T0 + 256 * US) is None               # one period: ID 3?
    assert decoder.feed(T0 + 256 * US + 10 * MS) is None     # then nothing useful
    # ...and a lone matching period followed by noise, again and again, never reports.
    t = T0 + 20 * MS
    out = []
    for _ in range(50):
        out += feed_all(decoder, [t, t + 256 * US, t + 256 * US + 777 * US])
        t += 5 * MS
    assert out == []


def test_second_matching_period_reports_with_the_first_edge_time():
    decoder = IrDecoder("scalextric")
    edges = [T0, T0 + 240 * US, T0 + 480 * US]  # ID 2 (240 µs)
    assert [decoder.feed(t) for t in edges] == [None, None, Detection(car=2, t_ns=T0)]


def test_run_starts_after_noise_and_reports_its_own_first_edge():
    decoder = IrDecoder("carrera")
    noise = [T0, T0 + 37 * US, T0 + 1000 * US, T0 + 1099 * US]  # no period matches
    start = T0 + 2000 * US
    car5 = train(384, 10, start=start)
    assert feed_all(decoder, noise + car5) == [Detection(car=5, t_ns=start)]


def test_alternating_ids_are_rejected():
    decoder = IrDecoder("carrera")
    times, t = [T0], T0
    for i in range(60):  # periods 128, 192, 128, 192, ...: never two alike in a row
        t += (128 if i % 2 == 0 else 192) * US
        times.append(t)
    assert feed_all(decoder, times) == []


@pytest.mark.parametrize("seed", range(5))
def test_random_noise_is_rejected(seed):
    # Periods drawn away from every Carrera window: nothing may be reported.
    rng = random.Random(seed)
    windows = [(p - 12, p + 12) for _, p in CARRERA]
    times, t = [T0], T0
    while len(times) < 500:
        p = rng.uniform(20, 700)
        if any(lo <= p <= hi for lo, hi in windows):
            continue
        t += round(p * US)
        times.append(t)
    assert feed_all(IrDecoder("carrera"), times) == []


def test_out_of_order_or_repeated_timestamps_break_the_run():
    decoder = IrDecoder("carrera")
    assert feed_all(decoder, [T0, T0 + 128 * US, T0 + 128 * US, T0 + 256 * US]) == []
    assert feed_all(decoder, [T0 + 384 * US, T0 + 512 * US]) == [
        Detection(car=1, t_ns=T0 + 128 * US)]


def test_holdoff_suppresses_the_same_car_then_lets_it_through():
    decoder = IrDecoder("carrera", holdoff_ms=300)
    first = train(128, 20, start=T0)                    # car 1 arrives
    gap_then_again = train(128, 20, start=T0 + 150 * MS)  # its run breaks and restarts
    next_lap = train(128, 20, start=T0 + 300 * MS)      # exactly the hold-off later
    assert feed_all(decoder, first) == [Detection(car=1, t_ns=T0)]
    assert feed_all(decoder, gap_then_again) == []
    assert feed_all(decoder, next_lap) == [Detection(car=1, t_ns=T0 + 300 * MS)]


def test_holdoff_is_per_car():
    decoder = IrDecoder("carrera", holdoff_ms=300)
    car1 = train(128, 10, start=T0)
    car2 = train(192, 10, start=T0 + 5 * MS)  # a different car right behind it
    assert feed_all(decoder, car1 + car2) == [
        Detection(car=1, t_ns=T0), Detection(car=2, t_ns=T0 + 5 * MS)]


def test_one_report_per_run_even_without_holdoff():
    decoder = IrDecoder("carrera", holdoff_ms=0)
    assert feed_all(decoder, train(448, 200)) == [Detection(car=6, t_ns=T0)]


@pytest.mark.parametrize("kwargs", [{"system": "ninco"}, {"tolerance_us": 0},
                                    {"holdoff_ms": -1}])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        IrDecoder(**kwargs)
