"""Build the retained state payloads from the race (pure translation core -> contract)."""

from __future__ import annotations

import msgspec

from pitwall import contract
from pitwall.core import MS, SECOND, Race, records, strategy
from pitwall.core.endurance import Endurance


def state_payload(race: Race | None, race_id: int | None, now_ns: int,
                  event: contract.HeatEventState | None = None,
                  before: records.Records | None = None,
                  refused: int = 0) -> contract.RaceState:
    """``before``: the records that stood when the race was set up (None: not kept);
    ``refused``: the race's passes refused as implausible (kept in the quarantine)."""
    if race is None:
        return contract.RaceState(race_id=None, phase="idle", now_ns=now_ns)
    cfg = race.config
    plan = race.live_plan
    core_standings = race.standings()
    held = None if before is None else before.track.get(cfg.car_class)
    marks = {} if before is None or cfg.mode == "endurance" else records.marks(
        before, cfg.car_class, ((s.entrant, s.driver, s.best_ns) for s in core_standings))
    standings = [
        contract.Standing(
            position=s.position, entrant=s.entrant, driver=s.driver, laps=s.laps,
            last_ms=contract.ms(s.last_ns), best_ms=contract.ms(s.best_ns),
            gap_ms=contract.ms(s.gap_ns),
            gap_laps=s.gap_laps, finished=s.finished, last_t_ns=s.last_t_ns,
            jump_start=s.jump_start, penalty=s.penalty,
            penalty_ms=contract.ms(s.penalty_ns), penalty_open=s.penalty_open,
            record=marks.get(s.entrant))
        for s in core_standings
    ]
    end = race.endurance
    extra = {} if end is None else endurance_fields(end, core_standings, standings, now_ns)
    return contract.RaceState(
        race_id=race_id,
        name=cfg.name,
        phase=race.phase_at(now_ns),
        mode=cfg.mode,
        laps=cfg.laps,
        duration_s=None if cfg.duration_ns is None else cfg.duration_ns // SECOND,
        entrant=cfg.entrant,
        min_lap_ms=cfg.min_lap_ns // MS,
        first_crossing=cfg.first_crossing,
        start_ns=plan.green_ns if plan else None,
        ends_ns=race.ends_ns(now_ns),
        flag=race.flag_at(now_ns),
        lights=contract.Lights(red_ns=list(plan.red_ns), green_ns=plan.green_ns)
        if plan else None,
        now_ns=now_ns,
        jump_start_penalty=cfg.jump_start_penalty,
        power_cut_ns=race.power_cut_ns(now_ns),
        resume_ns=race.resume_ns(now_ns),
        restart_by=race.void_by,
        track_call=race.called_yellow_for(now_ns),
        standings=standings,
        pit_rules=pit_rules_view(cfg.pit) if cfg.mode == "endurance" else None,
        event=event,
        car_class=cfg.car_class,
        track_record=None if held is None else contract.TrackRecord(
            driver=held.driver, lap_ms=contract.ms(held.lap_ns), race_id=held.race_id),
        refused=refused,
        **extra,
    )


def pit_rules_view(r) -> contract.PitRules:
    return contract.PitRules(
        min_pit_ms=r.min_pit_ns // MS, min_stint_laps=r.min_stint_laps,
        max_stint_laps=r.max_stint_laps, min_stint_s=r.min_stint_ns // SECOND,
        max_stint_s=r.max_stint_ns // SECOND, required_stops=r.required_stops,
        driver_change=r.driver_change, penalty_ms=r.penalty_ns // MS)


def penalty_views(end: Endurance) -> list[contract.Penalty]:
    return [contract.Penalty(
        id=v.id, entrant=v.entrant, team=end.team(v.entrant).name, rule=v.rule,
        detail=v.detail, t_ns=v.t_ns, status=status,
        penalty_ms=contract.ms(end.rules.penalty_ns * v.count))
        for v, status in strategy.penalties(end)]


def endurance_fields(end: Endurance, core_standings, standings: list[contract.Standing],
                     now_ns: int) -> dict:
    """Fill each standing's stint, pit and pace; the race's penalties and kart odds."""
    views = strategy.teams(end, core_standings, now_ns)
    for i, row in enumerate(standings):
        v = views[row.entrant]
        st, w = v.stint, v.window
        standings[i] = msgspec.structs.replace(
            row, kart=v.kart, pace=v.pace, projected=v.projected,
            stint=contract.StintNow(
                no=st.no, driver=v.driver, lap_in=st.lap_in, laps=st.laps,
                start_ns=st.start_ns, end_ns=st.end_ns, best_ms=contract.ms(st.best_ns),
                avg_ms=contract.ms(st.avg_ns), opens_ns=w.opens_ns, closes_ns=w.closes_ns,
                opens_lap=w.opens_lap, closes_lap=w.closes_lap),
            pit=contract.PitNow(
                in_pit=v.in_pit, since_ns=v.pit_since_ns, stops=v.stops, required=v.required,
                last_ms=contract.ms(v.last_pit_ns), loss_ms=contract.ms(v.loss_ns)))
    good = strategy.karts(end)[1] if end.config.kart_pool else None
    return {"penalties": penalty_views(end), "good_kart": good}


def lights_payload(race: Race | None, now_ns: int) -> contract.LightsState:
    if race is None:
        return contract.LightsState(reds=0, green=False, flag="none", power=False,
                                    now_ns=now_ns)
    lights = race.lights_at(now_ns)
    plan = race.live_plan
    return contract.LightsState(
        reds=lights.reds, green=lights.green, flag=race.flag_at(now_ns),
        power=race.power_at(now_ns),
        plan=contract.Lights(red_ns=list(plan.red_ns), green_ns=plan.green_ns) if plan else None,
        now_ns=now_ns, phase=race.phase_at(now_ns), power_cut_ns=race.power_cut_ns(now_ns),
        resume_ns=race.resume_ns(now_ns), resumed_ns=race.resumed_ns(now_ns))
