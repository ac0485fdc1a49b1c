"""The archive journal: what each committed transaction stored, for a central archive.

In a cluster (docs/scale-out.md) a central PostgreSQL keeps every track's races, written
by one archive writer per track from the bridged topics. Its feed is this journal, a
transactional outbox: the entry (the whole rows the transaction wrote, ``store.touched``)
is inserted in that very transaction and published after the commit at QoS 1.

An entry leaves the outbox only when the archive writer's receipt for it comes back
(``archive/ack``), not when the track's own broker has it: between the two lie a bridge,
a network and the central broker, and a bridge that reconnects can drop what it had in
flight. An entry without a receipt is sent again: at once when receipts come for entries sent
after it (it was lost on the way), and otherwise later and later while none comes (the
link or the archive is down). Nothing is lost whatever fails on the way; the writer
recognises an entry it already applied and acknowledges it again.

Off unless the box is a cluster track (``[cluster]``): then nothing here runs, and only
``store.touched`` is filled and cleared.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import msgspec
from paho.mqtt.client import MQTTMessage

from pitwall import contract
from pitwall.bus import Bus
from pitwall.laps import store

log = logging.getLogger(__name__)

# Entries awaiting the archive's receipt at once: the same window as passes.
WINDOW = contract.INFLIGHT
# Without a receipt for this long, the entries awaiting one are sent again; the wait
# doubles while none comes (a link down for an hour costs a few dozen resends, not
# thousands) and is back to the start with the next receipt.
RESEND_S = 5.0
RESEND_MAX_S = 60.0
# Receipts come in about the order entries were sent: one for an entry sent this much
# later than another that still has none means that other was lost on the way.
OVERTAKEN_S = 1.0
# Rows per entry: a few hundred KiB at most, well below the broker's message size limit.
PART_ROWS = 2000

_ack_decoder = msgspec.json.Decoder(contract.JournalAck)


def origin(renew: bool = False) -> str:
    """This database's journal identity, made on first use (and anew after a restore)."""
    row = store.JournalOriginRow.select().first()
    if row is not None and not renew:
        return row.origin
    with store.JournalOriginRow._meta.database.atomic():
        store.JournalOriginRow.delete().execute()
        return store.JournalOriginRow.create(origin=uuid.uuid4().hex).origin


def stored_rows(touched: store.Touched) -> dict[str, list[contract.Row]]:
    """The rows ``touched`` names, read as they are now stored, per journalled table."""
    rows: dict[str, list[contract.Row]] = {}
    for name, model in store.JOURNALLED.items():
        ids = set(getattr(touched, name))
        if name == "laps" and touched.laps_replaced:
            replaced = model.select(model.id).where(model.race.in_(touched.laps_replaced))
            ids |= {r.id for r in replaced}
        # In slices: SQLite takes at most 32,766 values in one statement, and a re-score
        # of a long race touches every one of its laps.
        ordered = sorted(ids)
        rows[name] = [row for i in range(0, len(ordered), PART_ROWS)
                      for row in model.select().where(
                          model.id.in_(ordered[i:i + PART_ROWS])).order_by(model.id).dicts()]
    return rows


def parts(rows: dict[str, list[contract.Row]]) -> list[dict[str, list[contract.Row]]]:
    """The rows in entries of at most PART_ROWS rows, in table order (races first). A
    re-score of a long race (all its laps) so goes in several entries, each far below the
    broker's message size limit; the writer takes them in any order (cluster/writer.py)."""
    flat = [(name, row) for name, table in rows.items() for row in table]
    chunks = [flat[i:i + PART_ROWS] for i in range(0, len(flat), PART_ROWS)] or [[]]
    out = []
    for chunk in chunks:
        part: dict[str, list[contract.Row]] = {name: [] for name in rows}
        for name, row in chunk:
            part[name].append(row)
        out.append(part)
    return out


