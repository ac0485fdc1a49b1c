"""Live fan-out latency: pass → lap frame at every browser, beside MQTT straight to browsers.

Method:
1. One private Mosquitto with two listeners: MQTT over TCP (the services) and MQTT over
   WebSocket (``protocol websockets``, for the baseline). The lap service and
   ``pitwall api`` run as their own processes; a practice race keyed by lane is started
   (every crossing is a counted lap, so every pass makes one lap event).
2. For 50, 200 and 500 clients: the clients connect from separate processes
   (``live_clients.py``, up to 125 clients each, so no client process is the bottleneck):
   - ``api``: WebSockets to ``/api/live?batch=1`` as the web app opens it (picows on
     uvloop, a cheap load generator; it offers no permessage-deflate);
   - ``mqtt`` (the architecture this replaces): paho MQTT-over-WebSocket clients subscribed
     to ``{root}/race/lap`` on Mosquitto's WebSocket listener.
3. Passes are published one at a time (``PASS_GAP_S`` apart), each stamped with
   ``t_ns = CLOCK_MONOTONIC`` just before it is sent (the edge time). Every client records
   the CLOCK_MONOTONIC arrival of each lap (same machine, same clock); latency = arrival -
   t_ns. Figures over every (pass, client): p50, p99, max; and per pass, when the last
   client had it. The first ``WARMUP`` passes of each run are not counted.
   The same laps' arrival at a plain MQTT client (TCP, in the benchmark process) splits
   that into the lap service's share and the fan-out's own share.
4. The API's resident memory is read idle (no clients) and with 500 clients connected.
"""

from __future__ import annotations

import os
import time

import msgspec
import psutil
from client_pool import ClientPool
from common import (
    Publisher,
    Rig,
    Watcher,
    memory,
    parse_args,
    percentiles,
    save,
    target,
    wait_green,
)

from pitwall import contract
from pitwall.dev.broker import Mosquitto, free_port

NAME = "live"
LANES = 4
PASS_GAP_S = 0.1  # 10 laps/s across the field: a busy club race
WARMUP = 3
PER_PROCESS = 125  # clients per client process


class WebSocketMosquitto(Mosquitto):
    """The rig's broker plus an MQTT-over-WebSocket listener (the baseline's browsers)."""

    def __init__(self, *args, **kw) -> None:
        self.ws_port = free_port()
        super().__init__(*args, **kw)

    def _config_text(self) -> str:
        return super()._config_text() + f"listener {self.ws_port} 127.0.0.1\n" \
            "protocol websockets\n"


def client_args(mode: str, rig: Rig, api_base: str) -> list[str]:
    if mode == "api":
        return ["--mode", "api", "--url",
                api_base.replace("http://", "ws://") + "/api/live?batch=1"]
    return ["--mode", "mqtt", "--port", str(rig.broker.ws_port), "--topic", rig.topics.race_lap]


