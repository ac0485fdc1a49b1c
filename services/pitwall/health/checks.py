"""Thresholds: which readings need the maintainer, and how badly (pure)."""

from __future__ import annotations

from pitwall import contract
from pitwall.settings import HealthSettings

Warning_ = contract.HealthWarning


def warnings(state: contract.HealthState, limits: HealthSettings) -> list[Warning_]:
    out: list[Warning_] = []
    temp = state.cpu_temp_c
    if temp is not None and temp >= limits.temp_warn_c:
        level = "critical" if temp >= limits.temp_critical_c else "warning"
        out.append(Warning_(check="temperature", level=level,
                            message=f"CPU at {temp:.0f} °C (warning from "
                                    f"{limits.temp_warn_c:.0f} °C): give the Pi air or a "
                                    "heatsink; it slows down at 80 °C"))
    t = state.throttle
    if t is not None:
        if t.under_voltage:
            out.append(Warning_(check="under_voltage", level="critical",
                                message="under-voltage now: use the official 5 V power "
                                        "supply; timing and the SD card are at risk"))
        elif t.under_voltage_occurred:
            out.append(Warning_(check="under_voltage", level="warning",
                                message="under-voltage has occurred since boot: check the "
                                        "power supply and its cable"))
        if t.throttled or t.freq_capped or t.soft_temp_limit:
            out.append(Warning_(check="throttled", level="warning",
                                message="the CPU is throttled now (heat or power)"))
    if state.disk_free_mib is not None and state.disk_total_mib:
        free, total = state.disk_free_mib, state.disk_total_mib
        if free < limits.disk_critical_mib:
            out.append(Warning_(check="disk", level="critical",
                                message=f"data partition almost full: {free:.0f} MiB free; "
                                        "download a backup and remove old ones"))
        elif free < limits.disk_warn_mib or free < total * limits.disk_warn_percent / 100:
            out.append(Warning_(check="disk", level="warning",
                                message=f"data partition filling: {free:.0f} MiB free of "
                                        f"{total:.0f} MiB"))
    avail = state.mem_available_mib
    if avail is not None and avail < limits.mem_warn_mib:
        out.append(Warning_(check="memory", level="warning",
                            message=f"only {avail:.0f} MiB of memory available"))
    for s in state.services:
        if s.systemd == "failed":
            out.append(Warning_(check=f"service:{s.name}", level="critical",
                                message=f"{s.name} has failed (systemd gave up restarting "
                                        "it): see the diagnostics download"))
        elif s.mqtt == "offline" and s.name in limits.required_services:
            out.append(Warning_(check=f"service:{s.name}", level="critical",
                                message=f"{s.name} is offline"))
        elif s.mqtt == "offline":
            out.append(Warning_(check=f"service:{s.name}", level="warning",
                                message=f"{s.name} is offline"))
        elif s.mqtt == "degraded":
            out.append(Warning_(check=f"service:{s.name}", level="critical",
                                message=f"{s.name} is degraded: it cannot store its data "
                                        "(data partition full?); free space, see the errors"))
    return out


def new_warnings(before: list[Warning_], now: list[Warning_]) -> list[Warning_]:
    """Those to announce: new checks, and checks that got worse (never a repeat)."""
    was = {w.check: w.level for w in before}
    return [w for w in now if was.get(w.check) not in (w.level, "critical")]
