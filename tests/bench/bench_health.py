"""CPU and memory of ``pitwall health`` publishing at its shipped interval.

``pitwall health`` runs as a real process on a private Mosquitto with the default
settings (a reading every 5 s, systemd asked every 6th). After its first reading, its
CPU time (user + system, psutil) is measured over a window of readings and given as a
share of one core; its resident set size and peak are read at the end. Baseline in the
same run: an idle Python that has only imported paho and msgspec, for the RSS any Python
process with an MQTT client costs before doing anything (on x86-64 that floor alone is
above the 20 MiB target; the figure that matters on a Pi is measured there).
"""

from __future__ import annotations

import time

import psutil
from common import idle_python, Rig, memory, parse_args, save, target

from pitwall import contract
from tests.support import MqttProbe, ServiceProcess

NAME = "health"


def baseline() -> dict:
    return idle_python("paho.mqtt.client, msgspec")


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def measure(window_s: float) -> dict:
    with Rig(NAME) as rig:
        probe = MqttProbe(rig.settings, [rig.topics.health_state])
        health = ServiceProcess(rig.config, "health", log=rig.dir / "health.log").start()
        try:
            probe.wait_for(lambda: probe.on(rig.topics.health_state), timeout=30,
                           what="the first health reading")
            proc = psutil.Process(health.proc.pid)
            first = len(probe.on(rig.topics.health_state))
            t0, c0 = time.monotonic(), cpu_s(proc)
            time.sleep(window_s)
            wall, used = time.monotonic() - t0, cpu_s(proc) - c0
            readings = len(probe.on(rig.topics.health_state)) - first
            rss = {**memory(proc.pid),
                   "uss_mib": round(proc.memory_full_info().uss / 2**20, 1)}
            last = contract.decode(probe.on(rig.topics.health_state)[-1], contract.HealthState)
        finally:
            health.stop()
            probe.close()
    return {"window_s": round(wall, 1), "cpu_s": round(used, 3),
            "core_percent": round(100 * used / wall, 3), "readings": readings,
            "per_reading_ms": round(1000 * used / readings, 2) if readings else None,
            "rss": rss, "services_seen": len(last.services),
            "systemd_known": any(s.systemd is not None for s in last.services)}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    window = 20.0 if args.quick else 120.0
    print(f"{NAME}: pitwall health over {window:g} s at its default 5 s interval")
    base = baseline()
    m = measure(window)
    print(f"  baseline: python + paho + msgspec, idle      {base['rss_mib']:6.1f} MiB RSS")
    print(f"  pitwall health                               {m['rss']['rss_mib']:6.1f} MiB RSS "
          f"(peak {m['rss']['peak_mib']} MiB; {m['rss']['uss_mib']} MiB its own, not shared; "
          f"{m['rss']['rss_mib'] - base['rss_mib']:+.1f} MiB over the baseline)")
    print(f"  CPU: {m['cpu_s']} s in {m['window_s']} s = {m['core_percent']} % of one core; "
          f"{m['readings']} readings, {m['per_reading_ms']} ms each "
          f"(systemd {'asked' if m['systemd_known'] else 'not here'})")
    targets = [target("pitwall health CPU (share of one core)", m["core_percent"], "<=", 1,
                      " %"),
               target("pitwall health RSS", m["rss"]["rss_mib"], "<=", 20, " MiB")]
    save(NAME, args.quick, {"baseline": base, **m}, targets)


if __name__ == "__main__":
    main()
