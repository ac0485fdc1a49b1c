"""Live fan-out over the cluster: 2,000 spectators on three API replicas behind HAProxy,
against the same 2,000 on one replica, in the same run.

Method:
1. ``pitwall cluster up``'s own class (services/pitwall/cluster/up.py) starts one track
   (its Mosquitto and lap service), the central Mosquitto (bridged over TLS), PostgreSQL
   with the archive writer, three ``pitwall api`` replicas and HAProxy; every part is a
   real process. A practice race keyed by lane is started through HAProxy (every
   crossing is a counted lap, so every pass makes one lap event).
2. ``one``: the clients (``live_clients.py``, 500 per process) open WebSockets to
   ``/api/live`` of the first replica directly. ``three``: the same number open them to
   HAProxy's address, which spreads them over the three replicas (leastconn); how many
   each replica got is counted from its sockets.
3. Passes are published on the track's own Mosquitto one at a time (``PASS_GAP_S``
   apart), each stamped with ``t_ns = CLOCK_MONOTONIC`` just before it is sent (the edge
   time). They cross the lap service, the TLS bridge, the central Mosquitto and a
   replica (and HAProxy for ``three``) on their way. Every client records the
   CLOCK_MONOTONIC arrival of each lap: latency = arrival - t_ns. Figures over every
   (pass, client): p50, p99, max, and the frames missing (every client must get every
   lap). The first ``WARMUP`` passes of each run are not counted.
4. Memory: each replica's resident set size just before its clients connect and with
   them connected; per client = the growth summed over the replicas / clients.
5. CPU per pass by part (user and system time of its processes over the run), and the
   messages each client got per pass (1.0: a lap and its state came as one).

Needs PostgreSQL and HAProxy (``make bench`` installs them, as ``make test-cluster``).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from client_pool import ClientPool
from common import Publisher, memory, parse_args, percentiles, save, target

from pitwall import contract
from pitwall.cluster.up import Cluster
from tests.api.director import log_in

NAME = "cluster_live"
LANES = 4
# 2 laps/s across the field: eight cars on 4 s laps, a busy slot-car race. (10 laps/s,
# as bench_live.py, overloads two cores with 2,000 clients: see docs/benchmarks.md.)
PASS_GAP_S = 0.5
WARMUP = 3
# Clients per client process. 4 processes of 500 cost the two cores less than 16 of 125
# (fewer wake-ups and context switches): p99 about 10 ms lower (docs/benchmarks.md).
PER_PROCESS = 500
QUICK_START = {"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0}


def start_race(track) -> None:
    with httpx.Client(base_url=track.url, timeout=20) as http:
        log_in(http, track.pin)  # the challenge login (docs/security.md)
        r = http.post("/api/races", json={
            "mode": "practice", "entrant": "lane", "min_lap_ms": 0, "name": "Bench",
            "entrants": [{"lane": n, "driver": f"Driver {n}"} for n in range(1, LANES + 1)]})
        r.raise_for_status()
        http.post("/api/races/current/start").raise_for_status()
        deadline = time.monotonic() + 30
        while http.get("/api/races/current").json().get("phase") != "running":
            if time.monotonic() > deadline:
                raise RuntimeError("the race did not go green")
            time.sleep(0.2)


def clients_on(pid: int, port: int) -> int:
    """Established WebSockets a replica holds on its port."""
    return sum(1 for c in psutil.Process(pid).net_connections("tcp")
               if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)


def cpu_s(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds the processes have used so far."""
    user = system = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        user, system = user + t.user, system + t.system
    return user, system


