"""The raw archive: every message with its receive time, one gzip file per session,
readable after a crash."""

from __future__ import annotations

import gzip

import pytest

from pitwall.feed import archive
from pitwall.feed.archive import ArchiveError, ArchiveWriter

from . import samples


def test_messages_come_back_exactly_with_their_receive_times(tmp_path):
    writer = ArchiveWriter(tmp_path / "feeds")
    first = writer.start("Karting des Fagnes - 2 Heures", wall=1796587409.0)
    sent = [(10_000_000_001, samples.INIT), (10_500_000_002, samples.GREEN),
            (10_600_000_003, "r5512c5|dr|Crème brûlée | «team» \u2014 ok")]
    for t, data in sent:
        writer.write(t, data, wall=1796587409.5)
    writer.close()
    assert first.name.startswith("apex-") and first.name.endswith(
        "-karting-des-fagnes-2-heures.jsonl.gz")
    assert [(m.t_ns, m.data) for m in archive.read(first)] == sent


def test_each_session_gets_its_own_file(tmp_path):
    writer = ArchiveWriter(tmp_path)
    a = writer.start("Race", wall=1796587409.0)
    writer.write(1, "light|lg|")
    b = writer.start("Race", wall=1796587409.0)  # same second, same name
    writer.write(2, "light|lf|")
    writer.close()
    assert a != b and b.name.endswith("-race-2.jsonl.gz")
    assert [m.data for m in archive.read(a)] == ["light|lg|"]
    assert [m.data for m in archive.read(b)] == ["light|lf|"]


def test_a_file_cut_off_by_a_power_cut_reads_up_to_its_last_whole_message(tmp_path):
    writer = ArchiveWriter(tmp_path)
    path = writer.start("cut")
    for i in range(50):
        writer.write(i, f"dyn1|countdown|{7_200_000 - i}")
    # No close(): the gzip trailer is never written; the last bytes are torn.
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    got = archive.read(path)
    assert 45 <= len(got) <= 50 and got[0].data == "dyn1|countdown|7200000"
    assert [m.t_ns for m in got] == list(range(len(got)))
    writer.close()


def test_an_unreadable_archive_is_an_error_with_the_reason(tmp_path):
    not_gzip = tmp_path / "x.jsonl.gz"
    not_gzip.write_text("hello")
    with pytest.raises(ArchiveError, match="not a gzip file"):
        archive.read(not_gzip)
    bad_line = tmp_path / "y.jsonl.gz"
    with gzip.open(bad_line, "wb") as f:
        f.write(b'{"t": 1, "data": "ok"}\n{"t": "soon"}\n')
    with pytest.raises(ArchiveError, match="line 2"):
        archive.read(bad_line)
    with pytest.raises(ArchiveError, match="cannot read"):
        archive.read(tmp_path / "missing.jsonl.gz")


def test_a_failing_archive_costs_the_archive_not_the_race(tmp_path):
    from pitwall.feed.apex_mapper import ApexMapper
    from pitwall.feed.pipeline import FeedPipeline

    from . import samples

    class Link:  # the race side, reduced to what this test looks at
        def __init__(self):
            self.crossings = []

        def new_session(self, start):
            pass

        def crossing(self, kart, at_ms):
            self.crossings.append((kart, at_ms))

        def tick(self):
            pass

    (tmp_path / "feeds").write_text("a file where the folder should be")
    reports = []
    link = Link()
    pipeline = FeedPipeline(ApexMapper(), link, ArchiveWriter(tmp_path / "feeds"),
                            lambda reason, line: reports.append(reason))
    for r, text in [(1, samples.INIT), (2, samples.GREEN), (3, samples.LAP_14_1),
                    (4, samples.LAP_7_1)]:
        pipeline.message(r * 1_000_000_000, text)
    assert link.crossings == [(14, 58_312), (7, 59_004)]
    assert len(reports) == 1 and "cannot archive the feed" in reports[0]
