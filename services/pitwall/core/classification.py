"""Classification and gaps: who is ahead, by how much.

Races (laps, timed): more laps first; equal laps by the earlier time of the last counted
crossing plus any jump-start penalty time; entrants that never crossed are last.
Practice and qualifying: best lap first (earlier set wins a tie), entrants without a lap
last.
"""

from __future__ import annotations

from pitwall.core.types import EntrantScore, RaceConfig, Standing

_NEVER = float("inf")


def _race_key(e: EntrantScore, stop_go_ns: int, extra: dict[int, int]):
    last = e.crossing_t[-1] if e.crossing_t else (e.ref_t if e.ref_t is not None else _NEVER)
    return (not e.started, -e.laps, last + e.penalty_ns(stop_go_ns) + extra.get(e.key, 0),
            e.key)


def _best_lap_key(e: EntrantScore):
    return (e.best_ns is None, e.best_ns or 0, e.best_t or 0, -e.laps, e.key)


def classify(config: RaceConfig, entrants: list[EntrantScore],
             extra_penalty_ns: dict[int, int] | None = None,
             ended: bool = False) -> list[Standing]:
    """``extra_penalty_ns``: time added per entrant besides a jump start's (endurance: the
    director's confirmed pit-rule penalties). ``ended``: the director finished the race:
    everyone who started is classified as finished where they stand (not aborted)."""
    by_best = config.ranked_by_best_lap
    extra = extra_penalty_ns or {}
    # Penalty time changes the order of races only; best-lap sessions just show the mark.
    stop_go = 0 if by_best else config.jump_start_penalty_ns
    ordered = sorted(entrants, key=_best_lap_key if by_best else
                     (lambda e: _race_key(e, stop_go, extra)))
    leader = ordered[0] if ordered else None
    rows = []
    for position, e in enumerate(ordered, start=1):
        gap_ns, gap_laps = _gap(e, leader, by_best, stop_go, extra)
        rows.append(Standing(
            position=position, entrant=e.key, driver=e.driver, laps=e.laps,
            last_ns=e.last_ns, best_ns=e.best_ns, gap_ns=gap_ns, gap_laps=gap_laps,
            finished=e.finished or (ended and e.started),
            last_t_ns=e.crossing_t[-1] if e.crossing_t else None,
            jump_start=e.jump_start,
            penalty=config.jump_start_penalty if e.jump_start else "none",
            penalty_ns=0 if by_best else e.penalty_ns(stop_go) + extra.get(e.key, 0),
            penalty_open=e.stop_go_due,
        ))
    return rows


def _gap(e: EntrantScore, leader: EntrantScore | None, by_best: bool,
         stop_go_ns: int, extra: dict[int, int]) -> tuple[int | None, int]:
    """Gap to the leader: time behind at the same lap, and laps behind."""
    if leader is None or e is leader:
        return None, 0
    if by_best:
        if e.best_ns is None or leader.best_ns is None:
            return None, 0
        return e.best_ns - leader.best_ns, 0
    if not e.crossing_t:
        return None, leader.laps - e.laps
    # When e completed its latest lap, how long before had the leader completed that lap?
    laps = e.laps
    penalties = (e.penalty_ns(stop_go_ns) + extra.get(e.key, 0)
                 - leader.penalty_ns(stop_go_ns) - extra.get(leader.key, 0))
    return e.crossing_t[-1] - leader.crossing_t[laps - 1] + penalties, leader.laps - laps
