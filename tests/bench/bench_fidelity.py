"""Timestamp fidelity through the whole path, in real time.

A publisher paced at 200 passes/s (4 lanes in turn) stamps each pass with
CLOCK_MONOTONIC at the moment of its "edge" and publishes it (QoS 1) to a private
Mosquitto; the lap service (a real process) scores and stores it. Every stored lap
(``lap`` table) and every lap event received on race/lap must carry exactly
``lap_ns`` = this edge - the lane's previous edge (lap 1: edge - green) and the edge's
own ``t_ns``. Also reported: edge-to-lap-event latency as seen by a subscriber.
"""

from __future__ import annotations

import statistics
import time

import msgspec

from common import Publisher, Rig, Watcher, parse_args, save, target, wait_green
from pitwall import contract

NAME = "fidelity"
RATE = 200  # passes per second, all lanes together
LANES = 4


def expected_laps(green_ns: int, injected: list[tuple[int, int]]) -> dict:
    """(lane, lap number) -> (lap_ns, t_ns), from the injected edges alone."""
    previous: dict[int, int] = {}
    laps: dict[int, int] = {}
    out = {}
    for lane, t_ns in injected:
        laps[lane] = laps.get(lane, 0) + 1
        out[(lane, laps[lane])] = (t_ns - previous.get(lane, green_ns), t_ns)
        previous[lane] = t_ns
    return out


def compare(expected: dict, got: dict) -> dict:
    """Missing, extra and wrong laps, and the largest error in ns."""
    errors = [abs(got[k][0] - v[0]) for k, v in expected.items() if k in got]
    errors += [abs(got[k][1] - v[1]) for k, v in expected.items() if k in got]
    return {"count": len(got), "missing": sum(k not in got for k in expected),
            "extra": sum(k not in expected for k in got),
            "wrong": sum(got[k] != v for k, v in expected.items() if k in got),
            "max_error_ns": max(errors, default=0)}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n = 1_000 if args.quick else 10_000
    print(f"{NAME}: {n:,} passes at {RATE}/s ({n / RATE:.0f} s), {LANES} lanes")
    with Rig(NAME) as rig:
        watcher = Watcher(rig.settings, rig.topics.race_lap)
        rig.start_service(watcher)
        state = rig.start_race(watcher)
        wait_green(state)
        since = watcher.mark()
        publisher = Publisher(rig.broker.port)

        injected: list[tuple[int, int]] = []
        late = 0
        start = time.monotonic()
        for i in range(n):
            wait = start + i / RATE - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                late += wait < -0.002
            lane = i % LANES + 1
            t_ns = time.monotonic_ns()  # the sensor edge
            publisher.publish(rig.topics.lane_pass(lane), contract.encode(
                contract.Pass(lane=lane, t_ns=t_ns, source="sim")))
            injected.append((lane, t_ns))
        achieved = n / (time.monotonic() - start)

        watcher.wait_for(lambda: len(watcher.on(rig.topics.race_lap, since)) >= n, 30,
                         f"{n} lap events")
        events = [(arrival, msgspec.json.decode(p, type=contract.LapEvent))
                  for arrival, p in watcher.timed(rig.topics.race_lap, since)]
        publisher.close()
        watcher.close()
        rig.stop_service()
        rows = rig.query("SELECT l.entrant, l.lap, l.lap_ns, l.t_ns, p.lane, p.t_ns "
                         "FROM lap l JOIN pass p ON p.id = l.pass_id")
        stored_edges = sorted(t for (t,) in rig.query("SELECT t_ns FROM pass"))

    expected = expected_laps(state.start_ns, injected)
    db = compare(expected, {(e, lap): (lap_ns, t) for e, lap, lap_ns, t, lane, pt in rows
                            if e == lane and t == pt})
    ev = compare(expected, {(e.entrant, e.lap): (e.lap_ns, e.t_ns)
                            for _, e in events if not e.suspect})
    edges_equal = stored_edges == sorted(t for _, t in injected)
    latency_ms = sorted((arrival - e.t_ns) / 1e6 for arrival, e in events)

    print(f"  published {n:,} passes at {achieved:.1f}/s ({late} more than 2 ms late)")
    print(f"  pass log: {len(stored_edges):,} passes, edge stamps identical to the injected: "
          f"{edges_equal}")
    for label, r in (("lap table", db), ("lap events", ev)):
        print(f"  {label:10}: {r['count']:,} laps, missing {r['missing']}, extra {r['extra']}, "
              f"wrong {r['wrong']}, max |error| {r['max_error_ns']} ns")
    latency = {"p50_ms": round(statistics.median(latency_ms), 3),
               "p99_ms": round(latency_ms[int(0.99 * (len(latency_ms) - 1))], 3),
               "max_ms": round(latency_ms[-1], 3)}
    print(f"  edge -> lap event at a subscriber: p50 {latency['p50_ms']} ms, "
          f"p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms")
    max_error = max(db["max_error_ns"], ev["max_error_ns"])
    bad = db["missing"] + db["extra"] + db["wrong"] + ev["missing"] + ev["extra"] + \
        ev["wrong"] + (not edges_equal)
    targets = [target("max |lap_ns error|", max_error, "<=", 0, " ns"),
               target("laps missing, extra or wrong", bad, "<=", 0)]
    save(NAME, args.quick, {"passes": n, "rate_per_s": RATE, "achieved_per_s": round(achieved, 1),
                            "late_publishes": late, "lanes": LANES,
                            "pass_stamps_identical": edges_equal, "lap_table": db,
                            "lap_events": ev, "latency": latency}, targets)


if __name__ == "__main__":
    main()
