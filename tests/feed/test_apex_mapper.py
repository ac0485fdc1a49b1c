"""The mapper: feed messages (with their receive times, as data) -> sessions, laps and pit
stops on the session's own timeline; bad input reported and skipped, never fatal."""

from __future__ import annotations

from pitwall.feed.apex_mapper import (
    ApexMapper,
    DriverSeen,
    Entrant,
    Lap,
    PitEvent,
    Problem,
    SessionStart,
)

from . import samples

T0 = 9_000_000_000_000  # the adapter's monotonic clock when green arrived
MS = 1_000_000


def at(ms: int) -> int:
    """Receive time of a message sent at session time ``ms`` (10 ms on the way)."""
    return T0 + (ms + 10) * MS


def started() -> tuple[ApexMapper, list]:
    m = ApexMapper()
    events = m.frame(at(-60_000), samples.INIT) + m.frame(at(0), samples.GREEN)
    return m, events


def laps(events) -> list[Lap]:
    return [e for e in events if isinstance(e, Lap)]


def problems(events) -> list[str]:
    return [e.reason for e in events if isinstance(e, Problem)]


def test_the_session_starts_at_green_with_its_name_clock_and_entrants():
    m = ApexMapper()
    assert m.frame(at(-60_000), samples.INIT) == []  # the grid alone: not started yet
    assert m.new_session and m.sessions == 1 and not m.started
    events = m.frame(at(0), samples.GREEN)
    assert events == [SessionStart(
        "Karting des Fagnes - 2 Heures de Mariembourg", 7_200_000,
        (Entrant(14, "Les Pistards", "Ann"), Entrant(7, "Kart'Attack", "Bob"),
         Entrant(31, "Flat Out", "")), joined_late=False)]
    assert not m.new_session


def test_laps_are_placed_by_the_feeds_lap_times_alone():
    m, _ = started()
    first = m.frame(at(58_312), samples.LAP_14_1)
    # Lap 1: the start plus the lap (not the clock's 58.319, nor the receive time).
    assert first == [Lap(14, 1, 58_312, 58_312)]
    assert laps(m.frame(at(58_900), samples.POSITION)) == [Lap(31, 1, 58_900, 58_900)]
    assert laps(m.frame(at(59_004), samples.LAP_7_1)) == [Lap(7, 1, 59_004, 59_004)]
    # Lap 2: the previous crossing plus the new last lap.
    assert m.frame(at(116_310), samples.BEST_14_2) == [Lap(14, 2, 57_998, 58_312 + 57_998)]


def test_best_lap_position_and_gap_are_followed():
    m, _ = started()
    for t, sample in [(58_312, samples.LAP_14_1), (58_900, samples.POSITION),
                      (59_004, samples.LAP_7_1), (116_310, samples.BEST_14_2),
                      (117_000, samples.GAP)]:
        m.frame(at(t), sample)
    rows = {k.kart: k for k in m.standings()}
    assert [k.kart for k in m.standings()] == [14, 31, 7]
    assert (rows[14].best_ms, rows[14].llp_ms, rows[14].tlp) == (57_998, 57_998, 2)
    assert (rows[7].rank, rows[7].gap, rows[7].interval) == (3, "1 Tour", "12.441")
    assert rows[31].rank == 2


def test_pit_in_and_out_are_placed_by_the_batchs_clock():
    m, _ = started()
    m.frame(at(58_312), samples.LAP_14_1)
    m.frame(at(116_310), samples.BEST_14_2)
    # 7_200_000 - 7_063_680: the clock in the pit-in batch says 136.320 s.
    assert m.frame(at(136_320), samples.PIT_IN_14) == [PitEvent(14, True, 136_320)]
    events = m.frame(at(186_320), samples.PIT_OUT_14)
    assert events == [PitEvent(14, False, 186_320), DriverSeen(14, "Cyril")]
    assert m.standings()[0].pits == 1 and m.standings()[0].status == "so"


def test_a_batch_without_a_clock_adds_its_receive_time_since_the_last_one():
    m, _ = started()
    m.frame(at(58_312), samples.LAP_14_1)  # clock 58.319 at at(58_312)
    events = m.frame(at(58_312) + 4_321 * MS, "r5530|*in|0")
    assert events == [PitEvent(7, True, 58_319 + 4_321)]


