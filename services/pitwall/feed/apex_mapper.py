"""Apex feed state -> Pitwall's events: a session to set up, laps, pit stops. No I/O.

``ApexMapper.frame(r_ns, text)`` takes one WebSocket message with the time it was
received and returns what it meant, in order. Time is data here: the mapper never reads
a clock, so the same messages with the same receive times give the same events, live or
replayed at any speed.

The session's own timeline (``*_ms``: milliseconds of session time, 0 = the start):

* A crossing is placed by the feed's lap times alone: a kart's first crossing is the start
  plus its first lap, each next one the previous crossing plus the new last lap. So every
  lap time Pitwall derives is exactly the feed's.
* Pit entries and exits have no time of their own in the feed: they are placed by the
  batch's session clock (``dyn1|countdown``: elapsed = the clock at the start less the
  clock now), never before the kart's last crossing or its previous pit event. A batch
  with no countdown of its own adds the receive time since the last one.
* Joined after the start (the first grid already shows laps), the timeline starts at the
  first clock reading seen; laps from before are not known (``joined_late``).

Laps are counted by the feed's lap counter (``tlp``) when the grid has one, so a snapshot
after a reconnect publishes only the laps that are new, and laps missed while away are
filled in (the last lap's time exact, the others estimated and reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pitwall.feed import apex_protocol as proto
from pitwall.feed.apex_grid import Grid, GridError, GridRow, parse_grid, split_name

MAX_ENTRANTS = 64  # what one race set-up takes (contract.Setup)
MAX_KART = 255  # car numbers on passes (contract.CarId)
NAME_MAX = 60  # a team's name (contract.Name)
NS_PER_MS = 1_000_000
# Messages about the whole session, applied before a batch's other lines.
_SESSION_INFO = (proto.Countdown, proto.ClockText, proto.Title, proto.Light)


@dataclass(frozen=True, slots=True)
class Entrant:
    kart: int
    team: str
    driver: str  # "" when the feed names none


@dataclass(frozen=True, slots=True)
class SessionStart:
    """The session goes green (or was already under way: ``joined_late``)."""

    name: str
    duration_ms: int | None  # the session clock at the start; None without a clock
    entrants: tuple[Entrant, ...]
    joined_late: bool


@dataclass(frozen=True, slots=True)
class Lap:
    kart: int
    lap: int  # the feed's lap count after it
    lap_ms: int
    at_ms: int  # session time of the crossing
    estimated: bool = False  # a lap missed while away: its time is a guess


@dataclass(frozen=True, slots=True)
class PitEvent:
    kart: int
    entry: bool  # True: pit entry; False: pit exit
    at_ms: int


@dataclass(frozen=True, slots=True)
class DriverSeen:
    kart: int
    driver: str


@dataclass(frozen=True, slots=True)
class Problem:
    """Input that was skipped, and why: for the errors topic."""

    reason: str
    line: str


Event = SessionStart | Lap | PitEvent | DriverSeen | Problem


@dataclass(slots=True)
class Kart:
    """One grid row as the feed last showed it, and what has been published of it."""

    row: str
    kart: int
    team: str
    driver: str
    laps: int = 0  # laps published (by the feed's count)
    cross_ms: int | None = None  # session time of the last crossing published
    tlp: int = 0  # the feed's lap counter
    new_laps: int = 0  # last-lap updates not yet published (grids without a lap counter)
    llp_ms: int | None = None
    llp_text: str = ""
    best_ms: int | None = None
    rank: int | None = None
    gap: str = ""
    interval: str = ""
    on_track: str = ""
    pits: int = 0  # the feed's stop counter
    entries: int = 0  # pit entries published
    status: str = ""  # the status cell's class (si: in the pit, so: out…)
    in_pit: bool = False
    pit_ms: int | None = None  # session time of the last pit event published
    dirty: bool = False  # lap information not yet looked at


@dataclass(slots=True)
class Clock:
    """The feed's session clock: the last reading and when it came."""

    ms: int | None = None  # time left on the clock
    r_ns: int = 0  # receive time of that reading
    running: bool = False  # countdown (running) or text (standing)


