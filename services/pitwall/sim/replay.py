"""``pitwall replay FILE``: publish a recorded pass log in real time.

The log's times are moved onto this machine's monotonic clock: the first pass is
stamped ``t0`` (now plus a short lead) and every other pass keeps its distance from the
first, divided by ``--speed``. At speed 1 the recorded lap times come back to the
nanosecond. The whole file is checked before anything is published, so a bad log never
leaves half a race on the bus.
"""

from __future__ import annotations

import argparse
import decimal
import sys
import time
from decimal import Decimal

from pitwall.settings import Settings
from pitwall.sim.passlog import NS_PER_MS, PassLogError, Row, read

LEAD_NS = 200_000_000  # time to settle after connecting before the first pass
MAX_WAIT_S = 0.1  # longest single sleep, so Ctrl-C is seen quickly


def _speed(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except decimal.InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError("speed must be a number > 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.csv", help="pass log with header t_ms,lane,car")
    parser.add_argument("--speed", type=_speed, default=Decimal(1),
                        help="replay speed: 2 plays twice as fast (default 1: exact times)")


def schedule(rows: list[Row], t0_ns: int, speed: Decimal = Decimal(1)
             ) -> list[tuple[int, int, int | None]]:
    """(t_ns, lane, car) for each row, the first at ``t0_ns``; pure, exact Decimal math.

    Rounded to whole ns only when ``speed`` makes a fraction; at speed 1 the differences
    are exactly the log's differences.
    """
    if not rows:
        return []
    first = rows[0].t_ms
    ctx = decimal.Context(prec=60)  # enough digits that nothing is rounded before the end
    return [(t0_ns + int(ctx.divide(ctx.multiply(r.t_ms - first, NS_PER_MS), speed)
                         .to_integral_value(decimal.ROUND_HALF_EVEN)), r.lane, r.car)
            for r in rows]


def run(settings: Settings, args: argparse.Namespace) -> int:
    from pitwall.bus import Bus
    from pitwall.signals import stop_on_signals
    from pitwall.sim.publisher import PassPublisher

    try:
        rows = read(args.file)
    except PassLogError as exc:
        print(f"pitwall replay: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"pitwall replay: {args.file}: no passes to replay", file=sys.stderr)
        return 2

    stopping = stop_on_signals()
    bus = Bus(settings, "replay")
    bus.start(wait=10)
    out = PassPublisher(bus, "replay")
    plan = schedule(rows, time.monotonic_ns() + LEAD_NS, args.speed)
    try:
        for t_ns, lane, car in plan:
            while not stopping.is_set() and (left := t_ns - time.monotonic_ns()) > 0:
                time.sleep(min(left / 1e9, MAX_WAIT_S))
            if stopping.is_set():
                break
            out.publish(t_ns, lane, car)
    finally:
        out.flush()
        bus.stop()
    print(f"pitwall replay: published {out.count} of {len(plan)} passes from {args.file}"
          f"{' (interrupted)' if stopping.is_set() else ''}", flush=True)
    return 130 if stopping.is_set() else 0
