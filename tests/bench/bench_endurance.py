"""Endurance: a 6-hour, 30-team race replayed as fast as possible through the lap service.

Method (as ``bench_throughput.py``, with an endurance race and pit sensors):
1. The lap service sets up and starts a 6-hour endurance race of 30 teams (three drivers
   each, required stops, a maximum stint); a bare paho subscriber's persistent session is
   created beside the service's; the service is stopped.
2. The simulator's endurance model (``pitwall.sim.endurance``) gives every timing-line
   and pit-sensor pass of the six hours (stops on pit-entry/-exit lanes, so every pit
   event is a sensor pass with its own ``t_ns``). They are queued at the broker while
   nobody is connected. (Driver changes are commands stamped by the lap service when it
   receives them; a replay has none, so every team keeps its first driver.)
3. The lap service drains its queue: the rate is passes / (the state that counts every
   lap - connected). The expected laps come from the pure core scoring the same passes.
   Then the bare subscriber drains the same queue: the baseline.
4. The lap service's resident memory at the end of the race.
5. ``pitwall api`` serves the finished race's state (30 teams with stints, stops and
   pace): ``GET /api/races/current`` at a fixed 1,000 req/s (``http_paced.py``), latency
   counted from each request's scheduled time, beside ``/api/health`` in the same run.
"""

from __future__ import annotations

import time
from itertools import takewhile

import httpx
from bench_http import paced
from bench_throughput import figures, run_bare
from common import Publisher, Rig, Watcher, create_session, memory, parse_args, save, target

from pitwall import contract
from pitwall.core import SECOND, Crossing, Race, StartPlan
from pitwall.laps.store import config_from_json
from pitwall.sim.endurance import EnduranceModel

NAME = "endurance"
TEAMS = 30
PIT_IN, PIT_OUT = 63, 64
PIT_LANES = [{"lane": PIT_IN, "pin": 5, "role": "pit_in"},
             {"lane": PIT_OUT, "pin": 6, "role": "pit_out"}]
# No driver-change rule: driver changes are commands, stamped by the lap service as they
# arrive, so a replay has none (with "every_stop", every stop would be a violation).
RULES = contract.PitRulesSpec(required_stops=10, min_pit_s=20, max_stint_s=40 * 60)


def race_passes(model: EnduranceModel, green_ns: int, hours: float) -> list:
    """Every pass of the race (and a little after the flag: the last laps to the line)."""
    end = green_ns + round((hours * 3600 + 120) * SECOND)
    return [e for e in takewhile(lambda e: e.t_ns <= end,
                                 model.events(green_ns, pit_lanes=(PIT_IN, PIT_OUT)))
            if e.command is None]


