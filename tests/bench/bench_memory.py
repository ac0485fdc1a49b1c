"""Memory of the lap service process after a 10,000-lap race.

The lap service runs as a real process; a practice race keyed by lane (4 lanes) gets
10,000 passes published as fast as paho manages (QoS 1), each one a counted lap. Once
race/state counts them all, the process's resident set size is read (psutil), with its
peak (VmHWM in /proc/PID/status). Baseline in the same run: an idle Python that has only
imported paho, peewee and msgspec. For comparison (not the target), the same race with
the passes paced at 1,000/s, slower than the service stores them, so no backlog builds up.
"""

from __future__ import annotations

import time

from common import idle_python, Publisher, Rig, Watcher, memory, parse_args, passes, save, target

NAME = "memory"
LANES = 4
MS = 1_000_000
PACED = 1000  # passes/s for the comparison run


def baseline() -> dict:
    return idle_python("paho.mqtt.client, peewee, msgspec")


def race(n: int, rate: float | None) -> dict:
    """One lap service process, one race of ``n`` passes: at once, or paced at ``rate``/s."""
    with Rig(NAME) as rig:
        watcher = Watcher(rig.settings)
        rig.start_service(watcher)
        time.sleep(0.5)
        idle = memory(rig.service.proc.pid)
        state = rig.start_race(watcher)
        since = watcher.mark()
        publisher = Publisher(rig.broker.port)
        stream = passes(rig.topics, n, LANES, state.start_ns + 1000 * MS, MS)
        t = time.monotonic()
        if rate is None:
            publisher.publish_all(stream)
        else:
            for i, (topic, payload) in enumerate(stream):
                time.sleep(max(0.0, t + i / rate - time.monotonic()))
                publisher.publish(topic, payload)
        publish_s = time.monotonic() - t
        watcher.wait_laps(n, since, timeout=300)
        stored_s = time.monotonic() - t
        time.sleep(0.5)
        after = memory(rig.service.proc.pid)
        publisher.close()
        watcher.close()
        rig.stop_service()
        stored_passes, stored_laps = rig.counts()
    if (stored_passes, stored_laps) != (n, n):
        raise RuntimeError(f"stored {stored_passes} passes, {stored_laps} laps, not {n}")
    return {"idle": idle, "after_race": after, "publish_s": round(publish_s, 2),
            "stored_after_s": round(stored_s, 2)}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n = 1_000 if args.quick else 10_000
    print(f"{NAME}: lap service RSS after a {n:,}-lap race ({LANES} lanes)")
    base = baseline()
    burst = race(n, None)
    paced = race(n, PACED)
    def row(label: str, mib: float, extra: str = "") -> None:
        print(f"  {label:48} {mib:6.1f} MiB RSS{extra}")

    row("baseline: python + paho + peewee + msgspec, idle", base["rss_mib"])
    row("lap service, started, no race", burst["idle"]["rss_mib"])
    for label, r in ((f"all {n:,} passes at once", burst), (f"paced at {PACED}/s", paced)):
        a = r["after_race"]
        row(f"after {n:,} laps, {label}", a["rss_mib"], f" (peak {a['peak_mib']} MiB; "
            f"published in {r['publish_s']} s, stored after {r['stored_after_s']} s)")
    targets = [target("lap service RSS after the race (passes sent at once)",
                      burst["after_race"]["rss_mib"], "<=", 40, " MiB")]
    save(NAME, args.quick, {"laps": n, "lanes": LANES, "baseline": base, "at_once": burst,
                            f"paced_{PACED}_per_s": paced}, targets)


if __name__ == "__main__":
    main()
