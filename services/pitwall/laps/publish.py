"""Build the retained state payloads from the race (pure translation core -> contract)."""

from __future__ import annotations

from pitwall import contract
from pitwall.core import MS, SECOND, Race


def state_payload(race: Race | None, race_id: int | None, now_ns: int) -> contract.RaceState:
    if race is None:
        return contract.RaceState(race_id=None, phase="idle", now_ns=now_ns)
    cfg = race.config
    plan = race.live_plan
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
        standings=[
            contract.Standing(
                position=s.position, entrant=s.entrant, driver=s.driver, laps=s.laps,
                last_ms=contract.ms(s.last_ns), best_ms=contract.ms(s.best_ns),
                gap_ms=contract.ms(s.gap_ns),
                gap_laps=s.gap_laps, finished=s.finished, last_t_ns=s.last_t_ns,
                jump_start=s.jump_start, penalty=s.penalty,
                penalty_ms=contract.ms(s.penalty_ns), penalty_open=s.penalty_open)
            for s in race.standings()
        ],
    )


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