def expected_laps(rig: Rig, passes) -> tuple[int, list]:
    (config, red_ns, green_ns), = rig.query("SELECT config, red_ns, green_ns FROM race")
    plan = StartPlan(tuple(contract.decode(red_ns.encode(), list[int])), green_ns)
    race = Race(config_from_json(config), plan, crossings=[
        Crossing(i, e.lane, e.car, e.t_ns) for i, e in enumerate(passes, 1)])
    standings = race.standings()
    return sum(s.laps for s in standings), standings


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    hours = 0.5 if args.quick else 6.0
    model = EnduranceModel(TEAMS, drivers=3, lap_s=10.0, stint_s=30 * 60, pit_s=25.0,
                           seed=11)
    print(f"{NAME}: {hours:g} h, {TEAMS} teams")
    with Rig(NAME, extra={"lanes": PIT_LANES}) as rig:
        watcher = Watcher(rig.settings)
        create_session(rig.broker.port, "bench-bare", rig.topics.lane_pass_all)
        rig.start_service(watcher)
        state = rig.start_race(watcher, mode="endurance", duration_s=round(hours * 3600),
                               entrant="car", min_lap_ms=2000, entrants=model.entrants(),
                               pit=RULES, name="Six hours")
        rig.stop_service()

        passes = race_passes(model, state.start_ns, hours)
        n = len(passes)
        pit = sum(1 for e in passes if e.lane in (PIT_IN, PIT_OUT))
        total_laps, reference = expected_laps(rig, passes)
        publisher = Publisher(rig.broker.port)
        t = time.monotonic()
        publisher.publish_all((rig.topics.lane_pass(e.lane), contract.encode(contract.Pass(
            lane=e.lane, car=e.car, t_ns=e.t_ns, source="sim"))) for e in passes)
        preload_s = time.monotonic() - t
        publisher.close()
        print(f"  pre-loaded {n:,} passes ({pit:,} pit-sensor passes) in {preload_s:.1f} s; "
              f"{total_laps:,} laps expected")

        since = watcher.mark()
        launched, online = rig.start_service(watcher)
        done = watcher.wait_laps(total_laps, since, timeout=900)
        # Passes after a team's flag change no lap count: wait for the last to be stored.
        deadline = time.monotonic() + 60
        while (stored_passes := rig.counts()[0]) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        if stored_passes != n:
            raise RuntimeError(f"stored {stored_passes} passes of {n}")
        time.sleep(0.5)  # the last state goes out once the service is idle
        final = watcher.last_state()
        service_memory = memory(rig.service.proc.pid)
        got = [(s.entrant, s.laps, s.last_t_ns) for s in final.standings]
        if got != [(s.entrant, s.laps, s.last_t_ns) for s in reference]:
            raise RuntimeError("the lap service's standings differ from the core's")
        stops = sum(s.pit.stops for s in final.standings)
        stints = sum(s.stint.no for s in final.standings)
        results = {"lap_service": figures(n, launched, online, done),
                   "bare_auto_ack": run_bare(rig, "bench-bare", n, [])}

        api, base = rig.start_api()
        try:
            body = len(httpx.get(f"{base}/api/races/current").content)
            seconds = 3 if args.quick else 10
            http = {key: paced(base + path, seconds) for key, path in
                    [("health", "/api/health"), ("races_current", "/api/races/current")]}
        finally:
            api.stop()
            rig.stop_service()
            watcher.close()

    rate = results["lap_service"]["passes_per_s"]
    ratio = rate / results["bare_auto_ack"]["passes_per_s"]
    for key, r in results.items():
        print(f"  {key:14} {r['passes_per_s']:>9,.0f} passes/s (drain {r['drain_s']:.2f} s, "
              f"start-up {r['startup_s']:.2f} s)")
    print(f"  lap service / bare subscriber: {ratio:.2f}; {stops} stops, {stints} stints, "
          f"{len(final.penalties)} violations found")
    print(f"  lap service RSS at the end: {service_memory['rss_mib']} MiB "
          f"(peak {service_memory['peak_mib']} MiB)")
    for key, r in http.items():
        lat = r["latency_ms"]
        print(f"  GET /api/{key.replace('_', '/'):14} at 1,000 req/s: p50 {lat['p50']:.2f} ms, "
              f"p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms ({r['errors']} errors; "
              f"{body:,} bytes a race state)")
    targets = [
        target("lap service / bare subscriber (6 h, 30 teams)", round(ratio, 3), ">=", 0.5),
        target("lap service RSS at the end", service_memory["rss_mib"], "<=", 60, " MiB"),
        target("GET /api/races/current p99 at 1,000 req/s, 30 teams",
               http["races_current"]["latency_ms"]["p99"], "<=", 20, " ms"),
    ]
    save(NAME, args.quick, {"hours": hours, "teams": TEAMS, "passes": n, "pit_passes": pit,
                            "laps": total_laps, "stops": stops, "stints": stints,
                            "preload_s": round(preload_s, 2), **results,
                            "lap_service_memory": service_memory, "state_bytes": body,
                            "http": http}, targets)


if __name__ == "__main__":
    main()
