"""The pure car model: deterministic, per-car pace, time order, deslots, bounces."""

from itertools import islice

import pytest

from pitwall.sim.model import BOUNCE_NS, DESLOT_NS, REACTION_NS, TrackModel


def take(model, n, start_ns=0, race=0):
    return list(islice(model.passes(start_ns, race), n))


def per_car(crossings):
    cars = {}
    for c in crossings:
        cars.setdefault(c.car, []).append(c.t_ns)
    return cars


def test_same_seed_same_race_and_other_seed_other_race():
    a = take(TrackModel(4, lap_s=1.0, seed=42), 200)
    assert a == take(TrackModel(4, lap_s=1.0, seed=42), 200)
    assert a != take(TrackModel(4, lap_s=1.0, seed=43), 200)
    # each race of a session differs too
    assert a != take(TrackModel(4, lap_s=1.0, seed=42), 200, race=1)


def test_start_time_only_shifts_the_race():
    model = TrackModel(3, lap_s=1.0, seed=1)
    assert [c.t_ns + 10**12 for c in take(model, 50)] == \
        [c.t_ns for c in take(model, 50, start_ns=10**12)]


def test_every_car_has_its_own_pace_within_ten_percent():
    model = TrackModel(6, lap_s=5.0, seed=9)
    paces = [car.pace_ns for car in model.cars]
    assert len(set(paces)) == 6
    assert min(paces) == pytest.approx(4.5e9) and max(paces) == pytest.approx(5.5e9)
    # lap times follow the pace: each car's median lap is near its own pace
    laps = {car: [b - a for a, b in zip(ts, ts[1:])]
            for car, ts in per_car(take(TrackModel(6, lap_s=5.0, seed=9, deslot=0),
                                        600)).items()}
    for car in model.cars:
        median = sorted(laps[car.number])[len(laps[car.number]) // 2]
        assert median == pytest.approx(car.pace_ns, rel=0.02)
        assert all(abs(lap - car.pace_ns) <= 0.061 * car.pace_ns for lap in laps[car.number])


def test_passes_come_in_time_order_across_cars():
    crossings = take(TrackModel(8, lap_s=0.5, seed=3, bounce=0.3), 1000)
    times = [c.t_ns for c in crossings]
    assert times == sorted(times)
    assert {c.car for c in crossings} == set(range(1, 9))


def test_first_crossing_is_one_lap_after_reaction_time():
    model = TrackModel(5, lap_s=2.0, seed=4, deslot=0, noise=0)
    start = 7_000_000_000
    first = {}
    for c in take(model, 5, start_ns=start):
        first.setdefault(c.car, c.t_ns)
    for car in model.cars:
        reaction = first[car.number] - start - car.pace_ns
        assert REACTION_NS[0] <= reaction <= REACTION_NS[1]


def test_bounce_adds_a_second_pass_half_to_five_ms_later():
    clean = per_car(take(TrackModel(2, lap_s=1.0, seed=5), 100))
    bouncy = per_car(take(TrackModel(2, lap_s=1.0, seed=5, bounce=1.0), 200))
    for car, ts in bouncy.items():
        real, echoes = ts[0::2], ts[1::2]
        assert real == clean[car][:len(real)]  # the real crossings are untouched
        for t, echo in zip(real, echoes, strict=True):
            assert BOUNCE_NS[0] <= echo - t <= BOUNCE_NS[1]


def test_bounce_keeps_lane_and_car():
    crossings = take(TrackModel(1, lap_s=1.0, seed=5, bounce=1.0), 10)
    assert {(c.lane, c.car) for c in crossings} == {(1, 1)}


def test_deslot_makes_a_lap_three_to_eight_seconds_longer():
    def laps(deslot):
        ts = per_car(take(TrackModel(1, lap_s=1.0, seed=6, deslot=deslot), 30))[1]
        return [b - a for a, b in zip(ts, ts[1:])]

    for normal, deslotted in zip(laps(0.0), laps(1.0), strict=True):
        assert DESLOT_NS[0] <= deslotted - normal <= DESLOT_NS[1]
    # the default probability deslots some laps, not all
    some = laps(0.3)
    extra = [lap - normal for lap, normal in zip(some, laps(0.0), strict=True)]
    assert 0 < sum(e > 0 for e in extra) < len(extra)


@pytest.mark.parametrize(("cars", "lanes", "expected"), [
    (4, None, [1, 2, 3, 4]),
    (5, 2, [1, 2, 1, 2, 1]),
    (3, 1, [1, 1, 1]),
])
def test_car_i_runs_on_lane_i_minus_one_mod_lanes_plus_one(cars, lanes, expected):
    model = TrackModel(cars, lanes=lanes, seed=0)
    assert [car.number for car in model.cars] == list(range(1, cars + 1))
    assert [car.lane for car in model.cars] == expected
    for c in take(model, 50):
        assert c.lane == expected[c.car - 1]


def test_analog_cars_have_no_id():
    crossings = take(TrackModel(3, seed=0, car_ids=False), 30)
    assert {c.car for c in crossings} == {None}
    assert {c.lane for c in crossings} == {1, 2, 3}


@pytest.mark.parametrize("kwargs", [
    {"cars": 0}, {"cars": 65}, {"lanes": 65}, {"lap_s": 0.01}, {"deslot": 1.5},
    {"bounce": -0.1}, {"noise": 0.5},
])
def test_rejects_out_of_range_settings(kwargs):
    with pytest.raises(ValueError):
        TrackModel(**{"cars": 2, **kwargs})
