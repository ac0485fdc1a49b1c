"""The pass-log CSV that ``pitwall sim --record`` writes and ``pitwall replay`` reads.

::

    t_ms,lane,car
    81234567.891234,1,3
    81234571.402117,2,

``t_ms`` is the crossing time in milliseconds with up to 6 decimals, i.e. whole
nanoseconds, so a log replays to exactly the lap times it recorded. Only differences of
``t_ms`` matter. An empty ``car`` is an analog car (no ID). Times are parsed as
``Decimal``: a float would already round 15-digit monotonic times.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pitwall import contract

HEADER = ["t_ms", "lane", "car"]
NS_PER_MS = 1_000_000
_T_MS_LIMIT = 10**13  # ~317 years of uptime; keeps Decimal arithmetic exact (28 digits)
# Limits come from the contract, so a log that replays is a log the lap service accepts.
_LANE = (contract.LaneNo.__metadata__[0].ge, contract.LaneNo.__metadata__[0].le)
_CAR = (contract.CarId.__metadata__[0].ge, contract.CarId.__metadata__[0].le)


class PassLogError(ValueError):
    """A pass log that cannot be replayed; names the file and line."""


@dataclass(frozen=True)
class Row:
    line: int
    t_ms: Decimal
    lane: int
    car: int | None


def format_t_ms(t_ns: int) -> str:
    """Nanoseconds as milliseconds with exactly 6 decimals (no float on the way)."""
    return f"{t_ns // NS_PER_MS}.{t_ns % NS_PER_MS:06d}"


def read(path: str | os.PathLike) -> list[Row]:
    """Every row of a pass log, checked, in time order (stable for equal times)."""
    try:
        with open(path, newline="") as f:
            return parse(f, str(path))
    except OSError as exc:
        raise PassLogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PassLogError(f"{path}: not a text file") from None


def parse(lines: Iterable[str], name: str = "<pass log>") -> list[Row]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != HEADER:
        raise PassLogError(f"{name}: line 1: header must be {','.join(HEADER)}, "
                           f"got {','.join(header or [])!r}")
    rows = []
    for fields in reader:
        if not fields or fields == [""]:
            continue  # blank line
        try:
            rows.append(_row(reader.line_num, fields))
        except ValueError as exc:
            raise PassLogError(f"{name}: line {reader.line_num}: {exc}") from None
    # Logs merged from several lane readers need not be in order; replay needs it.
    rows.sort(key=lambda r: r.t_ms)
    return rows


def _row(line: int, fields: list[str]) -> Row:
    if len(fields) != 3:
        raise ValueError(f"expected 3 fields (t_ms,lane,car), got {len(fields)}")
    t_text, lane_text, car_text = (f.strip() for f in fields)
    try:
        t_ms = Decimal(t_text)
    except InvalidOperation:
        raise ValueError(f"t_ms {t_text!r} is not a number") from None
    if not t_ms.is_finite() or not 0 <= t_ms < _T_MS_LIMIT:
        raise ValueError(f"t_ms {t_text!r} must be a number from 0 to {_T_MS_LIMIT:,}")
    if t_ms != t_ms.quantize(Decimal("0.000001")):
        raise ValueError(f"t_ms {t_text!r} has more than 6 decimals (finer than 1 ns)")
    lane = _int(lane_text, "lane", *_LANE)
    car = None if car_text == "" else _int(car_text, "car", *_CAR)
    return Row(line, t_ms, lane, car)


def _int(text: str, what: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{what} {text!r} is not a whole number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{what} {value} out of range {low}..{high}")
    return value


class Recorder:
    """Appends passes to a pass log as they are published (header on a new file).

    Each row is flushed at once, so the log is complete up to a crash.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        # Held open for the whole run and closed by close(), hence no context manager.
        self._file = open(self.path, "a", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._file, lineterminator="\n")
        if self._file.tell() == 0:  # a new or empty file
            self._csv.writerow(HEADER)
            self._file.flush()

    def write(self, p: contract.Pass) -> None:
        self._csv.writerow([format_t_ms(p.t_ns), p.lane, "" if p.car is None else p.car])
        self._file.flush()

    def close(self) -> None:
        self._file.close()
