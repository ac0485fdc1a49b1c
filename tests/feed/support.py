"""Running the feed adapter as a real process against the stack, and reading what the
API made of it, with every time taken relative to the race's green (two runs of one
session have different greens, and nothing else may differ)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from pitwall import contract

from ..api.conftest import Stack
from ..support import ServiceProcess
from .apex_server import ApexServer
from .apex_session import ApexSession

MS = 1_000_000


@dataclass
class Run:
    race_id: int
    state: contract.RaceState  # the race's final state (retained race/state)
    log: str  # the adapter's output
    errors: list[contract.ErrorReport]  # what the adapter reported on the errors topic
    archive: Path | None = None


def config_of(stack: Stack) -> Path:
    return Path(stack.settings.data_dir).parent / "pitwall.toml"


def archives(stack: Stack) -> set[Path]:
    return set((Path(stack.settings.data_dir) / "feeds").glob("*.jsonl.gz"))


def feed_errors(stack: Stack, since: int) -> list[contract.ErrorReport]:
    reports = [msgspec.json.decode(p, type=contract.ErrorReport)
               for p in stack.probe.on(stack.probe.topics.errors, since)]
    return [r for r in reports if r.service == "feed-apex"]


def wait_for_race(stack: Stack, before: int | None, teams: int, timeout: float
                  ) -> contract.RaceState:
    """Until a race newer than ``before`` has finished with every team classified."""
    def finished():
        state = stack.probe.last_state()
        if state and state.race_id != before and state.phase == "finished" and \
                len(state.standings) == teams:
            return state
        return None
    return stack.probe.wait_for(finished, timeout, what="the feed's race to finish")


def live(stack: Stack, session: ApexSession, speed: float, name: str,
         drop_at_ms: int | None = None, timeout: float = 60) -> tuple[Run, ApexServer]:
    """The session played by a local Apex server, followed by ``pitwall feed apex``."""
    before = stack.probe.last_state().race_id
    since = stack.probe.mark()
    old = archives(stack)
    log = config_of(stack).parent / f"feed-{name}.log"
    with ApexServer(session, speed, drop_at_ms) as server:
        feed = ServiceProcess(config_of(stack), "feed", "apex", "--uri", server.uri,
                              log=log).start()
        try:
            state = wait_for_race(stack, before, len(session.teams), timeout)
            assert server.finished.wait(timeout), "the server never played the session out"
        finally:
            code = feed.stop()
    assert code == 0, feed.output()[-3000:]
    new = archives(stack) - old
    assert len(new) == 1, new
    return Run(state.race_id, state, feed.output(), feed_errors(stack, since),
               new.pop()), server


def replay(stack: Stack, archive: Path, speed: float, teams: int, name: str,
           timeout: float = 60) -> Run:
    """``pitwall feed apex --replay`` of an archive; it exits once every pass is out."""
    before = stack.probe.last_state().race_id
    since = stack.probe.mark()
    log = config_of(stack).parent / f"feed-{name}.log"
    feed = ServiceProcess(config_of(stack), "feed", "apex", "--replay", str(archive),
                          "--speed", str(speed), log=log).start()
    try:
        deadline = time.monotonic() + timeout
        while feed.alive():
            assert time.monotonic() < deadline, feed.output()[-3000:]
            time.sleep(0.05)
    finally:
        code = feed.stop()
    assert code == 0, feed.output()[-3000:]
    state = wait_for_race(stack, before, teams, timeout)
    return Run(state.race_id, state, feed.output(), feed_errors(stack, since))


def results(stack: Stack, run: Run) -> dict:
    """Standings, laps and stints as the API serves them, times relative to green."""
    with stack.client() as c:
        detail = c.get(f"/api/races/{run.race_id}").json()
        laps = c.get(f"/api/races/{run.race_id}/laps").json()
        stints = c.get(f"/api/races/{run.race_id}/stints").json()
    green = detail["start_ns"]
    assert green == run.state.start_ns

    def rel(t):
        return None if t is None else t - green

    return {
        "name": detail["race"]["name"],
        "standings": [(s.position, s.entrant, s.driver, s.laps, s.last_ms, s.best_ms,
                       s.gap_ms, s.gap_laps, s.finished, rel(s.last_t_ns), s.pit.stops,
                       s.pit.last_ms, s.pace) for s in run.state.standings],
        "laps": [(lap["entrant"], lap["lap"], lap["lap_ms"], rel(lap["t_ns"]))
                 for lap in laps],
        "stints": [(s["entrant"], s["stint"], s["driver"], s["lap_in"], s["laps"],
                    s["best_ms"], s["avg_ms"], s["pace"], s["pit_ms"], rel(s["start_ns"]),
                    rel(s["end_ns"]), s["time_ms"] if s["end_ns"] is not None else None)
                   for s in stints],
    }


def expected_stints(session: ApexSession) -> list[tuple]:
    """(kart, stint, laps, pit_ms, start_ms, end_ms) from the session's truth."""
    out = []
    for team in sorted(session.teams, key=lambda t: t.kart):
        bounds = [0] + [x for s in team.stops for x in (s.in_ms, s.out_ms)]
        for i in range(len(team.stops) + 1):
            start = bounds[2 * i]
            end = bounds[2 * i + 1] if 2 * i + 1 < len(bounds) else None
            laps = sum(1 for t, _ in team.crossings if t > start and (end is None or t < end))
            stop = team.stops[i] if i < len(team.stops) else None
            out.append((team.kart, i + 1, laps, stop and stop.out_ms - stop.in_ms,
                        start, end))
    return out


def check_against_the_feed(stack: Stack, session: ApexSession, run: Run,
                           final: list[dict]) -> dict:
    """The API's standings, laps and stints are the feed's own final grid and laps."""
    got = results(stack, run)
    assert got["name"] == f"{session.title1} - {session.title2}"
    # Standings: the feed's order, laps, last and best lap, stops.
    assert [(s[1], s[3], s[4], s[5], s[10]) for s in got["standings"]] == [
        (row["kart"], row["laps"], row["last_ms"], row["best_ms"], row["pits"])
        for row in final]
    assert [s[0] for s in got["standings"]] == [row["position"] for row in final]
    assert all(s[8] for s in got["standings"]), "every team took the flag"
    # Laps: every lap time exactly the feed's, each crossing where its laps add up to.
    by_kart = {team.kart: team for team in session.teams}
    expected_laps = sorted(((kart, n, lap / 1, t * MS + kart)
                            for kart, team in by_kart.items()
                            for n, (t, lap) in enumerate(team.crossings, start=1)),
                           key=lambda x: (x[3], x[0]))
    assert sorted(got["laps"], key=lambda x: (x[3], x[0])) == expected_laps
    # Stints: split at the feed's pit stops, timed by its clock.
    stints = [(s[0], s[1], s[4], s[8], s[9], s[10]) for s in got["stints"]]
    assert stints == [(kart, no, laps, pit, start * MS + kart if no > 1 else 0,
                       None if end is None else end * MS + kart)
                      for kart, no, laps, pit, start, end in expected_stints(session)]
    # The team's starting driver is the feed's (later ones: docs/feeds.md, limits).
    firsts = {s[0]: s[2] for s in got["stints"] if s[1] == 1}
    assert firsts == {t.kart: t.drivers[0] for t in session.teams}
    return got
