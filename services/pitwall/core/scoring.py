"""Scoring: a fold over a race's events in time order. The race rules live here.

Everything is decided from the sensors' edge timestamps, never from arrival order: the
leader's finish, the end of a timed race and a yellow's grace period are compared with
each crossing's ``t_ns``. The live race feeds this fold one event at a time; re-scoring
feeds it the whole pass log. Same fold, same result.

Events at the same nanosecond: controls before crossings, crossings by pass id.
"""

from __future__ import annotations

from pitwall.core.endurance import Endurance
from pitwall.core.types import (
    Control,
    ControlKind,
    Crossing,
    EntrantScore,
    Kind,
    Outcome,
    PitSensor,
    RaceConfig,
    StartPlan,
)


class Scorer:
    """Incremental scoring state. Feed events with non-decreasing ``t_ns``."""

    def __init__(self, config: RaceConfig, plan: StartPlan | None) -> None:
        self.config = config
        self.plan = plan
        self.entrants: dict[int, EntrantScore] = {
            e.key: EntrantScore(e.key, e.driver) for e in config.entrants
        }
        self.open_entry = not config.entrants
        self.last_t = -1
        # Flag state as of last_t.
        self.caution_since: int | None = None  # yellow or red in force since
        self.caution_is_red = False
        self.last_caution: tuple[int, int | None] | None = None  # (start, end or None)
        self.paused_ns = 0  # caution time so far (timed races with yellow_clock="paused")
        self.resume_at: int | None = None  # green given: the caution ends here (countdown)
        self.voided_at: int | None = None  # a jump start voided the start ("restart")
        self.voided_by: int | None = None
        self.ended_at: int | None = None  # finish/abort command
        self.aborted = False
        self.flag_t: int | None = None  # leader finished / time expired: chequered out
        self.outcomes: dict[int, Outcome] = {}
        # Endurance races: teams, stops and stints, folded with the laps.
        self.endurance: Endurance | None = None
        if config.mode == "endurance" and plan is not None:
            self.endurance = Endurance(config, plan.green_ns)
        # Looked up for every crossing: taken from the config once.
        self._pit_sensors = {s.lane: s for s in config.pit_sensors}
        self._kart_pool = config.kart_pool

    # ------------------------------------------------------------------ controls
    def control(self, ctl: Control) -> None:
        self._advance(ctl.t_ns)
        t = ctl.t_ns
        if ctl.kind in (ControlKind.YELLOW, ControlKind.RED):
            if self.caution_since is None:
                self.caution_since = t
                self.last_caution = (t, None)
            self.resume_at = None  # a new flag during the green countdown: stay neutralised
            self.caution_is_red = self.caution_is_red or ctl.kind is ControlKind.RED
        elif ctl.kind is ControlKind.GREEN:
            if self.caution_since is not None and self.resume_at is None:
                self.resume_at = t + self.config.green_countdown_ns
                self._advance(t)  # no countdown: the caution ends right now
        elif ctl.kind in (ControlKind.FINISH, ControlKind.ABORT):
            if self.ended_at is None:
                self.ended_at = t
            self.aborted = self.aborted or ctl.kind is ControlKind.ABORT
            if self.endurance is not None and ctl.kind is ControlKind.FINISH:
                self.endurance.race_ended(t, {e.key for e in self.entrants.values()
                                              if e.started})
        elif self.endurance is not None:
            self._team_control(ctl)

    def _team_control(self, ctl: Control) -> None:
        """Endurance commands. The race checked them when they were given; the fold only
        skips what a re-score can no longer apply (a team that has since finished)."""
        end = self.endurance
        if ctl.kind is ControlKind.PENALTY:
            end.decide(ctl.value)
            return
        e = self._entrant(ctl.entrant)
        if e is None or e.finished or self.ended_at is not None:
            return
        if ctl.kind is ControlKind.PIT_IN:
            end.pit_in(e.key, ctl.t_ns, "command")
        elif ctl.kind is ControlKind.PIT_OUT:
            kart = int(ctl.value) if ctl.value else None
            if end.team(e.key).in_pit:
                end.pit_out(e.key, ctl.t_ns, "command", kart)
        elif ctl.kind is ControlKind.DRIVER:
            end.driver(e.key, ctl.t_ns, ctl.value)

    # ------------------------------------------------------------------ crossings
    def crossing(self, c: Crossing) -> Outcome:
        self._advance(c.t_ns)
        out = self._score(c)
        self.outcomes[c.id] = out
        return out

    def _score(self, c: Crossing) -> Outcome:
        cfg, t = self.config, c.t_ns
        sensor = self._pit_sensors.get(c.lane)
        if sensor is not None:
            return self._pit_pass(c, sensor)
        key = c.car if cfg.entrant == "car" else c.lane
        if self.endurance is not None and self._kart_pool:
            key = self.endurance.team_of_kart(c.car)  # the kart's number is on the pass
        if c.override == "ignore":
            return Outcome(c.id, Kind.DELETED, key, t_ns=t)
        if self.plan is None or t < self.plan.red_ns[0] or self.voided_at is not None:
            return Outcome(c.id, Kind.PRE_START, key, t_ns=t)
        e = self._entrant(key)
        if e is None:
            return Outcome(c.id, Kind.UNKNOWN, key, t_ns=t)
        if t < self.plan.green_ns:
            self._jump_start(e, t)
            return Outcome(c.id, Kind.JUMP, key, t_ns=t)
        if self.ended_at is not None and t >= self.ended_at:
            return Outcome(c.id, Kind.STOPPED, key, t_ns=t)
        if e.finished:
            return Outcome(c.id, Kind.AFTER_FINISH, key, e.laps, t_ns=t)
        if self.caution_since is not None and (
            self.caution_is_red or t >= self.caution_since + cfg.yellow_grace_ns
        ):
            kind = Kind.STOPPED if self.caution_is_red else Kind.YELLOW
            return Outcome(c.id, kind, key, e.laps, t_ns=t)

        if e.ref_t is None and cfg.first_crossing == "starts":
            e.ref_t = t  # this crossing starts the clock for this entrant
            out = Outcome(c.id, Kind.START, key, 0, t_ns=t)
            if self._flag_out(t):  # started only after the flag: no laps to run
                e.finished = out.final = True
            return out

        origin = self.plan.green_ns if e.ref_t is None else e.ref_t
        lap_ns = t - origin
        if lap_ns < cfg.min_lap_ns and c.override != "count":
            return Outcome(c.id, Kind.SUSPECT, key, e.laps, lap_ns, t)

        neutralised = self._caution_overlaps(origin, t)
        if e.stop_go_due and not neutralised:
            # A stop-and-go shows as a lap at least the stop longer than a normal one.
            usual = cfg.min_lap_ns if e.best_ns is None else e.best_ns
            e.stop_go_due = lap_ns < usual + cfg.jump_start_penalty_ns
        e.laps += 1
        e.ref_t = t
        e.crossing_t.append(t)
        e.last_ns = lap_ns
        e.total_ns += lap_ns
        if not neutralised and (e.best_ns is None or lap_ns < e.best_ns):
            e.best_ns, e.best_t = lap_ns, t
        out = Outcome(c.id, Kind.LAP, key, e.laps, lap_ns, t, neutralised)
        if self.endurance is not None:
            self.endurance.lap(key, t, lap_ns, neutralised)
        if self._takes_flag(e, t):
            e.finished = out.final = True
            if self.endurance is not None:
                self.endurance.finished(key, t)
        return out

    def _pit_pass(self, c: Crossing, sensor: PitSensor) -> Outcome:
        """A pit-lane sensor's pass: a pit entry or exit in an endurance race, else nothing.

        In a kart pool the pass carries the kart's number. A kart waiting in the pool that
        crosses the pit exit is the kart a team takes out: it goes to the team in the pit,
        if exactly one is (with several, the director's ``pit_out`` says which)."""
        cfg, t, end = self.config, c.t_ns, self.endurance
        key = c.car if cfg.entrant == "car" else sensor.serves
        if end is not None and self._kart_pool:
            team = end.team_of_kart(c.car)
            if team is None and sensor.role == "out" and c.car is not None:
                waiting = [k for k, tm in end.teams.items() if tm.in_pit]
                team = waiting[0] if len(waiting) == 1 else None
            key = team
        if c.override == "ignore":
            return Outcome(c.id, Kind.DELETED, key, t_ns=t)
        if end is None or t < self.plan.green_ns or self.voided_at is not None or (
                self.ended_at is not None and t >= self.ended_at):
            return Outcome(c.id, Kind.PIT, key, t_ns=t)
        e = self._entrant(key)
        if e is None:
            return Outcome(c.id, Kind.UNKNOWN, key, t_ns=t)
        if e.finished:
            return Outcome(c.id, Kind.PIT, key, e.laps, t_ns=t)
        if sensor.role == "in":
            kind = Kind.PIT_IN if end.pit_in(key, t, "sensor") else Kind.PIT
        else:
            kart = c.car if self._kart_pool else None
            kind = Kind.PIT_OUT if end.pit_out(key, t, "sensor", kart) else Kind.PIT
        return Outcome(c.id, kind, key, e.laps, t_ns=t)

    # ------------------------------------------------------------------ rules
    def _jump_start(self, e: EntrantScore, t: int) -> None:
        """A crossing between the first red light and green: the penalty is a setting."""
        if e.jump_start:
            return  # one penalty per start, however often the car crosses
        e.jump_start = True
        penalty = self.config.jump_start_penalty
        if penalty == "time":
            e.time_penalty_ns = self.config.jump_start_penalty_ns
        elif penalty == "stop_go":
            e.stop_go_due = True
        elif penalty == "restart":
            self.voided_at, self.voided_by = t, e.key

    def _entrant(self, key: int | None) -> EntrantScore | None:
        if key is None:
            return None
        e = self.entrants.get(key)
        if e is None and self.open_entry:
            e = self.entrants[key] = EntrantScore(key)
        return e

    def _takes_flag(self, e: EntrantScore, t: int) -> bool:
        """Does this counted crossing end the entrant's race?"""
        cfg = self.config
        if cfg.to_laps:
            if self.flag_t is None and e.laps >= cfg.laps:
                self.flag_t = t  # the leader completes the distance: chequered flag
                return True
            # Taking the line at the leader's very nanosecond counts as taking the flag.
            return self.flag_t is not None and t >= self.flag_t
        return self._flag_out(t)

    def _flag_out(self, t: int) -> bool:
        """Timed modes: the crossing after time is up is everyone's last."""
        cfg = self.config
        if cfg.to_laps:
            return self.flag_t is not None and t >= self.flag_t
        if cfg.duration_ns is None:
            return False  # open practice
        if self.race_time(t) >= cfg.duration_ns:
            if self.flag_t is None:
                self.flag_t = self.plan.green_ns + cfg.duration_ns + self.paused_ns
            return True
        return False

    def race_time(self, t: int) -> int:
        """Race clock at ``t``: time since green, less paused caution time."""
        return max(0, t - self.plan.green_ns - self.paused_at(t)) if self.plan else 0

    def caution_at(self, t: int) -> int | None:
        """When the yellow or red flag in force at ``t`` (>= last event) came out, or None.

        The scorer's state is as of its last event; a green countdown may have run out
        since, and that needs no event to happen.
        """
        if self.caution_since is None or (self.resume_at is not None and t >= self.resume_at):
            return None
        return self.caution_since

    def paused_at(self, t: int) -> int:
        """Caution time the clock stood still for, up to ``t`` (yellow_clock="paused")."""
        paused = self.paused_ns
        if self.caution_since is not None and self.config.yellow_clock == "paused":
            end = t if self.resume_at is None else min(t, self.resume_at)
            paused += max(0, end - self.caution_since)
        return paused

    def _caution_overlaps(self, start: int, end: int) -> bool:
        # Only the most recent caution can reach into this lap: earlier ones ended earlier.
        if self.last_caution is None:
            return False
        c_start, c_end = self.last_caution
        return c_start < end and (c_end is None or c_end > start)

    def _advance(self, t: int) -> None:
        if t < self.last_t:
            raise ValueError(f"event at {t} before {self.last_t}: feed events in time order")
        self.last_t = t
        if self.resume_at is not None and t >= self.resume_at:
            self._end_caution(self.resume_at)

    def _end_caution(self, t: int) -> None:
        """The green countdown ran out at ``t``: racing again."""
        if self.config.yellow_clock == "paused":
            self.paused_ns += t - self.caution_since
        self.last_caution = (self.caution_since, t)
        self.caution_since = self.resume_at = None
        self.caution_is_red = False

    # ------------------------------------------------------------------ summary
    def all_finished(self) -> bool:
        """The flag is out and everyone who started has taken it."""
        started = [e for e in self.entrants.values() if e.started]
        return self.flag_t is not None and bool(started) and all(e.finished for e in started)


def score(
    config: RaceConfig,
    plan: StartPlan | None,
    controls: list[Control],
    crossings: list[Crossing],
) -> Scorer:
    """Score a whole race from its logs (the re-score)."""
    scorer = Scorer(config, plan)
    events: list[tuple[int, int, int, Control | Crossing]] = [
        (c.t_ns, 0, i, c) for i, c in enumerate(controls)
    ] + [(c.t_ns, 1, c.id, c) for c in crossings]
    events.sort(key=lambda ev: ev[:3])
    for _, is_crossing, _, event in events:
        if is_crossing:
            scorer.crossing(event)
        else:
            scorer.control(event)
    return scorer
