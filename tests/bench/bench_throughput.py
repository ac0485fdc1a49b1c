"""Lap-service throughput with persistence, beside a bare paho subscriber.

Method (isolates each subscriber's capability from the publisher's speed):
1. Persistent sessions are created for the lap service (it runs once, a practice race
   keyed by lane is set up and started, then it is stopped with SIGINT) and for two bare
   subscribers (``bare_subscriber.py``: auto-ack, manual-ack, and auto-ack publishing one
   "echo" per pass at the lap events' QoS).
2. N valid passes (4 lanes, increasing ``t_ns``, all after green) are published with
   QoS 1 while nobody is connected: Mosquitto queues them in each session.
3. Each subscriber is started as its own process in turn and drains its queue. The rate
   is N / (last pass done - connected): the lap service is done when its retained
   race/state (published after each committed batch) counts N laps; its start-up time
   (launch to its retained ``online``) is reported but not counted, and so is its resident
   memory once the backlog is stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import (
    BENCH_DIR,
    Publisher,
    Rig,
    Watcher,
    create_session,
    memory,
    parse_args,
    passes,
    save,
    target,
)

NAME = "throughput"
LANES = 4
MS = 1_000_000


# Baselines: bare_subscriber.py options, by result name. The target compares with the
# first; the echo variant shows the MQTT cost of one lap-event publish per pass.
BARE = {"bare_auto_ack": [], "bare_manual_ack": ["--manual-ack"],
        "bare_auto_ack_echo": ["--echo"]}


def run_bare(rig: Rig, client_id: str, n: int, options: list[str]) -> dict:
    cmd = [sys.executable, str(BENCH_DIR / "bare_subscriber.py"), "--port",
           str(rig.broker.port), "--root", rig.topics.root, "--client-id", client_id,
           "--count", str(n), *options]
    launched = time.monotonic_ns()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["received"] != n or r["invalid"] or not r["session_present"] or \
            r["echoed"] != (n if "--echo" in options else 0):
        raise RuntimeError(f"bare subscriber {client_id}: {r}")
    return figures(n, launched, r["connected_ns"], r["last_ns"])


def figures(n: int, launched: int, connected: int, last: int) -> dict:
    drain_s, total_s = (last - connected) / 1e9, (last - launched) / 1e9
    return {"startup_s": round((connected - launched) / 1e9, 4), "drain_s": round(drain_s, 4),
            "passes_per_s": round(n / drain_s, 1),
            "passes_per_s_with_startup": round(n / total_s, 1)}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n = 2_000 if args.quick else 20_000
    print(f"{NAME}: {n:,} queued passes, {LANES} lanes")
    with Rig(NAME) as rig:
        watcher = Watcher(rig.settings)
        for key in BARE:
            create_session(rig.broker.port, f"bench-{key}", rig.topics.lane_pass_all)
        rig.start_service(watcher)  # creates the service's persistent session
        state = rig.start_race(watcher)
        rig.stop_service()

        publisher = Publisher(rig.broker.port)
        t = time.monotonic()
        publisher.publish_all(passes(rig.topics, n, LANES, state.start_ns + 1000 * MS, MS))
        preload_s = time.monotonic() - t
        publisher.close()
        print(f"  pre-loaded {n:,} passes in {preload_s:.2f} s")

        since = watcher.mark()
        launched, online = rig.start_service(watcher)
        stored = watcher.wait_laps(n, since, timeout=600)
        service_memory = memory(rig.service.proc.pid)
        rig.stop_service()
        stored_passes, stored_laps = rig.counts()
        if (stored_passes, stored_laps) != (n, n):
            raise RuntimeError(f"stored {stored_passes} passes, {stored_laps} laps, not {n}")
        results = {"lap_service": figures(n, launched, online, stored)}
        for key, options in BARE.items():
            results[key] = run_bare(rig, f"bench-{key}", n, options)
        watcher.close()

    for key, r in results.items():
        print(f"  {key:18} {r['passes_per_s']:>9,.0f} passes/s  (drain {r['drain_s']:.3f} s, "
              f"start-up {r['startup_s']:.3f} s, {r['passes_per_s_with_startup']:,.0f}/s "
              f"with start-up)")
    rate = results["lap_service"]["passes_per_s"]
    ratio = rate / results["bare_auto_ack"]["passes_per_s"]
    print(f"  lap service RSS after the drain: {service_memory['rss_mib']} MiB "
          f"(peak {service_memory['peak_mib']} MiB)")
    ratios = {key: round(rate / results[key]["passes_per_s"], 3) for key in BARE}
    print("  lap service / " + ", ".join(f"{k}: {v:.2f}" for k, v in ratios.items()))
    targets = [
        target("lap service passes/s", rate, ">=", 2000),
        target("lap service / bare auto-ack subscriber", round(ratio, 3), ">=", 0.5),
    ]
    save(NAME, args.quick, {"passes": n, "lanes": LANES, "preload_s": round(preload_s, 3),
                            **results, "ratios": ratios,
                            "lap_service_memory_after_drain": service_memory}, targets)


if __name__ == "__main__":
    main()
