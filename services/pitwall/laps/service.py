"""The lap service: the single writer of race data.

paho's network thread only queues incoming messages. One worker thread takes them in
batches; each batch is stored in one transaction, then the results are published, and
only then is each message acknowledged to the broker (``manual_ack``). So a pass is
either on disk or still queued at the broker: a crash loses nothing, and a redelivered
pass is recognised by its (lane, t_ns) and skipped.

Passes are never re-stamped: the core scores their sensor timestamps. The service's own
clock (CLOCK_MONOTONIC, the same clock as the sensors) stamps only commands and plans
the start sequence.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable

import msgspec
import peewee
from paho.mqtt.client import MQTTMessage

from pitwall import contract
from pitwall.bus import Bus
from pitwall.core import MS, ControlKind, Crossing, Kind, Outcome, Race
from pitwall.laps import store
from pitwall.laps.commands import CommandHandler
from pitwall.laps.publish import lights_payload, state_payload
from pitwall.settings import Settings

log = logging.getLogger(__name__)

BATCH = 500  # messages per transaction at most
IDLE_TICK_S = 0.5  # re-check time-driven changes (timed race ends) this often


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


class LapService:
    def __init__(self, settings: Settings, *, clock: Callable[[], int] = time.monotonic_ns,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.boot_id = boot_id()
        self.db = store.open_database(settings.data_dir, settings.database_url)
        self.bus = Bus(settings, "laps", persistent=True, manual_ack=True)
        self.topics = self.bus.topics
        self.inbox: queue.SimpleQueue[MQTTMessage] = queue.SimpleQueue()
        self.race: Race | None = None
        self.race_id: int | None = None
        self.commands = CommandHandler(self, rng or random.Random())
        self._stop = threading.Event()
        self._published_state: bytes | None = None
        self._published_lights: tuple | None = None

    # ------------------------------------------------------------------ lifecycle
    def restore(self) -> None:
        """Take up the newest race from storage, exactly as it was scored."""
        row = store.newest_race()
        if row is None:
            self.race = self.race_id = None
            return
        config, plan, controls, crossings = store.load_race_logs(row)
        self.race, self.race_id = Race(config, plan, controls, crossings), row.id
        if row.phase not in ("finished", "aborted") and row.boot_id != self.boot_id \
                and plan is not None:
            # Monotonic stamps restart at boot: this race's clock cannot go on.
            last = max([c.t_ns for c in crossings] + [c.t_ns for c in controls]
                       + [plan.green_ns])
            self.race.control(ControlKind.FINISH, last + 1)
            with self.db.atomic():
                store.add_control(row.id, self.race.controls[-1])
            log.warning("race %s was interrupted by a reboot: finished with its results so far",
                        row.id)
        self._cache_phase()
        log.info("restored race %s (%s, %d passes)", row.id, self.race.phase_at(self.clock()),
                 len(crossings))

    def start(self, wait: float | None = 10.0) -> None:
        self.restore()
        self.bus.subscribe(self.topics.lane_pass_all, self.inbox.put)
        self.bus.subscribe(self.topics.race_command, self.inbox.put)
        self.bus.start(wait=wait)
        self.publish_state(force=True)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Process messages until stop(). Call start() first."""
        try:
            while not self._stop.is_set():
                batch = self._next_batch(self._wait_s())
                if batch:
                    self.process(batch)
                self.publish_state()
        finally:
            self.bus.stop()
            self.db.close()

    # ------------------------------------------------------------------ processing
    def process(self, batch: list[MQTTMessage]) -> None:
        """Store, publish and acknowledge a batch; on any failure, one by one."""
        try:
            self._commit(batch)
        except Exception:
            log.exception("batch of %d failed; reloading and retrying one by one", len(batch))
            self.restore()  # memory may hold what the rollback undid: storage is the truth
            for msg in batch:
                self._commit_one(msg)

    def _commit(self, batch: list[MQTTMessage]) -> None:
        outbox: list[tuple[str, msgspec.Struct]] = []
        with self.db.atomic():
            for msg in batch:
                if msg.topic == self.topics.race_command:
                    outbox += self.commands.handle(msg)
                else:
                    outbox += self._handle_pass(msg)
        for topic, payload in outbox:
            self.bus.publish(topic, payload)
        self.publish_state()
        for msg in batch:  # on disk and published: the broker may forget them now
            self.bus.ack(msg)

    def _commit_one(self, msg: MQTTMessage) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._commit([msg])
                return
            except peewee.OperationalError as exc:
                # Disk full, I/O error, database locked: keep the message, retry later.
                log.error("storage error (%s); message kept, retrying in %.1f s", exc, delay)
                self.restore()
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
            except Exception as exc:
                # A message that trips a bug: report it and go on with the rest.
                log.exception("message on %s could not be processed", msg.topic)
                self.restore()
                self.bus.report_error(msg.topic, f"internal error: {exc!r}", msg.payload)
                self.bus.ack(msg)
                return

    def _handle_pass(self, msg: MQTTMessage) -> list[tuple[str, msgspec.Struct]]:
        try:
            p = contract.decode_pass(msg.payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.bus.report_error(msg.topic, f"bad pass: {exc}", msg.payload)
            return []
        lane = self.topics.lane_of(msg.topic)
        if lane != p.lane:
            self.bus.report_error(msg.topic, f"pass for lane {p.lane} on the topic of lane "
                                  f"{lane}", msg.payload)
            return []
        race_id = self.race_id if self._race_open() else None
        pass_id = store.insert_pass(race_id, p.lane, p.car, p.t_ns, p.source)
        if pass_id is None:
            log.debug("pass lane %s t_ns %s already stored (redelivery)", p.lane, p.t_ns)
            return []
        if race_id is None:
            return []
        rescores = self.race.rescores
        out = self.race.add(Crossing(pass_id, p.lane, p.car, p.t_ns))
        if self.race.rescores != rescores:
            store.rewrite_outcomes(race_id, self.race.outcomes)
        else:
            store.record_outcome(race_id, out)
        return self._lap_event(out)

    def _lap_event(self, out: Outcome) -> list[tuple[str, msgspec.Struct]]:
        if out.kind not in (Kind.LAP, Kind.SUSPECT):
            return []
        return [(self.topics.race_lap, contract.LapEvent(
            race_id=self.race_id, entrant=out.entrant, lap=out.lap, lap_ns=out.lap_ns,
            lap_ms=round(out.lap_ns / MS, 3), t_ns=out.t_ns,
            suspect=out.kind is Kind.SUSPECT, pass_id=out.pass_id))]

    # ------------------------------------------------------------------ state
    def publish_state(self, force: bool = False) -> None:
        """Publish race and lights state (retained) when they changed."""
        now = self.clock()
        state = state_payload(self.race, self.race_id, now)
        # now_ns changes every time: compare without it.
        key = contract.encode(msgspec.structs.replace(state, now_ns=0))
        if force or key != self._published_state:
            self._published_state = key
            self._cache_phase()
            self.bus.publish(self.topics.race_state, state, retain=True)
        lights = lights_payload(self.race, now)
        lkey = (lights.reds, lights.green, lights.flag, lights.power, lights.plan)
        if force or lkey != self._published_lights:
            self._published_lights = lkey
            self.bus.publish(self.topics.lights_state, lights, retain=True)

    def _race_open(self) -> bool:
        return self.race is not None and \
            self.race.phase_at(self.clock()) not in ("finished", "aborted")

    def _cache_phase(self) -> None:
        if self.race is not None:
            store.set_phase(self.race_id, self.race.phase_at(self.clock()))

    def _wait_s(self) -> float:
        """Sleep until the next light change, at most IDLE_TICK_S."""
        if self.race is None:
            return IDLE_TICK_S
        now = self.clock()
        nxt = self.race.next_change(now)
        return IDLE_TICK_S if nxt is None else min(IDLE_TICK_S, max(0.0, (nxt - now) / 1e9))

    def _next_batch(self, timeout: float) -> list[MQTTMessage]:
        try:
            batch = [self.inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(batch) < BATCH:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

