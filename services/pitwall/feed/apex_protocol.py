"""The Apex Timing live feed, line by line: text in, typed messages out. No I/O.

One WebSocket message is a batch of lines, each ``key|kind|value`` (docs/feeds.md has the
protocol as far as we understand it)::

    init|r|
    title1||Karting des Fagnes
    dyn1|countdown|10800000
    grid||<tbody>…</tbody>
    r3021c9|tn|1:02.345
    r3021|*in|0

A line that cannot be read becomes a ``Malformed`` message carrying the reason, never an
exception, so one bad line costs nothing but itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Keys Apex sends that carry nothing a race needs (weather, effects, the comment box's
# history): known, so they are not mistaken for garbage.
IGNORED_KEYS = frozenset({"effects", "comments", "wth1", "wth2", "wth3", "clear", "best",
                          "dyn2", "sound", "title"})
INFO_KEYS = frozenset({"css", "track", "com", "msg"})
_ROW = re.compile(r"r(\d+)")
_CELL = re.compile(r"r(\d+)c(\d+)")


@dataclass(frozen=True, slots=True)
class Init:
    """A full snapshot follows (on every connection): ``kind`` is the session type."""

    kind: str


@dataclass(frozen=True, slots=True)
class GridHtml:
    html: str


@dataclass(frozen=True, slots=True)
class CellUpdate:
    """``rNcM|class|value``: a cell's new style class and text ("" text: class only)."""

    row: str
    col: int
    cls: str
    value: str


@dataclass(frozen=True, slots=True)
class RowEvent:
    """``rN|kind|value``: ``*in`` / ``*out`` (pit entry / exit), ``#`` (position), ``*``."""

    row: str
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class Title:
    n: int  # 1 or 2
    text: str


@dataclass(frozen=True, slots=True)
class Countdown:
    """``dyn1|countdown|ms``: the session clock runs; ``ms`` remain."""

    ms: int


@dataclass(frozen=True, slots=True)
class ClockText:
    """``dyn1|text|hh:mm:ss``: the clock stands still showing this (``ms`` when it reads as
    a time, else None)."""

    text: str
    ms: int | None


@dataclass(frozen=True, slots=True)
class Light:
    """``light|code|``: the session's light (``lg`` green, ``ly`` yellow, ``lr`` red,
    ``lf`` chequered, as far as we know)."""

    code: str


@dataclass(frozen=True, slots=True)
class Info:
    """Text for people (``track``, ``com``, ``msg``, ``css``): logged, not mapped."""

    key: str
    text: str


@dataclass(frozen=True, slots=True)
class Ignored:
    key: str


@dataclass(frozen=True, slots=True)
class Malformed:
    line: str
    reason: str


Message = (Init | GridHtml | CellUpdate | RowEvent | Title | Countdown | ClockText | Light
           | Info | Ignored | Malformed)

ROW_KINDS = frozenset({"*in", "*out", "#", "*"})


def parse_frame(text: str) -> list[Message]:
    """Every non-blank line of one WebSocket message, in order."""
    return [parse_line(line) for line in text.splitlines() if line.strip()]


def parse_line(line: str) -> Message:
    line = line.rstrip("\r")
    if "|" not in line:
        return Malformed(line, "not a key|kind|value line")
    key, kind, value = (line.split("|", 2) + [""])[:3]
    if key == "grid":
        return GridHtml(value)
    if key == "init":
        return Init(kind)
    if key in ("title1", "title2"):
        return Title(int(key[-1]), value.strip())
    if key == "dyn1":
        return _clock(line, kind, value)
    if key == "light":
        return Light(kind)
    if key in INFO_KEYS:
        return Info(key, value)
    if key in IGNORED_KEYS:
        return Ignored(key)
    if cell := _CELL.fullmatch(key):
        return CellUpdate(f"r{cell[1]}", int(cell[2]), kind, value)
    if _ROW.fullmatch(key):
        return _row_event(line, key, kind, value)
    if key.startswith("r") and key[1:2].isdigit():
        return Malformed(line, f"{key!r} is neither a row (rN) nor a cell (rNcM)")
    return Ignored(key)


def _clock(line: str, kind: str, value: str) -> Message:
    if kind == "countdown":
        text = value.strip().rstrip("|")
        if not (text.isascii() and text.isdigit()):
            return Malformed(line, f"countdown {text!r} is not whole milliseconds")
        return Countdown(int(text))
    if kind == "text":
        return ClockText(value.strip(), clock_ms(value))
    return Malformed(line, f"unknown clock kind {kind!r}")


def _row_event(line: str, key: str, kind: str, value: str) -> Message:
    if kind not in ROW_KINDS:
        return Malformed(line, f"unknown row status {kind!r}")
    value = value.split("|", 1)[0].strip()  # some lines end in a spare '|'
    if kind == "#" and not (value.isascii() and value.isdigit()):
        return Malformed(line, f"position {value!r} is not a number")
    return RowEvent(key, kind, value)


def lap_ms(text: str) -> int | None:
    """A lap time as the feed prints it (``1:02.345``, ``62.345``, ``1:02:03.456``) in whole
    milliseconds; None if it is not one. Exact: no float on the way."""
    text = text.strip()
    if not text or not all(c.isdigit() or c in ":." for c in text):
        return None
    whole, _, frac = text.partition(".")
    if len(frac) > 3 or (frac and not frac.isdigit()):
        return None
    parts = whole.split(":")
    if len(parts) > 3 or not all(p.isdigit() for p in parts):
        return None
    if any(int(p) >= 60 for p in parts[1:]):
        return None
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + int(p)
    return seconds * 1000 + int(frac.ljust(3, "0") or 0)


def clock_ms(text: str) -> int | None:
    """A clock reading ``hh:mm:ss`` or ``mm:ss`` in milliseconds; None if it is not one."""
    parts = text.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    if any(int(p) >= 60 for p in parts[1:]):
        return None
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + int(p)
    return seconds * 1000
