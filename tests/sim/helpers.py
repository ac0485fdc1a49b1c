"""Helpers for the simulator tests: lane passes seen by the probe, with arrival times."""

from __future__ import annotations

import time

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


def stamp_arrivals(probe: MqttProbe) -> dict[bytes, int]:
    """Record CLOCK_MONOTONIC at the probe's arrival of each payload (first arrival)."""
    arrivals: dict[bytes, int] = {}
    recorder = probe.client.on_message

    def on_message(client, userdata, msg):
        arrivals.setdefault(bytes(msg.payload), time.monotonic_ns())
        recorder(client, userdata, msg)

    probe.client.on_message = on_message
    return arrivals


def by_car(passes) -> dict:
    cars: dict = {}
    for p in passes:
        cars.setdefault(p.car, []).append(p.t_ns)
    return cars
