"""The archive journal: what each committed transaction stored, for a central archive.

In a cluster (docs/scale-out.md) a central PostgreSQL keeps every track's races, written
by one archive writer per track from the bridged topics. Its feed is this journal, a
transactional outbox: the entry (the whole rows the transaction wrote, ``store.touched``)
is inserted in that very transaction, published after the commit at QoS 1, and deleted
once the broker has acknowledged it. A crash between commit and publish leaves the entry
in the outbox, published when the service next starts; an entry is never lost, and
published twice at worst (the writer's upserts make that harmless).

Off unless the box is a cluster track (``[cluster]``): then nothing here runs, and only
``store.touched`` is filled and cleared.
"""

from __future__ import annotations

import logging
import uuid

from paho.mqtt.client import MQTTMessageInfo

from pitwall import contract
from pitwall.bus import Bus
from pitwall.laps import store

log = logging.getLogger(__name__)

# Entries in flight at once (published, not yet acknowledged): the same window as passes.
WINDOW = contract.INFLIGHT


def origin(renew: bool = False) -> str:
    """This database's journal identity, made on first use (and anew after a restore)."""
    row = store.JournalOriginRow.select().first()
    if row is not None and not renew:
        return row.origin
    with store.JournalOriginRow._meta.database.atomic():
        store.JournalOriginRow.delete().execute()
        return store.JournalOriginRow.create(origin=uuid.uuid4().hex).origin


def entry(origin: str, seq: int, touched: store.Touched) -> contract.Journal:
    """The journal entry for the rows ``touched`` names, read as they are now stored."""
    rows: dict[str, list[contract.Row]] = {}
    for name, model in store.JOURNALLED.items():
        ids = set(getattr(touched, name))
        if name == "laps" and touched.laps_replaced:
            replaced = model.select(model.id).where(model.race.in_(touched.laps_replaced))
            ids |= {r.id for r in replaced}
        rows[name] = list(model.select().where(model.id.in_(ids)).order_by(model.id)
                          .dicts()) if ids else []
    return contract.Journal(origin=origin, seq=seq,
                            laps_replaced=sorted(touched.laps_replaced), **rows)


class Outbox:
    """The lap service's side of the journal: write in the transaction, publish after."""

    def __init__(self, bus: Bus, *, renew: bool = False) -> None:
        self.bus = bus
        self.origin = origin(renew)
        self.topic = bus.topics.archive_journal
        self._in_flight: dict[int, MQTTMessageInfo] = {}  # seq -> its publish
        self._acked: list[int] = []  # acknowledged: deleted in the next transaction
        self._sent_upto = 0  # the newest seq handed to the broker since this start
        self._unsent = True  # entries may wait in the outbox (always so after a start)

    def write(self) -> None:
        """Inside the open transaction: store an entry for what it wrote, then forget the
        acknowledged ones (after the insert: the newest row stays, so no seq is reused)."""
        if not store.touched:
            return
        row = store.OutboxRow.create(body="")
        body = contract.encode(entry(self.origin, row.id, store.touched)).decode()
        store.OutboxRow.update(body=body).where(store.OutboxRow.id == row.id).execute()
        self._unsent = True
        if self._acked:
            store.OutboxRow.delete().where(store.OutboxRow.id.in_(self._acked)).execute()
            self._acked.clear()

    def publish(self) -> None:
        """After the commit (and on every turn of the loop): note what the broker has
        acknowledged, and send the entries not sent yet, oldest first, WINDOW at most
        in flight."""
        for seq in [seq for seq, info in self._in_flight.items() if info.is_published()]:
            del self._in_flight[seq]
            self._acked.append(seq)
        room = WINDOW - len(self._in_flight)
        if not self._unsent or room <= 0:
            return
        rows = list(store.OutboxRow.select().where(store.OutboxRow.id > self._sent_upto)
                    .order_by(store.OutboxRow.id).limit(room))
        for row in rows:
            self._in_flight[row.id] = self.bus.publish(self.topic, row.body.encode())
            self._sent_upto = row.id
        self._unsent = len(rows) == room

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)
