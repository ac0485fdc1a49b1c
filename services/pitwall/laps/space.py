"""Room on the data partition: free space, and a reserve file to free in an emergency.

When the partition fills up, SQLite cannot append to its write-ahead log and the lap
service stops storing passes (they wait at the broker, unacknowledged). The reserve is a
file of ``storage_reserve_mib`` real blocks in the data folder, made while there is room:
deleting it gives the service that much space at once, enough to store passes again and
to checkpoint the WAL, while the maintainer frees space. It is made again once the
partition has room for it and as much again.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

RESERVE = "storage-reserve"  # the reserve file's name in the data folder
MIB = 1024 * 1024
# Without a reserve (storage_reserve_mib = 0) "room again" means at least this much free.
MIN_ROOM = 4 * MIB


class Space:
    def __init__(self, data_dir: str | Path, reserve_bytes: int) -> None:
        self.dir = Path(data_dir)
        self.path = self.dir / RESERVE
        self.size = max(0, reserve_bytes)

    def free(self) -> int | None:
        """Bytes free for this process on the data partition (None: cannot tell)."""
        try:
            st = os.statvfs(self.dir)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    def held(self) -> bool:
        """Is the reserve in place (whole)?"""
        try:
            return self.path.stat().st_size >= self.size > 0
        except OSError:
            return False

    def has_room(self) -> bool:
        """Room enough to make the reserve and still have as much free: the end of a
        storage-full episode."""
        free = self.free()
        if free is None:
            return True  # cannot tell: let the next write decide
        missing = 0 if self.held() else self.size
        return free - missing >= max(self.size, MIN_ROOM)

    def make(self) -> bool:
        """Make the reserve if it is missing and there is room for it; True if held."""
        if self.size <= 0 or self.held():
            return self.held()
        if not self.has_room():
            return False
        tmp = self.path.with_suffix(".new")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                try:  # real blocks, not a sparse file: deleting it must free space
                    os.posix_fallocate(fd, 0, self.size)
                except OSError:
                    block = bytes(MIB)
                    for offset in range(0, self.size, MIB):
                        os.write(fd, block[:min(MIB, self.size - offset)])
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            log.warning("could not make the %d MiB storage reserve: %s", self.size // MIB, exc)
            return False
        log.info("storage reserve of %d MiB in place (%s)", self.size // MIB, self.path)
        return True

    def release(self) -> int:
        """Delete the reserve (an emergency: the partition is full); bytes freed."""
        freed = 0
        for path in (self.path, self.path.with_suffix(".new")):
            try:
                size = path.stat().st_size
                path.unlink()
                freed += size
            except OSError:
                pass
        return freed
