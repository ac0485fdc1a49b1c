"""The ZoomRoom-style decoder board's car-ID encoding (pure: no I/O).

The board watches the track, and when a car crosses it drives three car-ID lines
(b1, b2, b3), then pulls its FLAG line. The reader reads the three lines and pulses
HSHAKE to acknowledge, after which the board may report the next car. The three bits
carry the car number minus one, b1 least significant: car = 1 + b1 + 2·b2 + 4·b3,
so cars 1–8.
"""

from __future__ import annotations

from collections.abc import Sequence

ID_BITS = 3
CARS = range(1, 2**ID_BITS + 1)  # 1..8


def car_id(bits: Sequence[int | bool]) -> int:
    """Car number from the levels of the ID lines [b1, b2, b3] (1 = high)."""
    if len(bits) != ID_BITS:
        raise ValueError(f"expected {ID_BITS} ID bits (b1, b2, b3), got {len(bits)}")
    car = 1
    for weight, bit in enumerate(bits):
        if bit not in (0, 1):  # True/False compare equal to 1/0
            raise ValueError(f"ID bit b{weight + 1} must be 0 or 1, got {bit!r}")
        car += int(bit) << weight
    return car


def bits_for(car: int) -> tuple[int, int, int]:
    """The [b1, b2, b3] levels the board shows for ``car`` (inverse of car_id)."""
    if car not in CARS:
        raise ValueError(f"decoder board cars are {CARS.start}-{CARS.stop - 1}, got {car}")
    n = car - 1
    return (n & 1, (n >> 1) & 1, (n >> 2) & 1)
