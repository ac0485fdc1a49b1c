"""The feed's lines and grid, parsed: recorded-style samples in, typed messages out."""

from __future__ import annotations

import pytest

from pitwall.feed import apex_protocol as proto
from pitwall.feed.apex_grid import GridError, parse_grid, split_name

from . import samples


def test_the_init_snapshot_parses_into_its_messages():
    messages = proto.parse_frame(samples.INIT)
    assert [type(m).__name__ for m in messages] == [
        "Init", "Info", "Info", "Ignored", "Ignored", "Title", "Title", "Ignored", "Info",
        "Info", "Light", "ClockText", "GridHtml"]
    assert messages[0] == proto.Init("r")
    assert messages[5:7] == [proto.Title(1, "Karting des Fagnes"),
                             proto.Title(2, "2 Heures de Mariembourg")]
    assert messages[10] == proto.Light("lr")
    assert messages[11] == proto.ClockText("02:00:00", 7_200_000)
    assert messages[12].html == samples.GRID_HTML


def test_the_grid_gives_columns_rows_and_cells():
    grid = parse_grid(samples.GRID_HTML)
    assert [c.type for c in grid.columns] == ["grp", "sta", "rk", "no", "dr", "s1", "s2",
                                              "llp", "gap", "int", "blp", "otr", "pit", "tlp"]
    assert grid.column("llp") == 8 and grid.column("tlp") == 14 and grid.column("xyz") is None
    assert grid.columns[2].title == "Clt" and grid.unknown_types == []
    assert [r.id for r in grid.rows] == ["r5512", "r5530", "r5547"]
    row = grid.rows[1]
    # Text inside the cells' own markup; entities decoded.
    assert (row.cells[3].text, row.cells[4].text, row.cells[5].text) == (
        "2", "7", "Kart'Attack [Bob]")
    assert row.cells[2].cls == "sr" and row.cells[13].text == "0"
    assert split_name(row.cells[5].text) == ("Kart'Attack", "Bob")
    assert split_name("Flat Out") == ("Flat Out", "")


def test_a_grid_with_sloppy_html_still_parses():
    # Unquoted attributes, an unclosed div, no </tr>, no <tbody>, upper case, &nbsp;.
    html = ('<TR data-id=r0 class=head><td data-type=no>Kart</td><td data-type=llp>Last</td>'
            '<tr data-id=r9><td><div class=no1>12</td><td class="tn">1:01.5&nbsp;</td>'
            '<tr data-id=r10><td><div>13</div></td><td class=ti>59.9</td>')
    grid = parse_grid(html)
    assert [(c.index, c.type) for c in grid.columns] == [(1, "no"), (2, "llp")]
    assert [(r.id, [(c.cls, c.text) for c in r.cells.values()]) for r in grid.rows] == [
        ("r9", [("", "12"), ("tn", "1:01.5")]), ("r10", [("", "13"), ("ti", "59.9")])]


def test_a_grid_without_a_header_row_is_refused():
    with pytest.raises(GridError, match="header"):
        parse_grid('<tr data-id="r1"><td>1</td></tr>')


def test_an_unknown_column_type_is_named():
    grid = parse_grid(samples.GRID_HTML.replace('data-type="otr"', 'data-type="zz9"'))
    assert grid.unknown_types == ["zz9"]


@pytest.mark.parametrize("sample, expected", [
    # lap: last lap with its class, the lap counter, time on track
    (samples.LAP_14_1, [proto.Countdown(7_141_681), proto.CellUpdate("r5512", 8, "tb", "58.312"),
                        proto.CellUpdate("r5512", 14, "", "1"),
                        proto.CellUpdate("r5512", 11, "tb", "58.312"),
                        proto.CellUpdate("r5512", 12, "", "00:58"),
                        proto.CellUpdate("r5512", 9, "", "")]),
    # best lap: class ti (personal best) on the last and best lap cells
    (samples.BEST_14_2, [proto.Countdown(7_083_680),
                         proto.CellUpdate("r5512", 8, "ti", "57.998"),
                         proto.CellUpdate("r5512", 14, "", "2"),
                         proto.CellUpdate("r5512", 11, "ti", "57.998")]),
    # gap and interval cells
    (samples.GAP, [proto.CellUpdate("r5530", 9, "", "1 Tour"),
                   proto.CellUpdate("r5530", 10, "", "12.441")]),
    # pit in / pit out: row-level status lines, the status cell's class
    (samples.PIT_IN_14, [proto.Countdown(7_063_680), proto.RowEvent("r5512", "*in", "0"),
                         proto.CellUpdate("r5512", 2, "si", ""),
                         proto.CellUpdate("r5512", 13, "", "1")]),
    # driver name: the team cell with the new driver
    (samples.PIT_OUT_14, [proto.Countdown(7_013_680), proto.RowEvent("r5512", "*out", "0"),
                          proto.CellUpdate("r5512", 2, "so", ""),
                          proto.CellUpdate("r5512", 5, "drteam", "Les Pistards [Cyril]")]),
    # status and clock: a standing clock, the red light, a message for people
    (samples.CLOCK_STOPPED, [proto.ClockText("01:57:58", 7_078_000), proto.Light("lr"),
                             proto.Info("msg", "Drapeau rouge")]),
    (samples.GREEN, [proto.Light("lg"), proto.Countdown(7_200_000)]),
    (samples.FINISH, [proto.ClockText("00:00:00", 0), proto.Light("lf")]),
])
def test_update_samples_parse(sample, expected):
    assert proto.parse_frame(sample) == expected


def test_position_lines():
    messages = proto.parse_frame(samples.POSITION)
    assert proto.RowEvent("r5547", "#", "2") in messages
    assert proto.RowEvent("r5530", "#", "3") in messages
    assert proto.CellUpdate("r5530", 3, "", "3") in messages


@pytest.mark.parametrize("line, reason", [
    ("garbage without a bar", "not a key|kind|value"),
    ("r12x4|tn|1:00.0", "neither a row"),
    ("dyn1|countdown|soon", "not whole milliseconds"),
    ("dyn1|sundial|12", "unknown clock kind"),
    ("r5512|*teleport|0", "unknown row status"),
    ("r5512|#|first", "not a number"),
])
def test_malformed_lines_say_why(line, reason):
    message = proto.parse_line(line)
    assert isinstance(message, proto.Malformed) and reason in message.reason
    assert message.line == line


def test_unknown_keys_are_ignored_and_a_spare_bar_is_tolerated():
    assert proto.parse_line("wth2|sun|") == proto.Ignored("wth2")
    assert proto.parse_line("newthing|x|y") == proto.Ignored("newthing")
    assert proto.parse_line("r5512|*|58312|") == proto.RowEvent("r5512", "*", "58312")
    assert proto.parse_frame("\n\n  \nlight|lg|\r\n") == [proto.Light("lg")]


@pytest.mark.parametrize("text, ms", [
    ("58.312", 58_312), ("1:02.345", 62_345), ("1:02.3", 62_300), ("1:02", 62_000),
    ("1:02:03.456", 3_723_456), ("0.001", 1), ("", None), ("PIT", None), ("1:60.000", None),
    ("1:02.3456", None), ("-1.0", None), ("1,234", None),
])
def test_lap_times_are_read_exactly(text, ms):
    assert proto.lap_ms(text) == ms


def test_clock_readings():
    assert proto.clock_ms("02:59:59") == 10_799_000
    assert proto.clock_ms("05:00") == 300_000
    assert proto.clock_ms("Finish") is None
