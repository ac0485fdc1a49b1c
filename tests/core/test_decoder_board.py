"""Decoder board: car-ID bits (b1, b2, b3) <-> car number 1..8."""

import pytest

from pitwall.core.decoder_board import bits_for, car_id

# (b1, b2, b3) -> car = 1 + b1 + 2*b2 + 4*b3
TABLE = [
    ((0, 0, 0), 1),
    ((1, 0, 0), 2),
    ((0, 1, 0), 3),
    ((1, 1, 0), 4),
    ((0, 0, 1), 5),
    ((1, 0, 1), 6),
    ((0, 1, 1), 7),
    ((1, 1, 1), 8),
]


@pytest.mark.parametrize(("bits", "car"), TABLE)
def test_bits_to_car(bits, car):
    assert car_id(bits) == car
    assert car_id([bool(b) for b in bits]) == car  # pin levels come as booleans too


@pytest.mark.parametrize(("bits", "car"), TABLE)
def test_car_to_bits_is_the_inverse(bits, car):
    assert bits_for(car) == bits


@pytest.mark.parametrize("bits", [(), (1,), (0, 1), (0, 0, 0, 0), (0, 2, 0), (0, 0, -1),
                                  (None, 0, 0)])
def test_malformed_bits_are_rejected(bits):
    with pytest.raises(ValueError):
        car_id(bits)


@pytest.mark.parametrize("car", [0, 9, -1])
def test_bits_for_out_of_range_car(car):
    with pytest.raises(ValueError):
        bits_for(car)
