"""Helpers for the simulator tests: lane passes seen by the probe, with arrival times."""

from __future__ import annotations

from pitwall import contract

from ..support import MqttProbe


def lane_passes(probe: MqttProbe) -> list[contract.Pass]:
    """Every pass on a lane topic, strictly decoded, checked against its topic's lane."""
    out = []
    for topic, payload, _ in list(probe.messages):
        lane = probe.topics.lane_of(topic)
        if lane is not None:
            p = contract.decode_pass(payload)
            assert p.lane == lane, f"pass for lane {p.lane} on {topic}"
            out.append(p)
    return out


def arrivals(probe: MqttProbe) -> dict[bytes, int]:
    """CLOCK_MONOTONIC of the probe's first arrival of each payload."""
    out: dict[bytes, int] = {}
    with probe._cond:
        for (_, payload, _), at in zip(probe.messages, probe.arrivals, strict=True):
            out.setdefault(payload, at)
    return out


def by_car(passes) -> dict:
    cars: dict = {}
    for p in passes:
        cars.setdefault(p.car, []).append(p.t_ns)
    return cars
