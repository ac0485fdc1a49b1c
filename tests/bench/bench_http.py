"""HTTP: ``GET /api/races/current`` throughput and latency, beside ``GET /api/health``.

Method: the lap service and ``pitwall api`` run as their own processes on a private
Mosquitto. A practice race keyed by car with 20 entrants is set up and started, and
5,000 passes (20 cars over 4 lanes, each a counted lap) are published and stored, so the
race state the endpoint serves has 20 standings. Then ``wrk`` (Debian's, a separate
process: ``apt-get install wrk``) saturates each endpoint for 10 s with ``CONNECTIONS``
keep-alive connections on ``THREADS`` threads: the throughput, and the latency at
saturation (mostly queueing). Then ``http_paced.py`` (another process) requests it at a
fixed 1,000 req/s over 20 keep-alive connections, latency counted from each request's
scheduled time: the latency at the target load. Baseline in the same run:
``/api/health``, the cheapest endpoint of the same server (framework, uvicorn and the
machine's floor).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import httpx
from common import BENCH_DIR, Publisher, Rig, Watcher, parse_args, save, target, wait_green

from pitwall import contract

NAME = "http"
ENTRANTS = 20
LANES = 4
LAPS = 5_000
MS = 1_000_000
THREADS, CONNECTIONS = 2, 32
PACED_RATE = 1000
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, seconds: int) -> dict:
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: float(v) * UNITS[u] for p, v, u in
           re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {"requests_per_s": rate, "requests": requests,
            "non_2xx": int(errors.group(1)) if errors else 0,
            "latency_ms": {f"p{p}": round(v, 3) for p, v in pct.items()}}


def paced(url: str, seconds: int) -> dict:
    out = subprocess.run([sys.executable, str(BENCH_DIR / "http_paced.py"), "--url", url,
                          "--rate", str(PACED_RATE), "--seconds", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def passes(topics: contract.Topics, first_ns: int):
    for i in range(LAPS):
        lane, car = i % LANES + 1, i % ENTRANTS + 1
        yield topics.lane_pass(lane), contract.encode(
            contract.Pass(lane=lane, car=car, t_ns=first_ns + i * 50 * MS, source="sim"))


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    seconds = 3 if args.quick else 10
    load = os.getloadavg()  # other work on the machine shows in the tail latencies
    print(f"{NAME}: {ENTRANTS} entrants, {LAPS:,} laps; wrk -t{THREADS} -c{CONNECTIONS} "
          f"-d{seconds}s")
    with Rig(NAME) as rig:
        watcher = Watcher(rig.settings)
        rig.start_service(watcher)
        entrants = [contract.EntrantSpec(car=c, driver=f"Driver {c}")
                    for c in range(1, ENTRANTS + 1)]
        state = rig.start_race(watcher, entrant="car", entrants=entrants)
        wait_green(state)
        since = watcher.mark()
        publisher = Publisher(rig.broker.port)
        publisher.publish_all(passes(rig.topics, state.start_ns + 1000 * MS))
        publisher.close()
        watcher.wait_laps(LAPS, since, timeout=300)
        stored = rig.counts()
        api, base = rig.start_api()
        try:
            current = httpx.get(f"{base}/api/races/current").json()
            if len(current["standings"]) != ENTRANTS or \
                    sum(s["laps"] for s in current["standings"]) != LAPS:
                raise RuntimeError(f"unexpected current race: {current}")
            body = len(httpx.get(f"{base}/api/races/current").content)
            time.sleep(0.5)
            results = {}
            for key, path in [("health", "/api/health"), ("races_current",
                                                           "/api/races/current")]:
                results[key] = {"saturated": wrk(base + path, seconds)}
                results[key]["paced"] = paced(base + path, seconds)
        finally:
            api.stop()
            watcher.close()

    for key, r in results.items():
        sat, pac = r["saturated"], r["paced"]
        print(f"  GET /api/{key.replace('_', '/'):14} saturated: {sat['requests_per_s']:>7,.0f} "
              f"req/s, p50 {sat['latency_ms']['p50']:.2f} ms, p99 "
              f"{sat['latency_ms']['p99']:.2f} ms ({sat['non_2xx']} errors); at "
              f"{PACED_RATE:,} req/s: p50 {pac['latency_ms']['p50']:.2f} ms, p99 "
              f"{pac['latency_ms']['p99']:.2f} ms, max {pac['latency_ms']['max']:.2f} ms "
              f"({pac['achieved_per_s']:,.0f}/s achieved, {pac['errors']} errors)")
    cur = results["races_current"]
    targets = [
        target("GET /api/races/current req/s (wrk, saturated)",
               cur["saturated"]["requests_per_s"], ">=", 1000),
        target(f"GET /api/races/current p99 at {PACED_RATE:,} req/s",
               cur["paced"]["latency_ms"]["p99"], "<=", 20, " ms"),
    ]
    save(NAME, args.quick, {"entrants": ENTRANTS, "laps": LAPS, "stored_passes_laps": stored,
                            "body_bytes": body, "threads": THREADS, "connections": CONNECTIONS,
                            "seconds": seconds, "paced_rate": PACED_RATE,
                            "load_average_at_start": load, **results}, targets)


if __name__ == "__main__":
    main()
