"""``pitwall feed apex``'s command line, its back-off and its replay pacing."""

from __future__ import annotations

import threading

import pytest

from pitwall import cli, settings
from pitwall.feed import main as feed_main
from pitwall.feed.archive import ArchiveWriter, Message
from pitwall.feed.client import Backoff
from pitwall.feed.replay import replay

from ..support import write_config


def pitwall(tmp_path, *args: str, lanes=()) -> int:
    """``pitwall feed apex ARGS`` in this process (cli.main would set up logging anew)."""
    config = write_config(tmp_path / "pitwall.toml", {
        "data_dir": str(tmp_path / "data"), "mqtt": {"port": 1},
        **({"lanes": list(lanes)} if lanes else {})})
    parsed = cli.build_parser("feed").parse_args(["feed", "apex", *args])
    return feed_main.run(settings.load(config, environ={}), parsed)


def test_one_source_is_needed(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        pitwall(tmp_path)
    assert exc.value.code == 2 and "--uri" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        pitwall(tmp_path, "--uri", "ws://x:1", "--replay", "f.jsonl.gz")


@pytest.mark.parametrize("args, lanes, message", [
    (["--uri", "http://not-a-websocket"], (), "isn't a valid URI"),
    (["--replay", "missing.jsonl.gz"], (), "cannot read"),
    (["--uri", "ws://127.0.0.1:1", "--lane", "9"],
     ({"lane": 9, "pin": 20, "role": "pit_in"},), "pit sensor's lane"),
])
def test_bad_input_is_refused_before_anything_starts(tmp_path, capsys, args, lanes, message):
    assert pitwall(tmp_path, *args, lanes=lanes) == 2
    assert message in capsys.readouterr().err


def test_an_empty_archive_is_refused(tmp_path, capsys):
    writer = ArchiveWriter(tmp_path)
    path = writer.start("empty")
    writer.close()
    assert pitwall(tmp_path, "--replay", str(path)) == 2
    assert "no messages" in capsys.readouterr().err


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_success():
    backoff = Backoff(first=0.2, cap=1.0)
    assert [backoff.next() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == 0.2


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


class Pipeline:
    def __init__(self, clock: Clock) -> None:
        self.clock, self.got = clock, []

    def message(self, t_ns, data, wall=None) -> None:
        self.got.append((round(self.clock.now, 6), t_ns, data))

    def tick(self) -> None:
        pass


def test_a_replay_is_paced_by_the_archive_but_hands_over_the_archived_times():
    clock = Clock()
    pipeline = Pipeline(clock)
    messages = [Message(5_000_000_000, "a"), Message(7_000_000_000, "b"),
                Message(15_000_000_000, "c")]
    assert replay(messages, pipeline, 100.0, threading.Event(), clock, clock.sleep) == 3
    assert pipeline.got == [(0.0, 5_000_000_000, "a"), (0.02, 7_000_000_000, "b"),
                            (0.1, 15_000_000_000, "c")]
    stopped = threading.Event()
    stopped.set()
    assert replay(messages, Pipeline(clock), 1.0, stopped, clock, clock.sleep) == 0
