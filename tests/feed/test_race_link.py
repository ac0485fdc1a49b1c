"""The feed's race on the lap service: set up, started, and every pass put on the lap
service's clock once green is known; refusals retried and reported."""

from __future__ import annotations

from types import SimpleNamespace

import msgspec

from pitwall import contract
from pitwall.feed.apex_mapper import Entrant, SessionStart
from pitwall.feed.race_link import RETRY_S, Lanes, RaceLink, setup_command

START = SessionStart("Karting des Fagnes - 2 Heures", 7_200_000,
                     (Entrant(14, "Les Pistards", "Ann"), Entrant(7, "Kart'Attack", "")),
                     joined_late=False)
GREEN_NS = 818_734_000_000


class Recorder:
    def __init__(self) -> None:
        self.commands: list[contract.Command] = []
        self.passes: list[tuple[int, int, int | None]] = []
        self.reports: list[str] = []
        self.now = 100.0

    def link(self, lanes=Lanes(1, 9, 10)) -> RaceLink:
        return RaceLink(self.commands.append, lambda *p: self.passes.append(p), lanes,
                        self.reports.append, clock=lambda: self.now)


def message(payload: msgspec.Struct) -> SimpleNamespace:
    return SimpleNamespace(payload=contract.encode(payload))


def reply(link: RaceLink, cmd, ok=True, error=None, race_id=5) -> None:
    link.on_reply(message(contract.Reply(id=cmd.id, cmd="x", ok=ok, error=error,
                                         race_id=race_id)))


def state(link: RaceLink, race_id=5, start_ns=GREEN_NS) -> None:
    link.on_state(message(contract.RaceState(race_id=race_id, phase="running", now_ns=0,
                                             start_ns=start_ns)))


def test_the_session_is_set_up_as_an_endurance_race_of_its_karts():
    cmd = setup_command(START, "feed-1")
    assert (cmd.mode, cmd.entrant, cmd.duration_s, cmd.min_lap_ms, cmd.first_crossing) == (
        "endurance", "car", 7200, 0, "counts")
    assert cmd.name == "Karting des Fagnes - 2 Heures"
    assert [(e.car, e.driver, e.drivers) for e in cmd.entrants] == [
        (14, "Les Pistards", ["Ann"]), (7, "Kart'Attack", [])]
    contract.decode_command(contract.encode(cmd))  # the lap service takes it as it is
    late = setup_command(SessionStart("x", 3_599_400, (), joined_late=True), "feed-2")
    assert (late.duration_s, late.first_crossing) == (3600, "starts")
    assert setup_command(SessionStart("x", None, (), False), "feed-3").duration_s == 86_400


def test_passes_wait_for_green_then_keep_the_feeds_times_to_the_nanosecond():
    rec = Recorder()
    link = rec.link()
    link.new_session(START)
    setup = rec.commands[-1]
    link.crossing(14, 58_312)
    link.pit(14, True, 136_320)
    reply(link, setup)
    link.tick()
    assert isinstance(rec.commands[-1], contract.Start) and rec.passes == []
    reply(link, rec.commands[-1])
    state(link, race_id=4)  # an older race's retained state: not ours
    link.tick()
    assert rec.passes == [] and not link.settled
    state(link)
    link.tick()
    # Session time in ms from green, the kart number in the last nanoseconds.
    assert rec.passes == [(GREEN_NS + 58_312_000_000 + 14, 1, 14),
                          (GREEN_NS + 136_320_000_000 + 14, 9, 14)]
    link.pit(7, False, 200_000)
    link.crossing(7, 59_004)
    assert rec.passes[2:] == [(GREEN_NS + 200_000_000_000 + 7, 10, 7),
                              (GREEN_NS + 59_004_000_000 + 7, 1, 7)]
    assert link.settled and link.published == 4


def test_a_refused_set_up_is_reported_and_tried_again():
    rec = Recorder()
    link = rec.link()
    link.new_session(START)
    reply(link, rec.commands[-1], ok=False, error="a race is running: finish or abort it "
                                                  "first")
    link.tick()
    assert "refused the setup: a race is running" in rec.reports[-1]
    assert len(rec.commands) == 1
    rec.now += RETRY_S
    link.tick()
    assert len(rec.commands) == 2 and isinstance(rec.commands[-1], contract.Setup)
    assert rec.commands[0].id != rec.commands[1].id  # the lap service ignores a repeated id


def test_once_the_lap_service_moves_on_to_another_race_no_pass_goes_to_it():
    rec = Recorder()
    link = rec.link()
    link.new_session(START)
    reply(link, rec.commands[-1])
    link.tick()
    reply(link, rec.commands[-1])
    state(link)
    link.tick()
    state(link, race_id=6)  # the director set up another race
    link.tick()
    link.crossing(14, 58_312)
    assert rec.passes == [] and "moved on to race 6" in rec.reports[-1]


def test_without_pit_lanes_pit_stops_are_reported_once_and_not_published():
    rec = Recorder()
    link = rec.link(Lanes(1))
    link.new_session(START)
    reply(link, rec.commands[-1])
    link.tick()
    reply(link, rec.commands[-1])
    state(link)
    link.tick()
    link.pit(14, True, 100)
    link.pit(14, False, 200)
    assert rec.passes == [] and len(rec.reports) == 1 and "pit_in" in rec.reports[0]