def test_a_pit_event_is_never_before_the_karts_last_crossing():
    m, _ = started()
    # The clock lags: the batch says 58.000 s, the lap it completes ends at 58.312.
    events = m.frame(at(58_312), samples.LAP_14_1.replace("7141681", "7142000")
                     + "\nr5512|*in|0")
    assert events == [Lap(14, 1, 58_312, 58_312), PitEvent(14, True, 58_313)]
    # Said twice, one stop.
    assert m.frame(at(60_000), "dyn1|countdown|7140000\nr5512|*in|0") == []


def test_the_clock_line_is_used_wherever_it_sits_in_the_batch():
    m, _ = started()
    events = m.frame(at(30_000), "r5530|*in|0\ndyn1|countdown|7170000")
    assert events == [PitEvent(7, True, 30_000)]


def test_bad_lines_are_reported_and_the_rest_of_the_batch_goes_through():
    m, _ = started()
    batch = "\n".join([
        "dyn1|countdown|7141681",
        "this line is garbage",
        "r5512c8|tb|58.312",
        "r9999c8|tn|59.000",  # no such row
        "r5512c99||3",  # no such column
        "r5530|*teleport|0",  # unknown row status
        "r5530c8|tn|5x:01.2",  # not a lap time
        "r5512c14||1",
    ])
    events = m.frame(at(58_312), batch)
    assert laps(events) == [Lap(14, 1, 58_312, 58_312)]
    reasons = problems(events)
    assert len(reasons) == 5
    assert "not a key|kind|value line" in reasons[0] and "no row r9999" in reasons[1]
    assert "no column c99" in reasons[2] and "unknown row status" in reasons[3]
    assert "not a lap time" in reasons[4]
    assert [e.line for e in events if isinstance(e, Problem)][0] == "this line is garbage"


def test_an_unknown_cell_type_is_reported_once_and_its_column_ignored():
    m = ApexMapper()
    events = m.frame(at(-60_000), samples.INIT.replace('data-type="otr"', 'data-type="zz9"'))
    assert problems(events) == ["unknown cell type 'zz9' in the grid's header: its column is "
                                "ignored"]
    m.frame(at(0), samples.GREEN)
    assert m.frame(at(58_312), samples.LAP_14_1) == [Lap(14, 1, 58_312, 58_312)]


def test_a_grid_that_changes_its_columns_mid_session_is_skipped():
    m, _ = started()
    m.frame(at(58_312), samples.LAP_14_1)
    # Same rows and laps, but llp and blp swapped places.
    swapped = snapshot(m, {"r5512": (1, "58.312")}).replace('data-type="llp"', 'data-type="TMP"').replace(
        'data-type="blp"', 'data-type="llp"').replace('data-type="TMP"', 'data-type="blp"')
    events = m.frame(at(60_000), swapped)
    assert [e for e in events if not isinstance(e, Problem)] == []
    assert "changed its columns" in problems(events)[0]
    assert m.sessions == 1
    # Cells keep the first grid's columns: c8 is still the last lap.
    assert laps(m.frame(at(116_310), samples.BEST_14_2)) == [Lap(14, 2, 57_998, 116_310)]


def snapshot(m: ApexMapper, laps_by_row: dict[str, tuple[int, str]], status=None) -> str:
    """The grid as Apex resends it on reconnection, with these lap counts and last laps."""
    html = samples.GRID_HTML
    for row, (count, last) in laps_by_row.items():
        html = html.replace(f'<td data-id="{row}c14" class="in">0</td>',
                            f'<td data-id="{row}c14" class="in">{count}</td>')
        html = html.replace(f'<td data-id="{row}c8" class="tn"></td>',
                            f'<td data-id="{row}c8" class="tn">{last}</td>')
    for row, cls in (status or {}).items():
        html = html.replace(f'<td data-id="{row}c2" class="sr">',
                            f'<td data-id="{row}c2" class="{cls}">')
    return samples.INIT.replace("dyn1|text|02:00:00", "dyn1|countdown|7000000").replace(
        "light|lr|", "light|lg|").replace(samples.GRID_HTML, html)


def test_a_reconnection_snapshot_doubles_nothing_and_brings_back_a_missed_lap():
    m, _ = started()
    m.frame(at(58_312), samples.LAP_14_1)
    m.frame(at(58_900), samples.POSITION)
    # Away while 14 did lap 2 (57.998); 31 and 7 unchanged.
    events = m.frame(at(200_000), snapshot(m, {"r5512": (2, "57.998"),
                                                "r5547": (1, "58.900")}))
    assert events == [Lap(14, 2, 57_998, 58_312 + 57_998)]
    assert m.sessions == 1 and not m.new_session
    # The same snapshot again (another reconnect): nothing.
    assert m.frame(at(201_000), snapshot(m, {"r5512": (2, "57.998"),
                                              "r5547": (1, "58.900")})) == []


