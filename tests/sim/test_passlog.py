"""The pass-log CSV: exact times, clear errors with line numbers, replay schedule."""

from decimal import Decimal
from fractions import Fraction

import pytest

from pitwall import contract
from pitwall.sim import passlog
from pitwall.sim.replay import schedule


def test_t_ms_is_an_exact_decimal_of_t_ns():
    assert passlog.format_t_ms(81_234_567_891_234) == "81234567.891234"
    assert passlog.format_t_ms(5) == "0.000005"
    assert passlog.format_t_ms(1_000_000) == "1.000000"
    t_ns = 9_223_372_036_854_775_807  # no float on the way: every digit survives
    assert Decimal(passlog.format_t_ms(t_ns)) * 1_000_000 == t_ns


def test_recorder_round_trip(tmp_path):
    path = tmp_path / "log.csv"
    passes = [contract.Pass(lane=1, car=3, t_ns=123_456_789_012_345, source="sim"),
              contract.Pass(lane=2, car=None, t_ns=123_456_999_000_001, source="sim")]
    rec = passlog.Recorder(path)
    rec.write(passes[0])
    rec.close()
    rec = passlog.Recorder(path)  # appends, no second header
    rec.write(passes[1])
    rec.close()
    assert path.read_text() == ("t_ms,lane,car\n123456789.012345,1,3\n"
                                "123456999.000001,2,\n")
    rows = passlog.read(path)
    assert [(int(r.t_ms * 1_000_000), r.lane, r.car) for r in rows] == \
        [(p.t_ns, p.lane, p.car) for p in passes]


def test_rows_are_sorted_by_time_and_blank_lines_skipped():
    rows = passlog.parse(["t_ms,lane,car", "20.5,2,", "", "10.25,1,7", " 15 , 3 , 0 "])
    assert [(r.line, r.t_ms, r.lane, r.car) for r in rows] == [
        (4, Decimal("10.25"), 1, 7), (5, Decimal("15"), 3, 0), (2, Decimal("20.5"), 2, None)]


@pytest.mark.parametrize(("lines", "where", "why"), [
    ([], "line 1", "header"),
    (["time,lane,car", "1,1,1"], "line 1", "header"),
    (["t_ms,lane,car", "1,1,1", "abc,1,1"], "line 3", "not a number"),
    (["t_ms,lane,car", "1.0000001,1,1"], "line 2", "more than 6 decimals"),
    (["t_ms,lane,car", "-1,1,1"], "line 2", "from 0"),
    (["t_ms,lane,car", "inf,1,1"], "line 2", "from 0"),
    (["t_ms,lane,car", "1,0,1"], "line 2", "lane 0 out of range 1..64"),
    (["t_ms,lane,car", "1,65,1"], "line 2", "lane 65 out of range"),
    (["t_ms,lane,car", "1,1.5,1"], "line 2", "lane '1.5' is not a whole number"),
    (["t_ms,lane,car", "1,1,256"], "line 2", "car 256 out of range 0..255"),
    (["t_ms,lane,car", "1,1,-1"], "line 2", "car '-1'"),
    (["t_ms,lane,car", "1,1"], "line 2", "expected 3 fields"),
    (["t_ms,lane,car", "", "1,1,1,1"], "line 3", "expected 3 fields"),
])
def test_bad_rows_name_their_line(lines, where, why):
    with pytest.raises(passlog.PassLogError) as err:
        passlog.parse(lines, "race.csv")
    assert f"race.csv: {where}:" in str(err.value) and why in str(err.value)


def test_missing_file_is_a_pass_log_error(tmp_path):
    with pytest.raises(passlog.PassLogError, match="cannot read"):
        passlog.read(tmp_path / "nope.csv")


ROWS = passlog.parse(["t_ms,lane,car", "81234567.891234,1,1", "81239080.000001,2,",
                      "81238000.5,1,1", "81243333.333333,1,1"])


def test_schedule_at_speed_one_keeps_every_difference_to_the_ns():
    plan = schedule(ROWS, t0_ns=1_000)
    assert plan[0] == (1_000, 1, 1)
    assert [t - 1_000 for t, _, _ in plan] == [
        int((r.t_ms - ROWS[0].t_ms) * 1_000_000) for r in ROWS]
    assert [(lane, car) for _, lane, car in plan] == [(r.lane, r.car) for r in ROWS]


@pytest.mark.parametrize("speed", ["4", "3", "0.5", "1.7"])
def test_schedule_scales_by_speed_rounding_to_whole_ns(speed):
    plan = schedule(ROWS, t0_ns=0, speed=Decimal(speed))
    for (t, _, _), r in zip(plan, ROWS, strict=True):
        exact = Fraction((r.t_ms - ROWS[0].t_ms) * 1_000_000) / Fraction(speed)
        assert t == round(exact)  # half to even, like Decimal's default
