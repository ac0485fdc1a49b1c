"""The feed's race on the lap service: set it up, start it, and put every pass on the lap
service's clock once its green is known.

The mapper places crossings and pit events on the session's own timeline (milliseconds
from the start). The lap service times a race from its own green (``start_ns``, on
CLOCK_MONOTONIC), so a pass at session time ``at_ms`` is stamped::

    t_ns = start_ns + at_ms * 1_000_000 + kart

The lap times are therefore exactly the feed's, whenever the passes are sent (live, or a
replay at any speed). The kart number in the last nanoseconds keeps two karts crossing
in the same millisecond two passes: the lap service stores one pass per lane and
nanosecond (a redelivery), and 255 ns never shows on a board.

Commands are answered on ``race/reply``; the race state (retained) says when green is.
Both arrive on the bus's network thread and are queued here for ``tick()``, which runs in
the adapter's own thread with everything else.
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from pitwall import contract
from pitwall.feed.apex_mapper import SessionStart

log = logging.getLogger(__name__)

NS_PER_MS = 1_000_000
# A session without a clock (none seen at the start) is set up this long: the director
# finishes it. Pitwall's endurance races need a duration or a lap target.
FALLBACK_DURATION_S = 24 * 3600
RETRY_S = 10.0  # a refused set-up or start is tried again this often (and reported)


@dataclass(frozen=True, slots=True)
class Lanes:
    """Where the feed's passes go: the timing line, and the pit sensors' lanes ([[lanes]]
    with role pit_in / pit_out; None: pit stops are not published)."""

    line: int
    pit_in: int | None = None
    pit_out: int | None = None


def setup_command(start: SessionStart, command_id: str) -> contract.Setup:
    """The race a feed's session becomes: endurance, teams keyed by kart number."""
    duration_s = FALLBACK_DURATION_S if start.duration_ms is None else \
        max(1, -(-start.duration_ms // 1000))
    return contract.Setup(
        id=command_id, mode="endurance", duration_s=duration_s, entrant="car",
        # The feed's laps are the track's own: none is too short to count.
        min_lap_ms=0,
        # Joined late, the first crossing seen only starts a kart's timing.
        first_crossing="starts" if start.joined_late else "counts",
        name=start.name,
        entrants=[contract.EntrantSpec(car=e.kart, driver=e.team,
                                       drivers=[e.driver] if e.driver else [])
                  for e in start.entrants])


class RaceLink:
    def __init__(self, send: Callable[[contract.Command], None],
                 publish: Callable[[int, int, int | None], None], lanes: Lanes,
                 report: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.send = send
        self.publish = publish
        self.lanes = lanes
        self.report = report
        self.clock = clock
        self.nonce = uuid.uuid4().hex[:10]  # command ids are remembered by the lap service
        self.inbox: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self.state = "idle"  # idle, setup, start, green, racing, lost
        self.race_id: int | None = None
        self.start_ns: int | None = None
        self.pending: list[tuple[int, int, int]] = []  # (lane, kart, at_ms) before green
        self.published = 0
        self._session: SessionStart | None = None
        self._ids: dict[str, str] = {}  # command id -> what it was ("setup", "start")
        self._count = 0
        self._retry_at: float | None = None
        self._pit_warned = False

    # ------------------------------------------------------------------ bus thread
    def on_reply(self, message) -> None:
        self.inbox.put(("reply", bytes(message.payload)))

    def on_state(self, message) -> None:
        self.inbox.put(("state", bytes(message.payload)))

    # ------------------------------------------------------------------ adapter thread
    def new_session(self, start: SessionStart) -> None:
        if self.pending:
            log.warning("%d passes of the previous session were never published (its race "
                        "did not start)", len(self.pending))
        self._session, self.pending = start, []
        self.race_id = self.start_ns = None
        log.info("session %r: %d karts, %s", start.name, len(start.entrants),
                 "joined late" if start.joined_late else "from the start")
        self._send_setup()

    def crossing(self, kart: int, at_ms: int) -> None:
        self._pass(self.lanes.line, kart, at_ms)

    def pit(self, kart: int, entry: bool, at_ms: int) -> None:
        lane = self.lanes.pit_in if entry else self.lanes.pit_out
        if lane is None:
            if not self._pit_warned:
                self._pit_warned = True
                self.report("pit stops are not published: no [[lanes]] with role "
                            f"{'pit_in' if entry else 'pit_out'} (docs/feeds.md)")
            return
        self._pass(lane, kart, at_ms)

    def tick(self) -> None:
        """Take in replies and state, retry what was refused, publish what can be."""
        while True:
            try:
                kind, payload = self.inbox.get_nowait()
            except queue.Empty:
                break
            try:
                if kind == "reply":
                    self._reply(contract.decode(payload, contract.Reply))
                else:
                    self._race_state(contract.decode(payload, contract.RaceState))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("unreadable %s from the lap service: %s", kind, exc)
        if self._retry_at is not None and self.clock() >= self._retry_at:
            self._retry_at = None
            if self.state == "setup":
                self._send_setup()
            elif self.state == "start":
                self._send_start()
        if self.state == "racing" and self.pending:
            for lane, kart, at_ms in self.pending:
                self._publish(lane, kart, at_ms)
            self.pending.clear()

    @property
    def settled(self) -> bool:
        """Every pass so far is on its way to the broker (nothing waits for green)."""
        return not self.pending and self.state in ("idle", "racing")

    # ------------------------------------------------------------------ internals
    def _pass(self, lane: int, kart: int, at_ms: int) -> None:
        if self.state == "racing":
            self._publish(lane, kart, at_ms)
        elif self.state != "lost":
            self.pending.append((lane, kart, at_ms))

    def _publish(self, lane: int, kart: int, at_ms: int) -> None:
        self.publish(self.start_ns + at_ms * NS_PER_MS + kart, lane, kart)
        self.published += 1

    def _next_id(self, what: str) -> str:
        self._count += 1
        command_id = f"feed-{self.nonce}-{self._count}"
        self._ids[command_id] = what
        return command_id

    def _send_setup(self) -> None:
        self.state = "setup"
        try:
            cmd = setup_command(self._session, self._next_id("setup"))
        except msgspec.ValidationError as exc:  # cannot happen with the mapper's limits
            self.report(f"the session cannot be set up: {exc}")
            self.state = "lost"
            return
        self.send(cmd)

    def _send_start(self) -> None:
        self.state = "start"
        self.send(contract.Start(id=self._next_id("start")))

    def _reply(self, reply: contract.Reply) -> None:
        what = self._ids.pop(reply.id or "", None)
        if what is None or what != self.state:
            return  # another client's, or an answer we no longer wait for
        if not reply.ok:
            self.report(f"the lap service refused the {what}: {reply.error}; trying again "
                        f"in {RETRY_S:.0f} s")
            self._retry_at = self.clock() + RETRY_S
            return
        if what == "setup":
            self.race_id = reply.race_id
            self._send_start()
        else:
            self.state = "green"

    def _race_state(self, state: contract.RaceState) -> None:
        if self.race_id is None or state.race_id is None:
            return
        if state.race_id != self.race_id:
            if self.state in ("racing", "green") and state.race_id > self.race_id:
                self.report(f"the lap service has moved on to race {state.race_id}: the "
                            f"feed's race {self.race_id} gets no more passes")
                self.state = "lost"
            return
        if self.state in ("start", "green") and state.start_ns is not None:
            self.start_ns = state.start_ns
            self.state = "racing"
            log.info("race %s is green at %d: publishing passes", self.race_id,
                     self.start_ns)