def test_laps_missed_beyond_one_are_estimated_and_reported():
    m, _ = started()
    m.frame(at(58_312), samples.LAP_14_1)
    events = m.frame(at(300_000), snapshot(m, {"r5512": (4, "58.100")}))
    assert laps(events) == [Lap(14, 2, 58_100, 116_412, estimated=True),
                            Lap(14, 3, 58_100, 174_512, estimated=True),
                            Lap(14, 4, 58_100, 232_612)]
    assert "2 lap(s) before lap 4 were not seen" in problems(events)[0]


def test_a_pit_entry_missed_while_away_is_placed_at_the_reconnection_and_reported():
    m, _ = started()
    m.frame(at(58_312), samples.LAP_14_1)
    events = m.frame(at(120_000), snapshot(m, {"r5512": (1, "58.312")},
                                           status={"r5530": "si"}).replace(
        '<td data-id="r5530c13" class="in">0</td>', '<td data-id="r5530c13" class="in">1</td>'))
    assert [e for e in events if not isinstance(e, Problem)] == [PitEvent(7, True, 200_000)]
    assert "pit entry while the feed was away" in problems(events)[0]


def test_a_different_grid_is_a_new_session():
    m, _ = started()
    m.frame(at(58_312), samples.LAP_14_1)
    other = samples.INIT.replace("r5547", "r6001").replace("title2||2 Heures de Mariembourg",
                                                            "title2||Course 2")
    assert m.frame(at(8_000_000), other) == []
    assert m.new_session and m.sessions == 2 and not m.started
    start = m.frame(at(8_100_000), samples.GREEN)[0]
    assert start.name == "Karting des Fagnes - Course 2"


def test_joined_late_the_timeline_starts_at_the_first_clock_seen():
    m = ApexMapper()
    events = m.frame(at(3_600_000), snapshot(m, {"r5512": (61, "58.700"),
                                                  "r5530": (60, "59.100")}))
    start = events[0]
    assert isinstance(start, SessionStart) and start.joined_late
    assert start.duration_ms == 7_000_000  # what is left on the clock
    assert laps(events) == []  # laps from before are not republished
    # 14's next crossing starts its timing at the clock's reading; then laps add up.
    assert laps(m.frame(at(3_601_000), "dyn1|countdown|6999000\nr5512c8|tn|58.650\n"
                                       "r5512c14||62")) == [Lap(14, 62, 58_650, 1_000)]
    assert laps(m.frame(at(3_660_000), "dyn1|countdown|6940000\nr5512c8|tn|58.000\n"
                                       "r5512c14||63")) == [Lap(14, 63, 58_000, 59_000)]


def test_without_a_lap_counter_each_new_last_lap_is_a_lap():
    init = samples.INIT.replace('data-type="tlp"', 'data-type="s3"')
    m = ApexMapper()
    m.frame(at(-60_000), init)
    m.frame(at(0), samples.GREEN)
    assert laps(m.frame(at(58_312), "dyn1|countdown|7141681\nr5512c8|tb|58.312")) == [
        Lap(14, 1, 58_312, 58_312)]
    # The very same time again is another lap; a style change alone is not.
    assert laps(m.frame(at(116_624), "r5512c8|tn|58.312")) == [Lap(14, 2, 58_312, 116_624)]
    assert laps(m.frame(at(117_000), "r5512c8|ti|")) == []


def test_the_same_messages_and_receive_times_give_the_same_events():
    feed = [(at(-60_000), samples.INIT), (at(0), samples.GREEN),
            (at(58_312), samples.LAP_14_1), (at(58_900), samples.POSITION),
            (at(59_004), samples.LAP_7_1), (at(116_310), samples.BEST_14_2),
            (at(136_320), samples.PIT_IN_14), (at(186_320), samples.PIT_OUT_14),
            (at(200_000), samples.CLOCK_STOPPED), (at(7_200_000), samples.FINISH)]
    runs = []
    for _ in range(2):
        m = ApexMapper()
        runs.append([e for r, text in feed for e in m.frame(r, text)])
    assert runs[0] == runs[1] and len(laps(runs[0])) == 4
