"""``pitwall board``: live standings in a terminal, from the retained race state.

On a terminal the board is redrawn in place on every state; otherwise (a log file, a
pipe, an SSH session without a tty) one block is printed per change of the race, which
reads well in a log. ``--once`` prints the current state and exits.

Rendering is the pure function ``render(state, width)``.
"""

from __future__ import annotations

import argparse
import sys

from pitwall import contract
from pitwall.settings import Settings
from pitwall.timefmt import seconds

ONCE_TIMEOUT_S = 5.0
CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen
MODE_NAMES = {"laps": "lap race", "timed": "timed race", "endurance": "endurance"}
BEST_MARK = "*"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true",
                        help="print the current race state and exit")
    parser.add_argument("--timeout", type=float, default=ONCE_TIMEOUT_S, metavar="S",
                        help=f"with --once: how long to wait for the state "
                             f"(default {ONCE_TIMEOUT_S:g} s)")


# ---------------------------------------------------------------- rendering (pure)
def secs(ms: float | None) -> str:
    """Seconds as the board shows them ("-" for none): see pitwall.timefmt."""
    return seconds(ms, none="-")


def clock(ns: int) -> str:
    """A race clock: m:ss.s, or h:mm:ss beyond an hour (tenths stop mattering)."""
    ns = max(ns, 0)
    tenths = ns // 100_000_000
    minutes, s10 = divmod(tenths, 600)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{s10 // 10:02d}"
    return f"{minutes}:{s10 // 10:02d}.{s10 % 10}"


def gap(s: contract.Standing) -> str:
    if s.position == 1:
        return "leader"
    if s.gap_laps > 0:
        return f"+{s.gap_laps} lap{'s' if s.gap_laps != 1 else ''}"
    return "-" if s.gap_ms is None else f"+{secs(s.gap_ms)}"


def render(state: contract.RaceState, width: int) -> str:
    """The whole board as text, no line longer than ``width``."""
    lines = [_title(state), _status(state), ""]
    rows = sorted(state.standings, key=lambda s: s.position)
    race_best = min((s.best_ms for s in rows if s.best_ms is not None), default=None)
    key = {"car": "Car", "lane": "Lane"}.get(state.entrant or "", "No.")
    fixed = 4 + 5 + 5 + 9 + 10 + 10 + 2 + 12  # every column but the driver's
    dw = max(6, min(24, width - fixed))
    lines.append(f"{'Pos':>3} {key:>4}  {'Driver':<{dw}} {'Laps':>4} {'Last':>8} "
                 f"{'Best':>9} {'Gap':>10}  Status")
    for s in rows:
        best = secs(s.best_ms) + (BEST_MARK if s.best_ms is not None
                                  and s.best_ms == race_best else " ")
        tags = (["finished"] if s.finished else []) + (["jump start"] if s.jump_start else [])
        tags += _team_tags(s)
        driver = s.driver if len(s.driver) <= dw else s.driver[:dw - 1] + "~"
        lines.append(f"{s.position:>3} {s.entrant:>4}  {driver:<{dw}} {s.laps:>4} "
                     f"{secs(s.last_ms):>8} {best:>9} {gap(s):>10}  {', '.join(tags)}")
    if not rows:
        lines.append("(no entrants)")
    if race_best is not None:
        holder = next(s for s in rows if s.best_ms == race_best)
        lines += ["", f"{BEST_MARK} race best lap {secs(race_best)} "
                  f"({holder.driver or key.lower() + ' ' + str(holder.entrant)})"]
    return "\n".join(line.rstrip()[:width] for line in lines) + "\n"


def _team_tags(s: contract.Standing) -> list[str]:
    """Endurance: in the pit, the stint (driver, laps), stops made/required, pace."""
    if s.stint is None or s.pit is None:
        return []
    tags = ["IN PIT"] if s.pit.in_pit else []
    tags.append(f"{s.stint.driver or 'stint'} #{s.stint.no} {s.stint.laps}L")
    tags.append(f"stops {s.pit.stops}/{s.pit.required}" if s.pit.required
                else f"stops {s.pit.stops}")
    if s.pace and s.pace != "unknown":
        tags.append(s.pace)
    return tags


def _title(state: contract.RaceState) -> str:
    if state.race_id is None:
        return "Pitwall - no race set up"
    name = state.name or f"Race {state.race_id}"
    mode = MODE_NAMES.get(state.mode or "", state.mode or "race")
    return f"{name} - {mode} - {state.phase} - flag {state.flag}"


def _status(state: contract.RaceState) -> str:
    parts = []
    if state.start_ns is not None:
        parts.append(f"clock {clock(state.now_ns - state.start_ns)}")
    elif state.phase == "starting" and state.lights is not None:
        lit = sum(1 for t in state.lights.red_ns if t <= state.now_ns)
        parts.append(f"start lights {lit}/{len(state.lights.red_ns)} red")
    else:
        parts.append("clock -:--.-")
    if state.mode in ("laps", "endurance") and state.laps:
        leader = max((s.laps for s in state.standings), default=0)
        parts.append(f"laps to go {max(0, state.laps - leader)} of {state.laps}")
    elif state.mode in ("timed", "endurance") and (state.ends_ns is not None
                                                   or state.duration_s):
        if state.ends_ns is not None:
            left = state.ends_ns - state.now_ns
        elif state.start_ns is not None:
            left = state.duration_s * 1_000_000_000 - (state.now_ns - state.start_ns)
        else:
            left = state.duration_s * 1_000_000_000
        parts.append(f"time left {clock(left)}")
    return "   ".join(parts)


# ---------------------------------------------------------------- process
def run(settings: Settings, args: argparse.Namespace) -> int:
    import queue
    import shutil
    import time

    import msgspec

    from pitwall.bus import Bus
    from pitwall.signals import stop_on_signals

    states: queue.Queue[bytes] = queue.Queue()
    # A viewer, not a service: no online/offline status of its own.
    bus = Bus(settings, "board", announce=False)
    bus.subscribe(bus.topics.race_state, lambda m: states.put(bytes(m.payload)))

    def width() -> int:
        return shutil.get_terminal_size((100, 24)).columns

    def decode(payload: bytes) -> contract.RaceState | None:
        if not payload:
            return None  # retained state cleared
        try:
            return contract.decode(payload, contract.RaceState)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            print(f"pitwall board: race state out of contract: {exc}", file=sys.stderr)
            return None

    if args.once:
        deadline = time.monotonic() + args.timeout
        bus.start(wait=max(args.timeout, 0.1))
        try:
            state = decode(states.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            state = None
        finally:
            bus.stop()
        if state is None:
            print(f"pitwall board: no race state on {bus.topics.race_state} within "
                  f"{args.timeout:g} s (is the lap service running?)", file=sys.stderr)
            return 1
        print(render(state, width()), end="", flush=True)
        return 0

    stopping = stop_on_signals()
    tty = sys.stdout.isatty()
    bus.start(wait=None)
    if tty:
        print(f"{CLEAR}waiting for the race state on {bus.topics.race_state} ...", flush=True)
    state, shown, drawn_width = None, None, width()
    try:
        while not stopping.is_set():
            try:
                state = decode(states.get(timeout=0.2))
            except queue.Empty:
                if not (tty and state is not None and width() != drawn_width):
                    continue  # nothing new; on a terminal, redraw after a resize
            if state is None:
                continue
            if tty:
                drawn_width = width()
                print(CLEAR + render(state, drawn_width), end="", flush=True)
                continue
            # In a log, a new block only when the race changed, not for a clock tick.
            key = contract.encode(msgspec.structs.replace(state, now_ns=0))
            if key != shown:
                shown = key
                print(render(state, width()), flush=True)
    finally:
        bus.stop()
    return 0
