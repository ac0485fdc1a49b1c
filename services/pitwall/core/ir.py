"""Digital slot-car IDs from the blink period of the car's IR LED.

Digital cars flash an IR LED under the chassis at a fixed rate that encodes the car ID:

* Carrera Digital 124/132: period = 64 µs × (ID + 1); IDs 1–6 are drivers, 7 is the
  autonomous car, 8 the pace car.
* Scalextric Digital: period ≈ (3 + ID) × 48 µs, IDs 1–6.

(Published figures, not yet checked against real cars: verify before trusting them.)

The lane reader feeds this decoder the kernel timestamps of ONE edge direction of the IR
receiver (say every falling edge), so consecutive differences are blink periods. Pure
code: no I/O and no clock reads; time comes in as integer nanoseconds.

Why the rules below:

* Two consecutive periods must match the same ID before a car is reported. A single
  period is too easy to fake: one stray edge between two real ones, or ambient IR
  flicker, produces one plausible-looking period far more often than two in a row.
* A period that matches no ID, or matches a different ID than the one before, ends the
  run: interleaved flashes of two cars or noise must not add up to a detection.
* A car sits over the receiver for many periods, so it is reported once per run and then
  not again for ``holdoff_ms`` (measured from the reported arrival time), even if the run
  breaks up and restarts while the car crosses.
* The reported time is the FIRST edge of the matching run: the moment the car's light
  reached the sensor, not the moment we became sure of its ID.

Known limit: a receiver that misses every other flash doubles the period, and e.g.
Carrera ID 1 (128 µs) then reads as ID 3 (256 µs). Period decoding cannot tell these
apart; it needs a receiver fast enough for the shortest period.
"""

from __future__ import annotations

from dataclasses import dataclass

# Nominal blink periods in microseconds, per system and car ID.
NOMINAL_US: dict[str, dict[int, float]] = {
    "carrera": {car: 64.0 * (car + 1) for car in range(1, 9)},
    "scalextric": {car: 48.0 * (3 + car) for car in range(1, 7)},
}

CONFIRM_PERIODS = 2  # consecutive matching periods needed before a car is reported


@dataclass(frozen=True, slots=True)
class Detection:
    """A car identified by its blink period; ``t_ns`` is the first edge of the run."""

    car: int
    t_ns: int


class IrDecoder:
    """Feed it edge timestamps (ns, one edge direction); it yields car detections.

    >>> d = IrDecoder("carrera", tolerance_us=12, holdoff_ms=300)
    >>> [d.feed(t) for t in (1_000_000, 1_256_000, 1_512_000)]
    [None, None, Detection(car=3, t_ns=1000000)]
    """

    def __init__(self, system: str = "carrera", *, tolerance_us: float = 12.0,
                 holdoff_ms: float = 300.0) -> None:
        if system not in NOMINAL_US:
            raise ValueError(f"unknown IR system {system!r}; expected one of "
                             f"{', '.join(sorted(NOMINAL_US))}")
        if tolerance_us <= 0:
            raise ValueError("tolerance_us must be positive")
        if holdoff_ms < 0:
            raise ValueError("holdoff_ms must not be negative")
        self.system = system
        self._nominal_ns = {car: us * 1000.0 for car, us in NOMINAL_US[system].items()}
        self._tolerance_ns = tolerance_us * 1000.0
        self._holdoff_ns = round(holdoff_ms * 1_000_000)
        self._last_report: dict[int, int] = {}  # car -> t_ns of its last detection
        self.reset()

    def reset(self) -> None:
        """Forget the current edge train (hold-off memory is kept)."""
        self._last_edge: int | None = None
        self._clear_run()

    def _clear_run(self) -> None:
        self._run_car: int | None = None
        self._run_start = 0     # first edge of the run
        self._run_periods = 0   # matching periods so far
        self._run_done = False  # reported (or held off): say nothing more for this run

    def classify(self, period_ns: int) -> int | None:
        """The car ID whose nominal period is nearest, if within tolerance and unambiguous."""
        best: int | None = None
        best_err = float("inf")
        tie = False
        for car, nominal in self._nominal_ns.items():
            err = abs(period_ns - nominal)
            if err < best_err:
                best, best_err, tie = car, err, False
            elif err == best_err:
                tie = True
        if best is None or tie or best_err > self._tolerance_ns:
            return None
        return best

    def feed(self, t_ns: int) -> Detection | None:
        """Take the next edge's timestamp; return a Detection when a car is confirmed."""
        previous, self._last_edge = self._last_edge, t_ns
        if previous is None:
            return None
        period = t_ns - previous
        car = self.classify(period) if period > 0 else None  # <= 0: out of order, noise
        if car is None:
            self._clear_run()
            return None
        if car != self._run_car:
            # A new run starts at the edge BEFORE this period: that is when the car's
            # light first reached the sensor.
            self._clear_run()
            self._run_car, self._run_start = car, previous
        self._run_periods += 1
        if self._run_done or self._run_periods < CONFIRM_PERIODS:
            return None
        self._run_done = True
        last = self._last_report.get(car)
        if last is not None and 0 <= self._run_start - last < self._holdoff_ns:
            return None  # the same car still crossing: already reported
        self._last_report[car] = self._run_start
        return Detection(car=car, t_ns=self._run_start)