def run(mode: str, n: int, passes: int, rig: Rig, api_base: str, publisher: Publisher,
        watcher: Watcher, api_pid: int | None = None) -> dict:
    clients = ClientPool(n, PER_PROCESS, client_args(mode, rig, api_base))
    since = watcher.mark()
    time.sleep(0.5)  # let the connection burst settle
    api = psutil.Process(api_pid) if api_pid else None
    cpu_before = sum(api.cpu_times()[:2]) if api else 0.0
    sent = []
    for i in range(WARMUP + passes):
        lane = i % LANES + 1
        t_ns = time.monotonic_ns()
        publisher.publish(rig.topics.lane_pass(lane),
                          contract.encode(contract.Pass(lane=lane, t_ns=t_ns, source="sim")))
        if i >= WARMUP:
            sent.append(t_ns)
        time.sleep(PASS_GAP_S)
    time.sleep(1.0)  # the last laps' way out
    rss = memory(api_pid) if api_pid else None
    cpu_ms = (sum(api.cpu_times()[:2]) - cpu_before) * 1000 / len(sent) if api else None
    arrivals = clients.stop()

    counted = set(sent)
    latencies = [(at - t_ns) / 1e6 for _, t_ns, at in arrivals if t_ns in counted]
    slowest: dict[int, int] = {}
    for _, t_ns, at in arrivals:
        if t_ns in counted:
            slowest[t_ns] = max(slowest.get(t_ns, 0), at)
    missing = n * len(sent) - len(latencies)
    # The same laps as a plain MQTT client (TCP) in this process saw them leave the
    # broker: what is left is the fan-out's own share (API, or Mosquitto's WebSockets).
    lap_out = {msgspec.json.decode(p)["t_ns"]: at
               for at, p in watcher.timed(rig.topics.race_lap, since)}
    fanout = [(at - lap_out[t_ns]) / 1e6 for _, t_ns, at in arrivals
              if t_ns in counted and t_ns in lap_out]
    result = {"clients": n, "client_processes": len(clients.procs), "passes": len(sent),
              "missing": missing, "latency_ms": percentiles(latencies),
              "last_client_ms": percentiles([(at - t) / 1e6 for t, at in slowest.items()]),
              "lap_service_ms": percentiles([(lap_out[t] - t) / 1e6 for t in sent
                                             if t in lap_out]),
              "fanout_ms": percentiles(fanout)}
    if rss:
        result["api_memory"] = rss
        result["api_cpu_ms_per_pass"] = round(cpu_ms, 2)  # its lap and state frames
    lat, last = result["latency_ms"], result["last_client_ms"]
    print(f"  {mode:4} {n:4} clients: p50 {lat['p50']:7.2f} ms  p99 {lat['p99']:7.2f} ms  "
          f"max {lat['max']:7.2f} ms; last client p50 {last['p50']:.2f} / p99 "
          f"{last['p99']:.2f} ms; missing {missing}\n"
          f"       of which pass → lap out of Mosquitto p50 {result['lap_service_ms']['p50']:.2f}"
          f" / p99 {result['lap_service_ms']['p99']:.2f} ms; fan-out alone p50 "
          f"{result['fanout_ms']['p50']:.2f} / p99 {result['fanout_ms']['p99']:.2f} ms"
          + (f"; API RSS {rss['rss_mib']} MiB, CPU {cpu_ms:.1f} ms/pass" if rss else ""),
          flush=True)
    return result


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    sizes = [50] if args.quick else [50, 200, 500]
    passes = 10 if args.quick else 80
    load = os.getloadavg()  # other work on the machine shows in the tail latencies
    print(f"{NAME}: {sizes} clients, {passes} passes {PASS_GAP_S * 1000:.0f} ms apart "
          f"(load average {load[0]:.1f})")
    results: dict = {"api": {}, "mqtt": {}}
    with Rig(NAME, broker=WebSocketMosquitto) as rig:
        watcher = Watcher(rig.settings, rig.topics.race_lap)
        rig.start_service(watcher)
        wait_green(rig.start_race(watcher))
        api, base = rig.start_api()
        publisher = Publisher(rig.broker.port)
        try:
            time.sleep(1.0)
            idle = memory(api.proc.pid)
            print(f"  API idle: RSS {idle['rss_mib']} MiB")
            for n in sizes:
                results["api"][n] = run("api", n, passes, rig, base, publisher, watcher,
                                        api.proc.pid)
            for n in sizes:
                results["mqtt"][n] = run("mqtt", n, passes, rig, base, publisher, watcher)
        finally:
            publisher.close()
            api.stop()
            watcher.close()

    at = 200 if 200 in sizes else sizes[-1]
    api_p99 = results["api"][at]["latency_ms"]["p99"]
    mqtt_p99 = results["mqtt"][at]["latency_ms"]["p99"]
    targets = [
        target(f"API p99 pass→lap frame, {at} clients", api_p99, "<=", 50, " ms"),
        target(f"API p99 / direct-Mosquitto p99, {at} clients",
               round(api_p99 / mqtt_p99, 2), "<=", 3),
    ]
    for n in sizes:
        a, m = results["api"][n]["latency_ms"]["p99"], results["mqtt"][n]["latency_ms"]["p99"]
        print(f"  {n:4} clients: API p99 {a:.2f} ms, direct Mosquitto p99 {m:.2f} ms "
              f"(ratio {a / m:.2f})")
    memory_figures = {"idle": idle}
    if 500 in results["api"]:
        memory_figures["clients_500"] = results["api"][500]["api_memory"]
        print(f"  API RSS: idle {idle['rss_mib']} MiB, 500 clients "
              f"{memory_figures['clients_500']['rss_mib']} MiB")
    save(NAME, args.quick, {"pass_gap_s": PASS_GAP_S, "warmup": WARMUP,
                            "load_average_at_start": load, **results,
                            "api_memory": memory_figures}, targets)


if __name__ == "__main__":
    main()
