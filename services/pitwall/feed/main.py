"""``pitwall feed apex``: a track's Apex Timing live feed as a pass source.

``--uri ws://HOST:PORT`` follows the live feed (and archives every message under
``{data_dir}/feeds/``); ``--replay FILE [--speed X]`` plays such an archive exactly as
live. Either way the session becomes an endurance race on the lap service, its laps and
pit stops passes on the bus (docs/feeds.md).
"""

from __future__ import annotations

import argparse
import logging
import sys

from pitwall.settings import Settings

log = logging.getLogger(__name__)

SETTLE_S = 60.0  # after a replay: how long to wait for the race to go green


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("speed must be a number > 0")
    return value


def _lane(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"lane {text!r} is not 1..64")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    feeds = parser.add_subparsers(dest="feed", required=True, metavar="FEED")
    apex = feeds.add_parser("apex", help="an Apex Timing WebSocket feed",
                            description="Follow (or replay) an Apex Timing live feed.")
    source = apex.add_mutually_exclusive_group(required=True)
    source.add_argument("--uri", help="the feed's WebSocket address, ws://HOST:PORT[/PATH]")
    source.add_argument("--replay", metavar="FILE",
                        help="replay an archived session (a .jsonl.gz from data_dir/feeds)")
    apex.add_argument("--speed", type=_speed, default=1.0,
                      help="replay speed: 100 plays a hundred times as fast (default 1)")
    apex.add_argument("--lane", type=_lane, default=1,
                      help="the timing line's lane for the feed's laps (default 1); pit "
                           "stops go to the [[lanes]] with role pit_in / pit_out")


def lanes_for(settings: Settings, line: int):
    from pitwall.feed.race_link import Lanes

    roles = {}
    for lane in settings.pit_lanes:
        roles.setdefault(lane.role, lane.lane)
    if line in roles.values():
        raise ValueError(f"lane {line} is a pit sensor's lane ([[lanes]] role); the feed's "
                         "laps need the timing line's")
    return Lanes(line, roles.get("pit_in"), roles.get("pit_out"))


def run(settings: Settings, args: argparse.Namespace) -> int:
    from websockets.uri import parse_uri

    from pitwall.feed import archive

    try:
        lanes = lanes_for(settings, args.lane)
    except ValueError as exc:
        print(f"pitwall feed: {exc}", file=sys.stderr)
        return 2
    if args.replay:
        try:
            messages = archive.read(args.replay)
        except archive.ArchiveError as exc:
            print(f"pitwall feed: {exc}", file=sys.stderr)
            return 2
        if not messages:
            print(f"pitwall feed: {args.replay}: no messages to replay", file=sys.stderr)
            return 2
        return _run(settings, lanes, f"replay:{args.replay}",
                    lambda pipeline: _replay(pipeline, messages, args.speed))
    try:
        parse_uri(args.uri)
    except Exception as exc:  # websockets' InvalidURI, with the reason
        print(f"pitwall feed: {exc}", file=sys.stderr)
        return 2
    return _run(settings, lanes, args.uri, lambda pipeline: _live(pipeline, args.uri),
                archive_dir=archive.folder(settings.data_dir))


def _run(settings: Settings, lanes, source: str, body, archive_dir=None) -> int:
    from pitwall.bus import Bus
    from pitwall.feed.apex_mapper import ApexMapper
    from pitwall.feed.archive import ArchiveWriter
    from pitwall.feed.pipeline import FeedPipeline
    from pitwall.feed.race_link import RaceLink
    from pitwall.sim.publisher import PassPublisher

    # Named as its unit (pitwall-feed-apex): the health page pairs the two.
    bus = Bus(settings, "feed-apex")
    out = PassPublisher(bus, "apex")

    def report(reason: str, line: bytes = b"") -> None:
        bus.report_error(source, reason, line)

    link = RaceLink(send=lambda cmd: bus.publish(bus.topics.race_command, cmd),
                    publish=out.publish, lanes=lanes, report=report)
    bus.subscribe(bus.topics.race_reply, link.on_reply)
    bus.subscribe(bus.topics.race_state, link.on_state)
    writer = ArchiveWriter(archive_dir) if archive_dir is not None else None
    pipeline = FeedPipeline(ApexMapper(), link, writer, report)
    if lanes.pit_in is None or lanes.pit_out is None:
        log.warning("no [[lanes]] with role pit_in and pit_out: the feed's pit stops are not "
                    "published (docs/feeds.md)")
    bus.start(wait=10)
    try:
        code = body(pipeline)
    finally:
        out.flush()
        bus.stop()
        if writer is not None:
            writer.close()
    log.info("%d messages, %d laps, %d passes published", pipeline.messages, pipeline.laps,
             link.published)
    return code


def _replay(pipeline, messages, speed: float) -> int:
    from pitwall.feed.replay import replay, settle
    from pitwall.signals import stop_on_signals

    stopping = stop_on_signals()
    sent = replay(messages, pipeline, speed, stopping)
    settled = settle(pipeline, stopping, SETTLE_S)
    print(f"pitwall feed: replayed {sent} of {len(messages)} messages, "
          f"{pipeline.link.published} passes published"
          f"{'' if settled else ' (some passes never published: the race did not start)'}"
          f"{' (interrupted)' if stopping.is_set() else ''}", flush=True)
    if stopping.is_set():
        return 130
    return 0 if settled else 1


def _live(pipeline, uri: str) -> int:
    import asyncio
    import contextlib
    import signal

    from pitwall.feed.client import follow

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        task = asyncio.create_task(follow(uri, pipeline, stopping))
        await stopping.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        pipeline.tick()  # what the last replies allow

    asyncio.run(main())
    return 0