@dataclass(slots=True)
class ApexMapper:
    grid: Grid | None = None
    karts: dict[str, Kart] = field(default_factory=dict)  # by row id
    titles: dict[int, str] = field(default_factory=lambda: {1: "", 2: ""})
    track: str = ""
    light: str = ""
    clock: Clock = field(default_factory=Clock)
    started: bool = False
    joined_late: bool = False
    start_r_ns: int = 0
    clock0_ms: int | None = None  # the clock's reading at the start
    sessions: int = 0
    new_session: bool = False  # the last frame began a session (a new archive file)

    # ------------------------------------------------------------------ input
    def frame(self, r_ns: int, text: str) -> list[Event]:
        """The events one WebSocket message (a batch of lines) means, in order."""
        self.new_session = False
        out: list[Event] = []
        messages = proto.parse_frame(text)
        # The batch's own clock, titles and light first: every line of it happened at that
        # reading, and a snapshot's title or light may come after its grid.
        for m in messages:
            if isinstance(m, _SESSION_INFO):
                self._guarded(m, r_ns, out, self._session_info)
        if not any(isinstance(m, proto.GridHtml) for m in messages):
            self._maybe_start(r_ns, out)  # else the grid decides which session starts
        for m in messages:
            if not isinstance(m, _SESSION_INFO):
                self._guarded(m, r_ns, out, self._message)
        self._maybe_start(r_ns, out)
        for k in list(self.karts.values()):
            if k.dirty:
                self._guarded(k, r_ns, out, self._flush)
        return out

    def _guarded(self, item, r_ns: int, out: list[Event], step) -> None:
        """One line (or one kart's flush): a bug or bad input costs only this item."""
        try:
            step(item, r_ns, out)
        except Exception as exc:  # never lose the rest of the batch
            out.append(Problem(f"internal error: {exc!r}", _line_of(item)))

    def _session_info(self, m, r_ns: int, out: list[Event]) -> None:
        if isinstance(m, proto.Title):
            self.titles[m.n] = m.text
        elif isinstance(m, proto.Light):
            self.light = m.code
        elif isinstance(m, proto.Countdown):
            if self.started and self.clock0_ms is None:
                # Green came without a clock: the clock at the start, by receive time.
                self.clock0_ms = m.ms + (r_ns - self.start_r_ns) // NS_PER_MS
            self.clock = Clock(m.ms, r_ns, running=True)
        else:  # the clock stands (showing a time, or words: the reading stays)
            self.clock = Clock(self.clock.ms if m.ms is None else m.ms, r_ns, running=False)

    def _maybe_start(self, r_ns: int, out: list[Event]) -> None:
        """Green: the light says so, or the session clock runs."""
        if self.grid is not None and not self.started and (
                self.light == "lg" or self.clock.running):
            self._start(r_ns, out, joined_late=False)

    def _message(self, m: proto.Message, r_ns: int, out: list[Event]) -> None:
        if isinstance(m, proto.Malformed):
            out.append(Problem(m.reason, m.line))
        elif isinstance(m, proto.GridHtml):
            self._grid(m, r_ns, out)
            self._maybe_start(r_ns, out)
        elif isinstance(m, proto.CellUpdate):
            self._cell_update(m, r_ns, out)
        elif isinstance(m, proto.RowEvent):
            self._row_event(m, r_ns, out)
        elif isinstance(m, proto.Info) and m.key == "track":
            self.track = m.text.strip()

    # ------------------------------------------------------------------ the grid
    def _grid(self, m: proto.GridHtml, r_ns: int, out: list[Event]) -> None:
        line = "grid||" + m.html
        try:
            grid = parse_grid(m.html)
        except GridError as exc:
            out.append(Problem(str(exc), line))
            return
        for kind in grid.unknown_types:
            out.append(Problem(f"unknown cell type {kind!r} in the grid's header: its column "
                               "is ignored", line))
        karts = self._karts_of(grid, line, out)
        if karts is None:
            return
        if self.grid is not None and self._same_session(karts, grid):
            if grid.layout != self.grid.layout:
                out.append(Problem("the grid changed its columns mid-session: grid skipped "
                                   "(cells keep the first grid's columns)", line))
                return
            self._reconcile(grid, r_ns, out, line)
            return
        self._new_session(grid, karts, r_ns, out)

    def _karts_of(self, grid: Grid, line: str, out: list[Event]) -> dict[str, Kart] | None:
        """The grid's rows as karts; rows without a usable kart number are reported."""
        no, dr = grid.column("no"), grid.column("dr")
        if no is None:
            out.append(Problem("the grid has no kart-number column (type 'no'): skipped",
                               line))
            return None
        karts: dict[str, Kart] = {}
        numbers: set[int] = set()
        for row in grid.rows:
            text = _text(row, no)
            if not (text.isascii() and text.isdigit()) or int(text) > MAX_KART:
                out.append(Problem(f"row {row.id}: kart number {text!r} is not 0..{MAX_KART}: "
                                   "row ignored", line))
                continue
            if int(text) in numbers:
                out.append(Problem(f"row {row.id}: kart {text} is in the grid twice: row "
                                   "ignored", line))
                continue
            if len(karts) == MAX_ENTRANTS:
                out.append(Problem(f"row {row.id}: more than {MAX_ENTRANTS} entrants: row "
                                   "ignored", line))
                continue
            team, driver = split_name(_text(row, dr)) if dr is not None else ("", "")
            numbers.add(int(text))
            karts[row.id] = Kart(row.id, int(text), (team or f"Kart {text}")[:NAME_MAX],
                                 driver[:NAME_MAX])
        if not karts:
            out.append(Problem("the grid has no rows with a kart number: skipped", line))
            return None
        return karts

    def _same_session(self, karts: dict[str, Kart], grid: Grid) -> bool:
        """A snapshot of the session we follow (a reconnect): the same rows with the same
        karts, and no lap counter gone backwards (that is a new session)."""
        if {r: k.kart for r, k in karts.items()} != {r: k.kart for r, k in self.karts.items()}:
            return False
        tlp = grid.column("tlp")
        return tlp is None or all(_int(_text(row, tlp)) is None or
                                  _int(_text(row, tlp)) >= self.karts[row.id].tlp
                                  for row in grid.rows if row.id in self.karts)

    def _new_session(self, grid: Grid, karts: dict[str, Kart], r_ns: int,
                     out: list[Event]) -> None:
        self.grid, self.karts = grid, karts
        self.started = self.joined_late = False
        self.clock0_ms = None
        self.sessions += 1
        self.new_session = True
        for row in grid.rows:
            if row.id in karts:
                self._apply_row(karts[row.id], row, r_ns, out, "")
        if any(k.tlp or k.llp_text for k in karts.values()):
            # Under way already: what happened before is not known; follow from here.
            for k in karts.values():
                k.laps, k.new_laps, k.dirty = k.tlp, 0, False
                k.entries = k.pits
            self._start(r_ns, out, joined_late=True)
        else:
            for k in karts.values():
                k.dirty = False

    def _reconcile(self, grid: Grid, r_ns: int, out: list[Event], line: str) -> None:
        """A snapshot of the session we follow (after a reconnect): publish the laps that
        are new; a pit entry or exit missed while away is placed at this snapshot (and
        reported: its time is a guess); stops missed entirely are reported."""
        has_status = grid.column("sta") is not None
        for row in grid.rows:
            k = self.karts.get(row.id)
            if k is None:
                continue
            self._apply_row(k, row, r_ns, out, line)
            self._flush(k, r_ns, out)
            in_pit_now = k.status == "si"
            if has_status and self.started and in_pit_now != k.in_pit:
                what = "entry" if in_pit_now else "exit"
                out.append(Problem(f"kart {k.kart}: pit {what} while the feed was away: "
                                   "placed at the reconnect (its time is a guess)", line))
                self._pit(k, in_pit_now, r_ns, out)
            if k.pits > k.entries:
                out.append(Problem(f"kart {k.kart}: {k.pits - k.entries} pit stop(s) while the "
                                   "feed was away: not timed, not published", line))
                k.entries = k.pits

    def _apply_row(self, k: Kart, row: GridRow, r_ns: int, out: list[Event],
                   line: str) -> None:
        tlp_col = self.grid.column("tlp")
        for index, cell in row.cells.items():
            kind = self.grid.type_of(index)
            if kind == "llp" and tlp_col is None:
                # A snapshot repeats the last lap: only a different one is a new lap.
                if cell.text and cell.text != k.llp_text:
                    self._cell(k, kind, cell.cls, cell.text, r_ns, out, line)
                continue
            if kind is not None and kind != "no":
                self._cell(k, kind, cell.cls, cell.text, r_ns, out, line, snapshot=True)

    # ------------------------------------------------------------------ updates
    def _cell_update(self, m: proto.CellUpdate, r_ns: int, out: list[Event]) -> None:
        line = f"{m.row}c{m.col}|{m.cls}|{m.value}"
        if self.grid is None:
            out.append(Problem("a cell update before any grid", line))
            return
        k = self.karts.get(m.row)
        if k is None:
            out.append(Problem(f"no row {m.row} in the grid", line))
            return
        kind = self.grid.type_of(m.col)
        if kind is None:
            out.append(Problem(f"no column c{m.col} in the grid", line))
            return
        if kind == "no":
            if m.value and m.value != str(k.kart):
                out.append(Problem(f"kart {k.kart}'s number changed to {m.value!r}: not "
                                   "followed (karts are keyed by their first number)", line))
            return
        self._cell(k, kind, m.cls, m.value, r_ns, out, line)

    def _cell(self, k: Kart, kind: str, cls: str, value: str, r_ns: int, out: list[Event],
              line: str, snapshot: bool = False) -> None:
        text = value.strip()
        if kind == "sta":
            k.status = cls
        elif not text:
            return  # a style change only ("" text): the value stands
        elif kind == "llp":
            ms = proto.lap_ms(text)
            if ms is None:
                if any(c.isdigit() for c in text):  # "PIT", "--" are words, not errors
                    out.append(Problem(f"kart {k.kart}: last lap {text!r} is not a lap time",
                                       line))
                return
            k.llp_ms, k.llp_text = ms, text
            if self.grid.column("tlp") is None:
                k.new_laps += 1
            k.dirty = True
        elif kind == "tlp":
            laps = _int(text)
            if laps is None:
                out.append(Problem(f"kart {k.kart}: lap count {text!r} is not a number", line))
                return
            k.tlp, k.dirty = laps, True
        elif kind == "blp":
            k.best_ms = proto.lap_ms(text)
        elif kind == "rk":
            k.rank = _int(text)
        elif kind == "pit":
            k.pits = _int(text) or 0
        elif kind == "gap":
            k.gap = text
        elif kind == "int":
            k.interval = text
        elif kind == "otr":
            k.on_track = text
        elif kind == "dr":
            team, driver = split_name(text)
            if not driver and team != k.team:
                driver = team  # the column shows the driver at the wheel
            if driver and driver[:NAME_MAX] != k.driver:
                k.driver = driver[:NAME_MAX]
                if not snapshot:
                    out.append(DriverSeen(k.kart, k.driver))

    def _row_event(self, m: proto.RowEvent, r_ns: int, out: list[Event]) -> None:
        k = self.karts.get(m.row)
        if k is None:
            out.append(Problem(f"no row {m.row} in the grid", f"{m.row}|{m.kind}|{m.value}"))
            return
        if m.kind == "#":
            k.rank = int(m.value)
        elif m.kind in ("*in", "*out"):
            self._flush(k, r_ns, out)  # the lap this batch completed comes first
            self._pit(k, m.kind == "*in", r_ns, out)

    # ------------------------------------------------------------------ events
    def _start(self, r_ns: int, out: list[Event], joined_late: bool) -> None:
        self.started, self.joined_late = True, joined_late
        self.start_r_ns = r_ns
        self.clock0_ms = self.clock.ms
        entrants = tuple(Entrant(k.kart, k.team, k.driver) for k in
                         sorted(self.karts.values(), key=lambda k: (k.rank or 999, k.kart)))
        out.append(SessionStart(self.name, self.clock0_ms, entrants, joined_late))

    def _flush(self, k: Kart, r_ns: int, out: list[Event]) -> None:
        """Publish the laps a kart completed since the last look."""
        k.dirty = False
        new = k.new_laps if self.grid.column("tlp") is None else k.tlp - k.laps
        if new <= 0 or k.llp_ms is None:
            return  # nothing new, or the lap time comes in a later batch
        k.new_laps = 0
        if not self.started:
            self._start(r_ns, out, joined_late=False)
        if k.cross_ms is None and self.joined_late:
            # The first crossing seen after joining: it starts this kart's timing.
            k.laps += new
            k.cross_ms = self.session_ms(r_ns)
            out.append(Lap(k.kart, k.laps, k.llp_ms, k.cross_ms))
            return
        if new > 1:
            out.append(Problem(f"kart {k.kart}: {new - 1} lap(s) before lap {k.laps + new} "
                               f"were not seen (the feed was away): each is taken as long as "
                               f"lap {k.laps + new}, {k.llp_text}", ""))
        for i in range(new):
            k.laps += 1
            k.cross_ms = (k.cross_ms or 0) + k.llp_ms
            out.append(Lap(k.kart, k.laps, k.llp_ms, k.cross_ms, estimated=i < new - 1))

    def _pit(self, k: Kart, entry: bool, r_ns: int, out: list[Event]) -> None:
        if entry and k.in_pit:
            return  # said twice: one stop
        k.in_pit = entry
        if entry:
            k.entries += 1
        if not self.started:
            return  # before the start: no stop to time
        # Never before the kart's last crossing or pit event: each is its own moment.
        at = max(self.session_ms(r_ns), (k.cross_ms or 0) + 1,
                 -1 if k.pit_ms is None else k.pit_ms + 1)
        k.pit_ms = at
        out.append(PitEvent(k.kart, entry, at))

    # ------------------------------------------------------------------ reading
    def session_ms(self, r_ns: int) -> int:
        """Session time at receive time ``r_ns`` by the feed's clock (receive time alone
        when the feed has no clock)."""
        c = self.clock
        if self.clock0_ms is None or c.ms is None:
            return max(0, (r_ns - self.start_r_ns) // NS_PER_MS)
        elapsed = self.clock0_ms - c.ms
        if c.running and r_ns > c.r_ns:
            elapsed += (r_ns - c.r_ns) // NS_PER_MS
        return max(0, elapsed)

    @property
    def name(self) -> str:
        parts = [t for t in (self.titles[1], self.titles[2]) if t]
        return (" - ".join(parts) or self.track or "Apex Timing feed")[:80]

    def standings(self) -> list[Kart]:
        """The karts in the feed's own order (its position column)."""
        return sorted(self.karts.values(), key=lambda k: (k.rank or 999, k.kart))


def _text(row: GridRow, index: int | None) -> str:
    cell = row.cells.get(index) if index is not None else None
    return cell.text if cell else ""


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _line_of(item) -> str:
    if isinstance(item, proto.Malformed):
        return item.line
    if isinstance(item, Kart):
        return f"{item.row} (kart {item.kart})"
    return repr(item)[:300]
