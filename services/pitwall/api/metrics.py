"""Prometheus metrics at ``/metrics`` (``[api] metrics = true``), for a club's Grafana.

HTTP request counts and durations come from Litestar's own Prometheus middleware; the
rest is read when scraped, from what the API already holds: the lap service's counters
(retained ``laps/stats``), the live clients, the race state and the box's health. Nothing
is counted twice and nothing is kept for metrics alone.

prometheus_client is imported only when metrics are on (memory on a Pi is shared).
"""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from pitwall import contract

PREFIX = "pitwall"

LAP_COUNTERS = {  # LapStats field -> help
    "passes": "Pass messages the lap service took in",
    "stored": "Crossings stored",
    "duplicates": "Redelivered crossings already stored",
    "rejected": "Messages refused as malformed or on the wrong topic",
    "laps": "Laps counted",
    "suspects": "Suspect crossings (not counted)",
    "commands": "Race commands answered",
    "refused": "Race commands refused",
    "batches": "Transactions committed",
    "retries": "Batches retried one message at a time after a failure",
    "quarantined": "Passes refused as implausible for the race (kept in the quarantine)",
}
HEALTH_GAUGES = {  # HealthState field -> (metric, help)
    "cpu_temp_c": ("cpu_temperature_celsius", "CPU temperature"),
    "cpu_percent": ("cpu_percent", "CPU use of all cores"),
    "mem_available_mib": ("memory_available_mib", "Memory available"),
    "disk_free_mib": ("data_disk_free_mib", "Free space on the data partition"),
    "disk_write_kib_s": ("data_disk_write_kib_per_second", "Writes to the data partition"),
    "uptime_s": ("uptime_seconds", "Time since the box started"),
}


class PitwallCollector:
    """Read at each scrape (prometheus_client's custom collector protocol)."""

    def __init__(self, bridge, live) -> None:
        self.bridge, self.live = bridge, live

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        b = self.bridge
        yield GaugeMetricFamily(f"{PREFIX}_mqtt_connected", "The API hears the broker",
                                value=int(b.connected))
        yield GaugeMetricFamily(f"{PREFIX}_laps_online", "The lap service is online",
                                value=int(b.connected and b.laps_online()))
        clients = GaugeMetricFamily(f"{PREFIX}_live_clients", "Browsers on the live push",
                                    labels=["transport"])
        for transport, n in self.live.clients.items():
            clients.add_metric([transport], n)
        yield clients
        stats = b.lap_stats
        if stats is not None:
            for name, text in LAP_COUNTERS.items():
                yield CounterMetricFamily(f"{PREFIX}_laps_{name}", text,
                                          value=getattr(stats, name))
            yield GaugeMetricFamily(f"{PREFIX}_laps_started_at_seconds",
                                    "When the lap service started (its counters' reset)",
                                    value=stats.started_at)
        state = b.state()
        if state:
            race = contract.decode(state, contract.RaceState)
            phase = GaugeMetricFamily(f"{PREFIX}_race_phase", "The current race's phase (1)",
                                      labels=["phase"])
            phase.add_metric([race.phase], 1)
            yield phase
            yield GaugeMetricFamily(f"{PREFIX}_race_entrants", "Entrants in the race",
                                    value=len(race.standings))
        now = b.health.now
        if now is not None:
            for field, (metric, text) in HEALTH_GAUGES.items():
                value = getattr(now, field)
                if value is not None:  # unknown on this machine: no sample, not a 0
                    yield GaugeMetricFamily(f"{PREFIX}_{metric}", text, value=value)
            yield GaugeMetricFamily(f"{PREFIX}_health_warnings", "Health warnings now",
                                    value=len(now.warnings))
            if now.throttle is not None:
                yield GaugeMetricFamily(f"{PREFIX}_under_voltage", "Under-voltage now",
                                        value=int(now.throttle.under_voltage))
                yield GaugeMetricFamily(f"{PREFIX}_throttled", "CPU throttled now",
                                        value=int(now.throttle.throttled))


def setup(settings, bridge, live) -> tuple[list, list]:
    """(middleware, route handlers) for the app: empty when metrics are off."""
    if not settings.api.metrics:
        return [], []
    from litestar.plugins.prometheus import PrometheusConfig
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    ours = CollectorRegistry()  # per app: a test process may build several
    ours.register(PitwallCollector(bridge, live))
    config = PrometheusConfig(app_name="pitwall", prefix=f"{PREFIX}_api", group_path=True,
                              exclude=["^/metrics$"])

    @get("/metrics", operation_id="metrics", summary="Prometheus metrics (when [api] metrics "
         "is on)", media_type=CONTENT_TYPE_LATEST, tags=["maintenance"], sync_to_thread=False)
    def metrics(state: State) -> Response[bytes]:
        # HTTP metrics (the middleware's, in the process-wide registry) and ours.
        body = generate_latest(REGISTRY) + generate_latest(ours)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [config.middleware], [metrics]
