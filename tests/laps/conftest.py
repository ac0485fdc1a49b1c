"""Fixtures for the lap service: in-process (fast) and helpers to drive a race."""

from __future__ import annotations

import threading

import msgspec
import pytest

from pitwall import contract
from pitwall.laps.service import LapService


class RunningService:
    def __init__(self, settings, service_class: type[LapService] = LapService) -> None:
        self.settings = settings
        self.service = service_class(settings)
        self.service.start(wait=5)
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "lap service did not stop"


def running_with_batch_sizes(settings) -> tuple[RunningService, list[int]]:
    """A running lap service that records the size of every batch it processes."""
    sizes: list[int] = []

    class Measured(LapService):
        def process(self, batch):
            sizes.append(len(batch))
            super().process(batch)

    return RunningService(settings, Measured), sizes


@pytest.fixture
def lap_service(settings):
    running = RunningService(settings)
    yield running
    running.stop()


def command(probe, cmd: msgspec.Struct, timeout: float = 5.0) -> contract.Reply:
    """Send a command with an id and wait for its reply."""
    import uuid

    cmd = msgspec.structs.replace(cmd, id=uuid.uuid4().hex[:12])
    probe.publish(probe.topics.race_command, cmd)
    replies = probe.wait_for(
        lambda: [r for r in probe.decoded(probe.topics.race_reply, contract.Reply)
                 if r.id == cmd.id], timeout, what=f"reply to {cmd.id}")
    return replies[0]


def start_race(probe, **setup) -> contract.RaceState:
    """Set up and start a race; return the state carrying the start plan."""
    reply = command(probe, contract.Setup(**setup))
    assert reply.ok, reply.error
    reply = command(probe, contract.Start())
    assert reply.ok, reply.error
    return probe.wait_for(lambda: (s := probe.last_state()) and s.start_ns and s, what="plan")


def send_pass(probe, lane: int, t_ns: int, car: int | None = None) -> None:
    probe.publish(probe.topics.lane_pass(lane),
                  contract.Pass(lane=lane, car=car, t_ns=t_ns, source="sim"))
