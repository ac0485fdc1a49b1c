"""The lap service: the single writer of race data.

One thread does everything: it drives the MQTT connection itself (``Bus.poll``), takes
what has arrived as a batch (at most ``BATCH`` messages), stores the batch in one
transaction, publishes the results, and only then acknowledges each message to the
broker (``manual_ack``). So a pass is either on disk or still queued at the broker: a
crash loses nothing, and a redelivered pass is recognised by its (lane, t_ns) and
skipped. Reading only as fast as it stores also keeps a backlog at the broker, not in
this process's memory.

Passes are never re-stamped: the core scores their sensor timestamps. The service's own
clock (CLOCK_MONOTONIC, the same clock as the sensors) stamps only commands and plans
the start sequence.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import peewee
from paho.mqtt.client import MQTTMessage

from pitwall import contract, memory
from pitwall.backup import archive
from pitwall.bus import Bus
from pitwall.bus.mqtt import clip
from pitwall.core import ControlKind, Crossing, Kind, Outcome, Race
from pitwall.core.records import Records, records
from pitwall.laps import engine, store
from pitwall.laps.commands import CommandHandler
from pitwall.laps.heats import HeatRunner
from pitwall.laps.journal import Outbox
from pitwall.laps.plausible import Plausibility, race_lanes
from pitwall.laps.publish import lights_payload, state_payload
from pitwall.laps.stats import LapCounters
from pitwall.laps.storage_watch import StorageWatch
from pitwall.settings import Settings

log = logging.getLogger(__name__)

BATCH = contract.INFLIGHT  # messages per transaction at most: what a backlog may hold here
IDLE_TICK_S = 0.5  # re-check time-driven changes (timed race ends) this often
# While a backlog drains, race state (retained, with the full standings) goes out at most
# this often; each lap still gets its own event, and the state is sent as soon as idle.
STATE_INTERVAL_NS = 100_000_000
# Once this many messages were processed without a pause, memory is handed back to the
# system when the service next goes idle (see pitwall.memory).
BURST = 1000
# A storage error: wait this long before the first retry, doubling up to the most.
RETRY_S, RETRY_MAX_S = 0.5, 30.0
# In data_dir: this folder's lap service has had a session with the broker before.
SESSION_MARKER = "mqtt-session"


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
        restored = self._take_up_staged_restore()
        self.db = store.open_database(settings.data_dir, settings.database_url)
        self.bus = Bus(settings, "laps", persistent=True, manual_ack=True)
        self.bus.session_lost = self._session_lost
        self.topics = self.bus.topics
        # Storage episodes (disk full, I/O errors), the reserve file and WAL checkpoints.
        self.storage = StorageWatch(settings, self.bus, lambda: self.db)
        self.inbox: list[MQTTMessage] = []  # filled by bus.poll(), in this thread
        self.race: Race | None = None
        self.race_id: int | None = None
        self.records: Records | None = None  # those that stood when the race was set up
        self.plausibility: Plausibility | None = None  # which passes can be of the race
        self.refused = 0  # passes refused for the race (kept in the quarantine)
        # Error reports of the open transaction: sent once it is committed (a batch rolled
        # back and retried one by one reports each message once).
        self._reports: list[tuple[str, str, bytes]] = []
        self.commands = CommandHandler(self, rng or random.Random())
        self.heats = HeatRunner(self)
        self._stop = threading.Event()
        self._published_state: bytes | None = None
        self._published_lights: tuple | None = None
        self._state_sent_ns = 0
        self._cached_phase: tuple[int | None, str] | None = None
        self.restore_pending = False  # a restore command was accepted: swap after the batch
        self.counters = LapCounters()
        # A cluster track: every transaction also writes the central archive's journal.
        self.outbox = (Outbox(self.bus, renew=restored) if settings.cluster.publishes_journal
                       else None)

    # ------------------------------------------------------------------ lifecycle
    def restore(self) -> None:
        """Take up the newest race from storage, exactly as it was scored."""
        row = store.newest_race()
        if row is None:
            self.race = self.race_id = None
            return
        config, plan, controls, crossings = store.load_race_logs(row)
        self.set_race(Race(config, plan, controls, crossings), row.id, row.setup_ns)
        if row.phase not in ("finished", "aborted") and row.boot_id != self.boot_id \
                and plan is not None:
            # Monotonic stamps restart at boot: this race's clock cannot go on.
            self.race.control(ControlKind.FINISH, self.race.last_event_ns() + 1)
            with self.transaction():
                store.add_control(row.id, self.race.controls[-1])
            log.warning("race %s was interrupted by a reboot: finished with its results so far",
                        row.id)
        self._cache_phase()
        log.info("restored race %s (%s, %d passes)", row.id, self.race.phase_at(self.clock()),
                 len(crossings))

    def _take_up_staged_restore(self) -> bool:
        """Swap in a staged restore, if there is one; True if it did."""
        if self.settings.database_url:
            return False
        data = Path(self.settings.data_dir)
        if not (data / archive.STAGED).exists():
            return False
        kept = archive.take_up_staged(data)
        log.warning("took up a restored backup; the database it replaced is kept as %s", kept)
        return True

    def take_up_restore(self) -> None:
        """Swap in the staged database (between batches: no transaction is open)."""
        self.restore_pending = False
        self.db.close()
        restored = self._take_up_staged_restore()
        self.db = store.open_database(self.settings.data_dir, self.settings.database_url)
        if self.outbox is not None:
            self.outbox = Outbox(self.bus, renew=restored)
        self._published_state = None
        self.heats = HeatRunner(self)
        self.restore()
        self.publish_state(force=True)

    @contextlib.contextmanager
    def transaction(self):
        """One write transaction; in a cluster, the journal entry of what it wrote goes
        in with it. A rollback forgets what the transaction touched."""
        if self.db.in_transaction():  # part of the open one: its entry carries this too
            yield
            return
        try:
            with engine.atomic(self.db):  # raises the real error, not the failed rollback
                yield
                if self.outbox is not None:
                    self.outbox.write()
        finally:
            store.touched.clear()

    def publish_journal(self) -> None:
        if self.outbox is not None:
            self.outbox.publish()

    def set_race(self, race: Race, race_id: int, setup_ns: int | None = None) -> None:
        """Take up ``race``, with the records it races against (all races but itself);
        ``setup_ns``: when it was set up (passes stamped before are not of it)."""
        self.race, self.race_id = race, race_id
        self.records = records(store.record_laps(exclude_race=race_id))
        self.plausibility = Plausibility(race_id, race_lanes(race.config, self.settings),
                                         setup_ns, race.last_event_ns(),
                                         self.settings.race.pass_horizon_s)
        self.refused = store.refused_count(race_id)

    def report(self, topic: str, reason: str, payload: bytes) -> None:
        """Report a rejected message on the errors topic once the transaction commits."""
        self._reports.append((topic, reason, bytes(payload[:contract.REPORT_MAX + 1])))

    def start(self, wait: float | None = 10.0) -> None:
        self.restore()
        self.bus.subscribe(self.topics.lane_pass_all, self.inbox.append)
        self.bus.subscribe(self.topics.race_command, self.inbox.append)
        self.bus.connect(wait=wait)
        self.publish_state(force=True)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Process messages until stop(). Call start() first."""
        processed, burst = False, 0
        try:
            while not self._stop.is_set():
                # Right after a batch, only look for more; otherwise wait for traffic.
                self.bus.poll(0 if processed else self._wait_s(), max_messages=BATCH)
                processed = bool(self.inbox)
                if processed:
                    batch = self.inbox[:]  # the handlers hold this very list
                    self.inbox.clear()
                    self.process(batch)
                    burst += len(batch)
                if self.restore_pending:
                    self.take_up_restore()
                self.auto_track_call()
                self.run_heats()
                self.publish_journal()
                # While batches keep coming the state is throttled; it goes out once idle.
                self.publish_state(throttle=processed)
                stats = self.counters.due(self.clock())
                if stats is not None:
                    self.bus.publish(self.topics.laps_stats, stats, retain=True)
                self.storage.tend(idle=not processed)
                if not processed and burst >= BURST:
                    memory.release()
                    burst = 0
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
            self.counters.retried()
            self.restore()  # memory may hold what the rollback undid: storage is the truth
            for i, msg in enumerate(batch):
                if self.restore_pending:  # as in _commit: the rest waits for the swap
                    self.inbox[:0] = batch[i:]
                    break
                self._commit_one(msg)

    def _commit(self, batch: list[MQTTMessage]) -> None:
        outbox: list[tuple[str, msgspec.Struct]] = []
        self.counters.begin()
        self._reports.clear()  # a rolled-back attempt's reports never go out
        with self.transaction():
            race_id = self._open_race_id()  # the race passes join; changes only by command
            for i, msg in enumerate(batch):
                if msg.topic == self.topics.race_command:
                    outbox += self.commands.handle(msg)
                    race_id = self._open_race_id()
                    if self.restore_pending:
                        # The rest belongs in the restored database: keep it, unacknowledged,
                        # for the first batch after the swap.
                        self.inbox[:0], batch = batch[i + 1:], batch[:i + 1]
                        break
                else:
                    outbox += self._handle_pass(msg, race_id)
        self.counters.committed(outbox)
        for topic, payload in outbox:
            self.bus.publish(topic, payload)
        for report in self._reports:
            self.bus.report_error(*report)
        self._reports.clear()
        self.publish_journal()
        for msg in batch:  # on disk and published: the broker may forget them now
            self.bus.ack(msg)
        if self.race is not None:
            self.race.forget_outcomes()  # stored as laps; a re-score rebuilds them

    def _commit_one(self, msg: MQTTMessage) -> None:
        delay = RETRY_S
        while not self._stop.is_set():
            try:
                self._commit([msg])
                self.storage.ok()
                return
            except peewee.OperationalError as exc:
                # Disk full, I/O error, database locked: keep the message (unacknowledged:
                # the broker keeps it too), retry later.
                again_now = self.storage.failed(msg, engine.storage_cause(exc), delay)
                self.restore()
                if not again_now:
                    self._back_off(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
            except Exception as exc:
                # A message that trips a bug: report it and go on with the rest.
                log.exception("message on %s could not be processed", clip(msg.topic))
                self.restore()
                self.bus.report_error(msg.topic, f"internal error: {exc!r}", msg.payload)
                self.bus.ack(msg)
                return

    def _handle_pass(self, msg: MQTTMessage,
                     race_id: int | None) -> list[tuple[str, msgspec.Struct]]:
        self.counters.count("passes")
        try:
            p = contract.decode_pass(msg.payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.counters.count("rejected")
            self.report(msg.topic, f"bad pass: {exc}", msg.payload)
            return []
        lane = self.topics.lane_of(msg.topic)
        if lane != p.lane:
            self.counters.count("rejected")
            self.report(msg.topic, f"pass for lane {p.lane} on the topic of lane {lane}",
                        msg.payload)
            return []
        if race_id is not None:
            why = self.plausibility.refusal(p.lane, p.t_ns, self.clock())
            if why is not None:
                self._quarantine(msg, p, race_id, why)
                return []
        pass_id = store.insert_pass(race_id, p.lane, p.car, p.t_ns, p.source)
        if pass_id is None:
            log.debug("pass lane %s t_ns %s already stored (redelivery)", p.lane, p.t_ns)
            self.counters.count("duplicates")
            return []
        self.counters.count("stored")
        if race_id is None:
            return []
        self.plausibility.accepted(p.t_ns)
        rescores = self.race.rescores
        out = self.race.add(Crossing(pass_id, p.lane, p.car, p.t_ns))
        if self.race.rescores != rescores:
            store.rewrite_outcomes(race_id, self.race.outcomes)
        else:
            store.record_outcome(race_id, out)
        return self._lap_event(out)

    def _quarantine(self, msg: MQTTMessage, p: contract.Pass, race_id: int, why: str) -> None:
        """Refuse a pass the race cannot have: kept aside (once), reported, not scored."""
        if store.quarantine(race_id, p.lane, p.car, p.t_ns, p.source, why, self.clock()):
            self.counters.count("quarantined")
            self.refused += 1
            self.report(msg.topic, f"refused pass: {why}", msg.payload)
        else:
            log.debug("refused pass lane %s t_ns %s already kept (redelivery)", p.lane, p.t_ns)
            self.counters.count("duplicates")

    def _lap_event(self, out: Outcome) -> list[tuple[str, msgspec.Struct]]:
        if out.kind not in (Kind.LAP, Kind.SUSPECT):
            return []
        return [(self.topics.race_lap, contract.LapEvent(
            race_id=self.race_id, entrant=out.entrant, lap=out.lap, lap_ns=out.lap_ns,
            lap_ms=contract.ms(out.lap_ns), t_ns=out.t_ns,
            suspect=out.kind is Kind.SUSPECT, pass_id=out.pass_id))]

    def auto_track_call(self) -> None:
        """A car overdue by the set multiple of its average lap (a deslot): yellow."""
        if self.race is None or self.race.config.auto_yellow_factor <= 0:
            return
        try:
            with self.transaction():
                key = self.race.track_call(self.clock())
                if key is not None:
                    store.add_control(self.race_id, self.race.controls[-1])
        except Exception:
            log.exception("automatic track call failed; reloading the race")
            self.restore()
            return
        if key is not None:
            log.warning("track call: %s %s is overdue; yellow flag", self.race.config.entrant,
                        key)

    def run_heats(self) -> None:
        """Heat rotation: finish a heat at its time, start the next after the pause."""
        if self.heats.current() is None:
            return  # not a heat: no transaction on every turn of the loop
        try:
            with self.transaction():
                changed = self.heats.tick(self.clock())
        except Exception:
            log.exception("heat rotation step failed; reloading the race")
            self.restore()
            return
        if changed:
            self.publish_state()

    def _back_off(self, delay: float) -> None:
        """Wait ``delay`` s before a retry, driving the MQTT connection meanwhile.

        This thread runs the network loop (``Bus.connect`` + ``poll``): a plain sleep here
        would send no keep-alive, and the broker would drop the connection (its last will
        saying offline) and redeliver what is in flight. What arrives meanwhile waits in
        the inbox, unacknowledged; once it holds a batch, only the connection is kept up.
        Space freed on a full partition ends the wait early.
        """
        deadline = time.monotonic() + delay
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self.storage.room_returned():
                return
            room = BATCH - len(self.inbox)
            self.bus.poll(min(left, IDLE_TICK_S) if room > 0 else 0, max_messages=max(room, 1))
            if room <= 0:
                self._stop.wait(min(left, IDLE_TICK_S))

    def _session_lost(self, when: str) -> None:
        """The broker had no session for the lap service (``Bus.session_lost``): on a
        reconnection, or at start when it had one before, what it queued is gone."""
        marker = Path(self.settings.data_dir) / SESSION_MARKER
        if when == "started":
            try:
                known = marker.exists()
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
            except OSError:
                known = False
            if not known:
                return  # the first connection of this data folder: nothing was queued
        reason = ("the broker kept no session for the lap service: passes published while "
                  "it was away may be lost (is Mosquitto's persistence working?)")
        log.error("%s", reason)
        self.bus.report_error(self.topics.status("laps"), reason, b"")

    # ------------------------------------------------------------------ state
    def publish_state(self, force: bool = False, throttle: bool = False) -> None:
        """Publish race and lights state (retained) when they changed.

        ``throttle``: a backlog is draining; send the state only if the last one is older
        than STATE_INTERVAL_NS (lights changes always go out at once).
        """
        now = self.clock()
        if force or not throttle or now - self._state_sent_ns >= STATE_INTERVAL_NS:
            state = state_payload(self.race, self.race_id, now, self.heats.state(now),
                                  self.records, refused=self.refused)
            # now_ns changes every time: compare without it.
            key = contract.encode(msgspec.structs.replace(state, now_ns=0))
            if force or key != self._published_state:
                self._published_state, self._state_sent_ns = key, now
                self._cache_phase()
                self.bus.publish(self.topics.race_state, state, retain=True)
        lights = lights_payload(self.race, now)
        lkey = contract.encode(msgspec.structs.replace(lights, now_ns=0))
        if force or lkey != self._published_lights:
            self._published_lights = lkey
            self.bus.publish(self.topics.lights_state, lights, retain=True)

    def _open_race_id(self) -> int | None:
        """The race a pass joins now: the current one unless it has ended."""
        if self.race is None or self.race.phase_at(self.clock()) in ("finished", "aborted"):
            return None
        return self.race_id

    def _cache_phase(self) -> None:
        """Keep the race row's phase (for listings) up to date; write only on a change."""
        if self.race is not None:
            cached = (self.race_id, self.race.phase_at(self.clock()))
            if cached != self._cached_phase:
                try:
                    with self.transaction():
                        store.set_phase(*cached)
                except peewee.OperationalError as exc:  # a full disk: try again next time
                    log.debug("race phase not cached: %s", exc)
                    return
                self._cached_phase = cached

    def _wait_s(self) -> float:
        """Sleep until the next light change, at most IDLE_TICK_S."""
        if self.race is None:
            return IDLE_TICK_S
        now = self.clock()
        nxt = self.race.next_change(now)
        return IDLE_TICK_S if nxt is None else min(IDLE_TICK_S, max(0.0, (nxt - now) / 1e9))
