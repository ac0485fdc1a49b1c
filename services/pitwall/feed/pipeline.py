"""One feed message's way through the adapter: archive it, map it, act on what it meant.

Live (``client``) and replayed (``replay``) messages take this same way, with their
receive time (a replay's from the archive): so a replay does exactly what live did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pitwall.feed.apex_mapper import (
    ApexMapper,
    DriverSeen,
    Event,
    Lap,
    PitEvent,
    Problem,
    SessionStart,
)
from pitwall.feed.archive import ArchiveWriter
from pitwall.feed.race_link import RaceLink

log = logging.getLogger(__name__)

LINE_CAP = 200  # bytes of an offending line that go with its error report


class FeedPipeline:
    def __init__(self, mapper: ApexMapper, link: RaceLink, archive: ArchiveWriter | None,
                 report: Callable[[str, bytes], None]) -> None:
        self.mapper = mapper
        self.link = link
        self.archive = archive
        self.report = report  # (reason, offending line): the bus's errors topic
        self.messages = 0
        self.laps = 0
        self._archive_failed = False

    def message(self, r_ns: int, data: str | bytes, wall: float | None = None) -> None:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        self.messages += 1
        events = self.mapper.frame(r_ns, text)
        if self.archive is not None:
            self._archive(r_ns, text, wall)
        for event in events:
            try:
                self._act(event)
            except Exception as exc:  # one event's trouble must not cost the others
                log.exception("feed event %r failed", event)
                self.report(f"internal error: {exc!r}", repr(event).encode()[:LINE_CAP])
        self.link.tick()

    def tick(self) -> None:
        self.link.tick()

    def _archive(self, r_ns: int, text: str, wall: float | None) -> None:
        """Keep the message; a full or failing disk costs the archive, never the race."""
        try:
            if self.mapper.new_session:
                self.archive.start(self.mapper.name, wall)
            self.archive.write(r_ns, text, wall)
            self._archive_failed = False
        except OSError as exc:
            if not self._archive_failed:
                log.error("cannot archive the feed: %s", exc)
                self.report(f"cannot archive the feed: {exc.strerror or exc}", b"")
            self._archive_failed = True

    def _act(self, event: Event) -> None:
        if isinstance(event, Lap):
            self.laps += 1
            self.link.crossing(event.kart, event.at_ms)
        elif isinstance(event, PitEvent):
            log.info("kart %d: pit %s at %.3f s", event.kart,
                     "entry" if event.entry else "exit", event.at_ms / 1000)
            self.link.pit(event.kart, event.entry, event.at_ms)
        elif isinstance(event, SessionStart):
            self.link.new_session(event)
        elif isinstance(event, DriverSeen):
            # Not sent to the lap service: a driver command is stamped with its clock when
            # it arrives, which is not the feed's time (docs/feeds.md, limits).
            log.info("kart %d: driver now %s", event.kart, event.driver)
        elif isinstance(event, Problem):
            self.report(event.reason, event.line.encode("utf-8", errors="replace")[:LINE_CAP])
