"""``pitwall archive``: the central archive's single writer for one track.

The track's lap service stays the single writer of its races; this process mirrors them
into the central database (PostgreSQL in a cluster) from the track's bridged journal
(``tracks/<track>/archive/journal``, laps/journal.py). It works like the lap service: a
persistent MQTT session with manual acknowledgement, one transaction per batch, and the
broker told only after the commit, so an entry is either applied or still queued.

After the commit the writer sends the track a receipt (``archive/ack``) for every
entry of the batch, applied now or before; the track deletes an entry only on its
receipt and sends it again without one, so an entry a bridge dropped comes again.

Applying is idempotent: rows are upserted by the track's own ids, and each applied
``seq`` of a journal origin is stored in the same transaction, so an entry delivered
twice is recognised and skipped. Entries may arrive out of order (a bridge that
reconnects resends what was in flight after newer ones, or drops it): every row
remembers the entry it was written from, and an older entry never overwrites a newer
one's rows. An entry whose rows need an older entry's (laps of a race whose row is not
here yet) waits for it; its receipt says so ("waiting"), and the track sends the older
one again at once. Every race, pass and lap lands exactly once.

One writer per track (its settings' topic root and database). API replicas read what it
writes and never write race data themselves.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import msgspec
import peewee
from paho.mqtt.client import MQTTMessage
from peewee import BigIntegerField, CharField, CompositeKey, DoubleField

from pitwall import contract
from pitwall.bus import Bus
from pitwall.laps import engine, store
from pitwall.settings import Settings

log = logging.getLogger(__name__)

BATCH = contract.INFLIGHT
RETRY_MAX_S = 30.0
PARKED_MAX = 10 * BATCH  # entries held back for older ones; beyond, the track resends


class ArchivePositionRow(store.BaseModel):
    """The newest journal entry applied, per origin (the track database's identity)."""

    origin = CharField(primary_key=True)
    seq = BigIntegerField()
    applied_at = DoubleField()  # wall clock: how far behind the archive is, for people

    class Meta:
        table_name = "archive_position"


class ArchiveAppliedRow(store.BaseModel):
    """Each entry applied: a redelivered one is recognised, whatever order they come in
    (a bridge that reconnects may send entries queued on the lost link after newer ones)."""

    origin = CharField()
    seq = BigIntegerField()

    class Meta:
        table_name = "archive_applied"
        primary_key = CompositeKey("origin", "seq")


class ArchiveRowSeqRow(store.BaseModel):
    """The entry each archived row was last written from: an older entry that arrives
    late never overwrites what a newer one wrote."""

    kind = CharField()  # a journal table ("races", "passes", ...)
    row_id = BigIntegerField()
    seq = BigIntegerField()

    class Meta:
        table_name = "archive_row_seq"
        primary_key = CompositeKey("kind", "row_id")


ARCHIVE_MODELS = [ArchivePositionRow, ArchiveAppliedRow, ArchiveRowSeqRow]
_decoder = msgspec.json.Decoder(contract.Journal)


def open_archive(settings: Settings) -> peewee.Database:
    db = store.open_database(settings.data_dir, settings.database_url)
    db.bind(ARCHIVE_MODELS)
    engine.create_tables(db, ARCHIVE_MODELS)
    return db


def apply(entry: contract.Journal) -> bool:
    """Apply one journal entry in the open transaction; False if it was applied before.

    Entries may come out of order: each row is written only if no newer entry wrote it,
    and a re-score removes only the laps older entries wrote."""
    if ArchiveAppliedRow.select().where(ArchiveAppliedRow.origin == entry.origin,
                                        ArchiveAppliedRow.seq == entry.seq).exists():
        return False
    ArchiveAppliedRow.insert(origin=entry.origin, seq=entry.seq).execute()
    pos = ArchivePositionRow.get_or_none(ArchivePositionRow.origin == entry.origin)
    if pos is None and ArchivePositionRow.select().exists():
        log.warning("journal from a new origin %s (the track's database was restored or "
                    "replaced): its rows now overwrite the archive's copies", entry.origin)
    for name, model in store.JOURNALLED.items():
        if name == "laps" and entry.laps_replaced:  # re-scored: the entry has all of them
            older = (ArchiveRowSeqRow.select(ArchiveRowSeqRow.row_id)
                     .where(ArchiveRowSeqRow.kind == name, ArchiveRowSeqRow.seq < entry.seq))
            model.delete().where(model.race.in_(entry.laps_replaced),
                                 model.id.in_(older)).execute()
        rows = getattr(entry, name)
        if not rows:
            continue
        newer = {r.row_id for r in ArchiveRowSeqRow.select(ArchiveRowSeqRow.row_id).where(
            ArchiveRowSeqRow.kind == name, ArchiveRowSeqRow.seq > entry.seq,
            ArchiveRowSeqRow.row_id.in_([row["id"] for row in rows]))}
        rows = [row for row in rows if row["id"] not in newer]
        if not rows:
            continue
        fields = [getattr(model, f) for f in model._meta.sorted_field_names if f != "id"]
        (model.insert_many(rows).on_conflict(conflict_target=[model.id], preserve=fields)
         .execute())
        (ArchiveRowSeqRow.insert_many([{"kind": name, "row_id": row["id"], "seq": entry.seq}
                                       for row in rows])
         .on_conflict(conflict_target=[ArchiveRowSeqRow.kind, ArchiveRowSeqRow.row_id],
                      preserve=[ArchiveRowSeqRow.seq])
         .execute())
    if pos is None or entry.seq > pos.seq:
        (ArchivePositionRow.insert(origin=entry.origin, seq=entry.seq, applied_at=time.time())
         .on_conflict(conflict_target=[ArchivePositionRow.origin],
                      preserve=[ArchivePositionRow.seq, ArchivePositionRow.applied_at])
         .execute())
    return True


class ArchiveWriter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = open_archive(settings)
        self.bus = Bus(settings, "archive", persistent=True, manual_ack=True)
        self.inbox: list[MQTTMessage] = []
        self._stop = threading.Event()
        self.applied = self.skipped = 0
        # Entries that need an older one first: tried again with every batch.
        self.parked: list[tuple[MQTTMessage, contract.Journal]] = []

    def start(self, wait: float | None = 10.0) -> None:
        self.bus.subscribe(self.bus.topics.archive_journal, self.inbox.append)
        self.bus.connect(wait=wait)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                self.bus.poll(0.5, max_messages=BATCH)
                if self.inbox:
                    batch = self.inbox[:]
                    self.inbox.clear()
                    self.process(batch)
        finally:
            self.bus.stop()
            self.db.close()

    def process(self, batch: list[MQTTMessage]) -> None:
        """Apply a batch in one transaction, then acknowledge it; while the database is
        away, keep the batch, keep the MQTT connection alive, and try again."""
        entries: list[tuple[MQTTMessage, contract.Journal]] = []
        for msg in batch:
            try:
                entries.append((msg, _decoder.decode(msg.payload)))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self.bus.report_error(msg.topic, f"bad journal entry: {exc}", msg.payload)
                self.bus.ack(msg)
        batch_entries = entries
        # Oldest first, with those held back before: a race's row comes before its laps.
        entries = sorted(self.parked + entries, key=lambda me: (me[1].origin, me[1].seq))
        delay = 0.5
        while not self._stop.is_set():
            try:
                with self.db.atomic():
                    applied, parked = self._apply_all(entries)
                break
            except peewee.PeeweeException as exc:
                log.error("archive database error (%s); %d entries kept, retrying in "
                          "%.1f s", exc, len(entries), delay)
                self._reconnect_db()
                self._wait_polling(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        else:
            return  # stopping: unacknowledged, the broker keeps them for the next start
        # Held back in memory only (bounded): without a receipt the track keeps each one
        # and sends it again, so the broker's window need not wait for them.
        self.parked = parked[:PARKED_MAX]
        self.applied += sum(done for _, _, done in applied)
        self.skipped += sum(not done for _, _, done in applied)
        self._send_receipts([e for _, e, _ in applied], [e for _, e in self.parked])
        for msg, _ in batch_entries:
            self.bus.ack(msg)

    def _apply_all(self, entries):
        """Each entry in its own savepoint: one whose rows need rows of an entry not here
        yet (a lap before its race: the older entry was lost on the way and comes again)
        is held back and tried again with the next batch."""
        applied, parked = [], []
        for msg, e in entries:
            try:
                with self.db.atomic():
                    applied.append((msg, e, apply(e)))
            except peewee.IntegrityError as exc:
                if (msg, e) not in self.parked:
                    log.warning("journal entry %s of %s waits for older ones (%s)",
                                e.seq, e.origin, str(exc).splitlines()[0][:200])
                parked.append((msg, e))
        return applied, parked

    def _send_receipts(self, applied: list[contract.Journal],
                       waiting: list[contract.Journal]) -> None:
        """Tell the track which entries are in the archive (applied now or before), and
        which wait for older ones: it keeps each entry, and sends it again, until its
        receipt arrives (laps/journal.py), and sends again at once older ones that the
        newer ones overtook."""
        receipts: dict[str, contract.JournalAck] = {}
        for e, field in [(e, "seqs") for e in applied] + [(e, "waiting") for e in waiting]:
            receipt = receipts.setdefault(e.origin, contract.JournalAck(origin=e.origin,
                                                                        seqs=[]))
            getattr(receipt, field).append(e.seq)
        for receipt in receipts.values():
            self.bus.publish(self.bus.topics.archive_ack, receipt)

    def _reconnect_db(self) -> None:
        with contextlib.suppress(peewee.PeeweeException):
            self.db.close()

    def _wait_polling(self, seconds: float) -> None:
        """Sleep, still serving the MQTT connection (keep-alive). What arrives meanwhile
        waits in the inbox, unacknowledged; the broker sends at most its in-flight window."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.bus.poll(min(0.5, max(0.0, deadline - time.monotonic())), max_messages=BATCH)


def run(settings: Settings, args) -> int:
    """``pitwall archive``: mirror one track (the settings' topic root) into the database
    (``database_url``) until SIGINT/SIGTERM."""
    from pitwall.signals import stop_on_signals

    writer = ArchiveWriter(settings)
    stopping = stop_on_signals()
    threading.Thread(target=lambda: (stopping.wait(), writer.stop()), daemon=True).start()
    writer.start(wait=None)
    log.info("archiving %s into %s", writer.bus.topics.archive_journal,
             settings.database_url or settings.database_path)
    writer.run()
    return 0