def run(label: str, url: str, n: int, passes: int, gap_s: float, cluster, track,
        publisher: Publisher) -> dict:
    pids = [r.proc.pid for r in track.replicas]
    before = [memory(pid)["rss_mib"] for pid in pids]
    clients = ClientPool(n, PER_PROCESS, ["--mode", "api", "--url", url])
    time.sleep(1.0)  # let the connection burst settle
    parts = {"replicas": pids, "clients": clients.pids,
             "haproxy": [cluster.haproxy.proc.pid],
             "brokers": [cluster.central.proc.pid, track.broker.proc.pid],
             "lap service": [track.laps.proc.pid]}
    cpu_before = {part: cpu_s(p) for part, p in parts.items()}
    spread = [clients_on(pid, port) for pid, port in zip(pids, track.replica_ports,
                                                          strict=True)]
    topics = contract.Topics("pitwall")  # the track box's own root
    sent = []
    for i in range(WARMUP + passes):
        lane = i % LANES + 1
        t_ns = time.monotonic_ns()
        publisher.publish(topics.lane_pass(lane),
                          contract.encode(contract.Pass(lane=lane, t_ns=t_ns, source="sim")))
        if i >= WARMUP:
            sent.append(t_ns)
        time.sleep(gap_s)
    with_clients = [memory(pid)["rss_mib"] for pid in pids]
    drain_s = clients.wait_delivered(n * (WARMUP + passes))
    # CPU per pass, by part: where the time of a fan-out goes (two cores share it all).
    cpu_ms = {}
    for part, p in parts.items():
        (user, system), (user0, system0) = cpu_s(p), cpu_before[part]
        cpu_ms[part] = {"user": round((user - user0) * 1000 / (WARMUP + passes), 1),
                        "system": round((system - system0) * 1000 / (WARMUP + passes), 1)}
    arrivals = clients.stop()

    counted = set(sent)
    got = {(c, t_ns) for c, t_ns, _ in arrivals if t_ns in counted}
    latencies = [(at - t_ns) / 1e6 for _, t_ns, at in arrivals if t_ns in counted]
    growth = sum(w - b for w, b in zip(with_clients, before, strict=True))
    result = {"clients": n, "passes": len(sent), "clients_per_replica": spread,
              "missing": n * len(sent) - len(got), "latency_ms": percentiles(latencies),
              "delivered_s_after_last_pass": drain_s,
              "replica_rss_mib_before": before, "replica_rss_mib_with_clients": with_clients,
              "kib_per_client": round(growth * 1024 / n, 1), "cpu_ms_per_pass": cpu_ms,
              # 1.0: each lap and its state went to each client as one message (?batch=1)
              "messages_per_client_per_pass": round(clients.messages / n / (WARMUP + passes), 2)}
    lat = result["latency_ms"]
    print(f"  {label:5} {n:5} clients (per replica {spread}): p50 {lat['p50']:7.2f} ms  "
          f"p99 {lat['p99']:7.2f} ms  max {lat['max']:7.2f} ms; missing {result['missing']} "
          f"(all in {drain_s} s after the last pass); "
          f"memory {result['kib_per_client']} KiB/client (RSS {before} -> {with_clients} MiB)",
          flush=True)
    print(f"        messages per client per pass {result['messages_per_client_per_pass']}; "
          "CPU per pass (user + system): " + ", ".join(
        f"{part} {ms['user']} + {ms['system']} ms" for part, ms in cpu_ms.items()), flush=True)
    return result


def main() -> None:
    args = parse_args(__doc__.splitlines()[0],
                      ("--clients", {"type": int, "help": "spectators (default 2000)"}),
                      ("--gap", {"type": float, "default": PASS_GAP_S,
                                 "help": f"seconds between passes (default {PASS_GAP_S})"}))
    n = args.clients or (150 if args.quick else 2000)
    passes = 10 if args.quick else 60
    load = os.getloadavg()
    print(f"{NAME}: {n} clients, one replica then three behind HAProxy; {passes} passes "
          f"{args.gap * 1000:.0f} ms apart (load average {load[0]:.1f})", flush=True)
    with tempfile.TemporaryDirectory(prefix="pitwall-bench-cluster-") as tmp:
        cluster = Cluster(Path(tmp), ["a"], replicas=3, restart=False,
                          track_settings={"race": QUICK_START})
        cluster.start()
        track = cluster.tracks[0]
        publisher = Publisher(track.broker.port)
        try:
            start_race(track)
            time.sleep(1.0)
            one_url = f"ws://127.0.0.1:{track.replica_ports[0]}/api/live?batch=1"
            three_url = track.url.replace("http://", "ws://") + "/api/live?batch=1"
            results = {"one": run("one", one_url, n, passes, args.gap, cluster, track, publisher)}
            time.sleep(2.0)  # the first run's sockets closed
            results["three"] = run("three", three_url, n, passes, args.gap, cluster,
                                   track, publisher)
        finally:
            publisher.close()
            cluster.stop()

    one, three = results["one"], results["three"]
    p99_one, p99_three = one["latency_ms"]["p99"], three["latency_ms"]["p99"]
    print(f"  p99: one replica {p99_one:.2f} ms, three behind HAProxy {p99_three:.2f} ms "
          f"(ratio {p99_three / p99_one:.2f})")
    targets = [
        target(f"p99 pass→lap frame, {n} clients on 3 replicas", p99_three, "<=", 100, " ms"),
        target(f"lap frames lost, {n} clients on 3 replicas", three["missing"], "<=", 0),
    ]
    # Not a target: on a machine with few cores three replicas share the same CPUs, so
    # the comparison shows what the spread costs or gains here, not on separate hosts.
    save(NAME, args.quick, {"pass_gap_s": args.gap, "warmup": WARMUP,
                            "load_average_at_start": load,
                            "p99_three_over_one": round(p99_three / p99_one, 2), **results},
         targets)


if __name__ == "__main__":
    main()
