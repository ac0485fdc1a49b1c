"""One race command from a command-line tool, and the lap service's reply.

The API has its own asynchronous bridge (``api.bridge``); a tool such as ``pitwall backup
restore`` only needs to ask once and wait, on the same public contract (``race/command``
with an id, answered on ``race/reply``).
"""

from __future__ import annotations

import threading
import uuid

import msgspec

from pitwall import contract
from pitwall.bus.mqtt import Bus
from pitwall.settings import Settings


class NoAnswer(Exception):
    """The broker or the lap service did not answer; the message says which."""


class LapServiceDown(NoAnswer):
    """The broker answers, but the lap service is not running (its status says so)."""


def request(settings: Settings, cmd: contract.Command, *, tool: str,
            timeout: float = 10.0) -> contract.Reply:
    """Send ``cmd`` and return the lap service's reply. Raises NoAnswer."""
    cmd = msgspec.structs.replace(cmd, id=f"{tool}-{uuid.uuid4().hex[:12]}")
    bus = Bus(settings, tool, announce=False)
    online, answered = threading.Event(), threading.Event()
    replies: list[contract.Reply] = []

    def on_status(msg) -> None:
        if msg.payload in contract.RUNNING:  # degraded still answers commands
            online.set()

    def on_reply(msg) -> None:
        try:
            reply = contract.decode(msg.payload, contract.Reply)
        except msgspec.MsgspecError:
            return
        if reply.id == cmd.id:
            replies.append(reply)
            answered.set()

    bus.subscribe(bus.topics.status("laps"), on_status)
    bus.subscribe(bus.topics.race_reply, on_reply)
    try:
        if not bus.start(wait=timeout):
            raise NoAnswer(f"the MQTT broker at {settings.mqtt.host}:{settings.mqtt.port} "
                           "is not answering")
        # The lap service's status is retained: known at once when it is up.
        if not online.wait(min(timeout, 3.0)):
            raise LapServiceDown("the lap service is not running")
        bus.publish(bus.topics.race_command, cmd)
        if not answered.wait(timeout):
            raise NoAnswer(f"the lap service did not answer within {timeout:g} s")
        return replies[0]
    finally:
        bus.stop()
