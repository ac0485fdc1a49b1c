"""The lap service's storage episodes: a full data partition or failing writes.

The first failure of an episode says so once (a log line, a report on the errors topic
and the retained status ``degraded``; passes wait at the broker, unacknowledged). On a
full partition the reserve file (laps/space.py) is freed so the service can go on, and
the WAL is checkpointed; the episode ends, with status ``online`` again, once writes
succeed or the partition has room for the reserve again. When idle the WAL is
checkpointed now and then, so it never grows without end. docs/maintenance.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import peewee
from paho.mqtt.client import MQTTMessage

from pitwall import contract
from pitwall.bus import Bus
from pitwall.laps import engine
from pitwall.laps.space import MIB, Space
from pitwall.settings import Settings

log = logging.getLogger(__name__)

# Look at the data partition's free space (end of a storage-full episode) this often.
SPACE_CHECK_S = 1.0
# Checkpoint the WAL (and truncate it) when idle, at most this often after writes.
CHECKPOINT_S = 60.0


class StorageWatch:
    def __init__(self, settings: Settings, bus: Bus,
                 db: Callable[[], peewee.Database]) -> None:
        self.bus = bus
        self._db = db  # the service's database now (a restore swaps it)
        # The data partition (SQLite only): its reserve, made now if there is room.
        self.space = (None if settings.database_url else
                      Space(settings.data_dir, settings.storage_reserve_mib * MIB))
        if self.space is not None and self.space.size and not self.space.make():
            log.warning("no room for the %d MiB storage reserve in %s",
                        settings.storage_reserve_mib, settings.data_dir)
        # An episode: None (all well), "error" or "full" (status degraded).
        self.trouble: str | None = None
        self._free_at_failure: int | None = None
        self._space_checked = self._checkpointed = time.monotonic()
        self._writes_since_checkpoint = False

    def failed(self, msg: MQTTMessage, cause: BaseException, delay: float) -> bool:
        """A write failed with ``cause``. The first failure of an episode says so once:
        log, a report on errors and status ``degraded`` (passes wait at the broker). On a
        full partition the reserve is freed and the WAL checkpointed. True: retry now."""
        full = engine.is_full(cause)
        what = "storage full" if full else "storage error"
        if self.trouble is None:
            log.error("storage error (%s: %s); message kept, retrying in %.1f s", what, cause,
                      delay)
            self.bus.set_status(contract.DEGRADED)
            self.bus.report_error(msg.topic, f"{what}: {cause}; passes wait at the broker "
                                  "until they can be stored", msg.payload)
        else:  # the same episode: no new report, and no log line per message
            log.debug("storage error (%s: %s) persists; retrying in %.1f s", what, cause, delay)
        self.trouble = "full" if full or self.trouble == "full" else "error"
        if not full or self.space is None:
            return False
        freed = self.space.release()
        self._checkpoint()  # frames the WAL holds go into the database; the WAL is cut
        self._free_at_failure = self.space.free()
        if freed:
            log.warning("storage full: freed the %.0f MiB storage reserve; %.1f MiB free now",
                        freed / MIB, (self._free_at_failure or 0) / MIB)
        return bool(freed)

    def ok(self) -> None:
        """A write succeeded: an episode of storage errors (not a full partition) is over."""
        if self.trouble == "error":
            self._recovered("writes succeed again")

    def tend(self, idle: bool) -> None:
        """Each turn of the loop: end a storage-full episode once the partition has room
        again (the reserve is made anew); when idle, checkpoint the WAL now and then."""
        now = time.monotonic()
        self._writes_since_checkpoint |= not idle
        if self.trouble == "full" and self.space is not None:
            if now - self._space_checked >= SPACE_CHECK_S:
                self._space_checked = now
                if self.space.has_room():
                    self._checkpoint()
                    self.space.make()
                    self._recovered("the data partition has room again")
        elif idle and now - self._checkpointed >= CHECKPOINT_S:
            if self._writes_since_checkpoint:
                self._checkpoint()
            else:
                self._checkpointed = now
            if self.space is not None and self.space.size and not self.space.held():
                self.space.make()  # no room at start, or freed in an episode

    def _recovered(self, why: str) -> None:
        log.warning("storage works again (%s): status online", why)
        self.trouble = None
        self.bus.set_status(contract.ONLINE)

    def _checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it (SQLite; never fails)."""
        try:
            result = engine.checkpoint(self._db())
        except peewee.OperationalError as exc:
            log.info("WAL checkpoint failed: %s", engine.storage_cause(exc))
            return
        self._checkpointed, self._writes_since_checkpoint = time.monotonic(), False
        log.debug("WAL checkpoint (busy, frames, done): %s", result)

    def room_returned(self) -> bool:
        """In a storage-full episode: has space been freed since the last failure?"""
        if self.trouble != "full" or self.space is None \
                or self._free_at_failure is None:
            return False
        free = self.space.free()
        return free is not None and free >= self._free_at_failure + MIB