class Outbox:
    """The lap service's side of the journal: write in the transaction, publish after,
    delete on the archive's receipt. Runs in the lap service's thread (receipts arrive
    through ``bus.poll()``, like passes)."""

    def __init__(self, bus: Bus, *, renew: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bus = bus
        self.clock = clock
        self.origin = origin(renew)
        self.topic = bus.topics.archive_journal
        self._awaiting: dict[int, float] = {}  # sent, no receipt yet -> when: <= WINDOW
        self._lost: set[int] = set()  # overtaken by later receipts: to be sent again now
        self._received: set[int] = set()  # receipts: deleted in the next transaction
        self._sent_upto = 0  # the newest seq sent since this start
        self._unsent = True  # entries may wait in the outbox (always so after a start)
        self._resend_s = RESEND_S
        self._progress_at = clock()  # the last receipt (or first send after none awaited)
        bus.subscribe(bus.topics.archive_ack, self._on_receipt)

    def write(self) -> None:
        """Inside the open transaction: store an entry for what it wrote, then forget the
        ones the archive has (after the insert: the newest row stays, so no seq is
        reused)."""
        if not store.touched:
            return
        replaced = sorted(store.touched.laps_replaced)
        for i, part in enumerate(parts(stored_rows(store.touched))):
            row = store.OutboxRow.create(body="")
            # The first part names the re-scored races: it removes their laps that older
            # entries wrote; the later parts (newer seqs) only add laps.
            entry = contract.Journal(origin=self.origin, seq=row.id,
                                     laps_replaced=replaced if i == 0 else [], **part)
            store.OutboxRow.update(body=contract.encode(entry).decode()).where(
                store.OutboxRow.id == row.id).execute()
        self._unsent = True
        if self._received:
            store.OutboxRow.delete().where(store.OutboxRow.id.in_(self._received)).execute()
            self._received.clear()

    def publish(self) -> None:
        """After the commit (and on every turn of the loop): send again what has waited
        too long for its receipt, then the entries not sent yet, oldest first, up to
        WINDOW awaiting a receipt."""
        now = self.clock()
        if self._awaiting and now - self._progress_at >= self._resend_s:
            log.warning("no receipt from the archive for %.0f s: sending %d journal "
                        "entries again", now - self._progress_at, len(self._awaiting))
            self._lost |= self._awaiting.keys()
            self._progress_at = now
            self._resend_s = min(self._resend_s * 2, RESEND_MAX_S)
        if self._lost:
            ids = sorted(self._lost & self._awaiting.keys())
            for row in store.OutboxRow.select().where(store.OutboxRow.id.in_(ids)):
                self.bus.publish(self.topic, row.body.encode())
                self._awaiting[row.id] = now
            self._lost.clear()
        room = WINDOW - len(self._awaiting)
        if not self._unsent or room <= 0:
            return
        rows = list(store.OutboxRow.select().where(store.OutboxRow.id > self._sent_upto)
                    .order_by(store.OutboxRow.id).limit(room))
        if rows and not self._awaiting:
            self._progress_at = now  # the wait for a receipt starts now
        for row in rows:
            self.bus.publish(self.topic, row.body.encode())
            self._awaiting[row.id] = now
            self._sent_upto = row.id
        self._unsent = len(rows) == room

    def _on_receipt(self, msg: MQTTMessage) -> None:
        try:
            receipt = _ack_decoder.decode(msg.payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.bus.report_error(msg.topic, f"bad journal receipt: {exc}", msg.payload)
        else:
            if receipt.origin == self.origin:  # not one for the database a restore replaced
                self._receive(set(receipt.seqs), set(receipt.waiting))
        self.bus.ack(msg)  # only memory holds it: lost in a crash, the entry goes again

    def _receive(self, seqs: set[int], waiting: set[int]) -> None:
        """Forget what the archive has; what it got (has, or holds ``waiting`` for older
        entries) tells which older ones were lost on the way."""
        sent = [self._awaiting.pop(seq) for seq in seqs if seq in self._awaiting]
        sent += [self._awaiting[seq] for seq in waiting if seq in self._awaiting]
        self._received |= seqs
        if not sent:
            return  # a second receipt (for an entry sent twice): nothing new
        self._progress_at = self.clock()
        self._resend_s = RESEND_S
        overtaken = max(sent) - OVERTAKEN_S
        lost = {seq for seq, at in self._awaiting.items()
                if at < overtaken and seq not in waiting}
        if lost:
            log.warning("%d journal entries overtaken by later ones' receipts: sending "
                        "them again", len(lost))
            self._lost |= lost

    @property
    def awaiting(self) -> int:
        """Entries sent and not yet in the archive."""
        return len(self._awaiting)
