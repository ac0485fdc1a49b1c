"""The raw archive: every message a feed sent, with its receive time, one gzip file per
session in ``{data_dir}/feeds/``.

Each line is a JSON object::

    {"t": 81234567891234, "wall": 1796587409.331, "data": "r3021c9|tn|1:02.345\\n…"}

``t`` is the receive time on CLOCK_MONOTONIC (nanoseconds): only differences matter, and
they are what a replay paces itself by and what the mapper is given, so a replay sees
exactly what the live adapter saw. ``wall`` is the wall clock, for people (the Pi may not
know the date). ``data`` is the message as it came, untouched.

Every message is flushed as it is written (a gzip sync flush), so after a power cut the
file is readable up to the last message; ``read`` stops quietly at a cut-off end.
"""

from __future__ import annotations

import gzip
import logging
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

log = logging.getLogger(__name__)

SUFFIX = ".jsonl.gz"


class Record(msgspec.Struct, kw_only=True):
    t: int
    wall: float = 0.0
    data: str


class ArchiveError(ValueError):
    """An archive that cannot be replayed; names the file and line."""


def folder(data_dir: str | Path) -> Path:
    return Path(data_dir) / "feeds"


class ArchiveWriter:
    """Appends messages to the current session's file; ``start`` opens the next one."""

    def __init__(self, directory: str | Path, feed: str = "apex") -> None:
        self.directory = Path(directory)
        self.feed = feed
        self.path: Path | None = None
        self._file: gzip.GzipFile | None = None
        self._encoder = msgspec.json.Encoder()

    def start(self, session: str, wall: float | None = None) -> Path:
        """A new file for a new session, named by the wall clock and the session's name."""
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(wall or time.time()))
        slug = re.sub(r"[^a-z0-9]+", "-", session.lower()).strip("-")[:40] or "session"
        path = self.directory / f"{self.feed}-{stamp}-{slug}{SUFFIX}"
        n = 1
        while path.exists():
            n += 1
            path = self.directory / f"{self.feed}-{stamp}-{slug}-{n}{SUFFIX}"
        # Held open for the session and closed by close(), hence no context manager.
        self._file = gzip.open(path, "ab")  # noqa: SIM115
        self.path = path
        log.info("archiving the feed to %s", path)
        return path

    def write(self, t_ns: int, data: str, wall: float | None = None) -> None:
        if self._file is None:
            self.start("session", wall)
        record = Record(t=t_ns, wall=round(wall or time.time(), 3), data=data)
        self._file.write(self._encoder.encode(record) + b"\n")
        self._file.flush()  # zlib sync flush: readable up to here after a crash

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True, slots=True)
class Message:
    t_ns: int
    data: str


def read(path: str | Path) -> list[Message]:
    """Every message of an archive, in the order received. A file cut off mid-write (a
    power cut) ends at its last whole line; anything else unreadable is an ArchiveError."""
    return list(_records(Path(path)))


def _records(path: Path) -> Iterator[Message]:
    decoder = msgspec.json.Decoder(Record)
    try:
        with gzip.open(path, "rb") as f:
            lines = iter(f)
            for n in range(1, 2**62):
                try:
                    line = next(lines)
                except StopIteration:
                    return
                except (EOFError, zlib.error):
                    log.warning("%s ends mid-message (cut off): replaying up to there", path)
                    return
                if not line.endswith(b"\n"):
                    return  # the last line was cut off
                try:
                    record = decoder.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise ArchiveError(f"{path}: line {n}: {exc}") from None
                yield Message(record.t, record.data)
    except gzip.BadGzipFile:
        raise ArchiveError(f"{path}: not a gzip file") from None
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read: {exc.strerror or exc}") from None
