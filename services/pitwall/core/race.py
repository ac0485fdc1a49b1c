"""A race: its configuration, start plan, control log and pass log, scored live.

Passes usually arrive in time order and are scored incrementally. A pass that arrives
after a later event (lanes publish independently; a command was stamped in between) or a
director's edit triggers a re-score of the whole log, so the live result is always the
result of scoring the log in time order.

>>> from pitwall.core import Race, RaceConfig, Crossing, SECOND
>>> race = Race(RaceConfig(mode="laps", laps=2, entrant="lane", min_lap_ns=SECOND))
>>> race.start(now_ns=0, lead_ns=0, hold_ns=SECOND).green_ns
5000000000
>>> race.add(Crossing(1, lane=1, car=None, t_ns=9 * SECOND)).kind.value
'lap'
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from pitwall.core.classification import classify
from pitwall.core.endurance import Endurance
from pitwall.core.scoring import Scorer, score
from pitwall.core.start import lights_at, next_change, plan_start
from pitwall.core.types import (
    TEAM_CONTROLS,
    Control,
    ControlKind,
    Crossing,
    Outcome,
    RaceConfig,
    RaceError,
    Standing,
    StartPlan,
)


class Race:
    def __init__(
        self,
        config: RaceConfig,
        plan: StartPlan | None = None,
        controls: Iterable[Control] = (),
        crossings: Iterable[Crossing] = (),
    ) -> None:
        """A race, optionally restored from its stored logs."""
        self.config = config
        self.plan = plan
        self.controls: list[Control] = sorted(controls, key=lambda c: c.t_ns)
        self._crossings: dict[int, Crossing] = {c.id: c for c in crossings}
        # Pass ids in time order (ids only: a six-hour race has tens of thousands).
        self._order: list[int] = sorted(self._crossings, key=self._time_key)
        self.rescores = -1  # counts re-scores after this first one: adapters rewrite laps
        self.called_for: tuple[int, int] | None = None  # (entrant, t) of the last track call
        self._rescore()

    # ------------------------------------------------------------------ commands
    def start(self, now_ns: int, lead_ns: int, hold_ns: int) -> StartPlan:
        """Plan the lights. Again after a start that a jump start made void ("restart")."""
        if self.plan is not None and self.void_by is None:
            raise RaceError("the race has already been started")
        self.plan = plan_start(now_ns, lead_ns, hold_ns)
        self._rescore()  # passes logged before the start become pre-start or jump starts
        return self.plan

    def control(self, kind: ControlKind, now_ns: int, entrant: int | None = None,
                value: str = "") -> None:
        """Apply a command at ``now_ns`` after checking it fits the phase: a flag or end
        command, or (endurance) a team's pit call, driver change or a penalty decision."""
        phase = self.phase_at(now_ns)
        flag = self.flag_at(now_ns)
        ended = phase in ("finished", "aborted")
        if kind in TEAM_CONTROLS or kind is ControlKind.PENALTY:
            self._check_team_control(kind, phase, entrant, value)
        elif kind is ControlKind.ABORT:
            if phase == "aborted":
                raise RaceError("the race was already aborted")
        elif ended:
            raise RaceError(f"the race is {phase}")
        elif self.void_by is not None:
            raise RaceError("the start was void (a jump start): start the lights again")
        elif self.plan is None or now_ns < self.plan.green_ns:
            raise RaceError(f"'{kind.value}' needs a started race (the race is {phase})")
        elif kind is ControlKind.GREEN and flag not in ("yellow", "red"):
            raise RaceError("green resumes after a yellow or red flag; none is out")
        elif kind is ControlKind.GREEN and self.resume_ns(now_ns) is not None:
            raise RaceError("the green countdown is already running")
        elif kind is ControlKind.YELLOW and flag in ("yellow", "red") \
                and self.resume_ns(now_ns) is None:  # during a countdown: cancels it
            raise RaceError(f"a {flag} flag is already out")
        elif kind is ControlKind.RED and flag == "red":
            raise RaceError("the red flag is already out")
        ctl = Control(kind, now_ns, entrant, value)
        self.controls.append(ctl)
        # At an equal nanosecond the re-score puts controls first: stay identical to it.
        if now_ns > self._scorer.last_t:
            self._scorer.control(ctl)
        else:
            self.controls.sort(key=lambda c: c.t_ns)
            self._rescore()

    def _check_team_control(self, kind: ControlKind, phase: str, entrant: int | None,
                            value: str) -> None:
        end = self._scorer.endurance
        if self.config.mode != "endurance":
            raise RaceError(f"'{kind.value}' is for endurance races")
        if kind is ControlKind.PENALTY:
            vid, _, decision = value.rpartition("=")
            if end is None or vid not in end.violations:
                raise RaceError(f"there is no penalty {vid!r} in this race")
            if decision not in ("confirm", "waive"):
                raise RaceError("a penalty is confirmed or waived")
            return  # decided at any time, after the flag too
        if phase not in ("running", "finishing", "stopped") or end is None:
            raise RaceError(f"'{kind.value}' needs a race under way (the race is {phase})")
        score = self._scorer.entrants.get(entrant) if entrant is not None else None
        if score is None:
            raise RaceError(f"{entrant} is not a team of this race")
        if score.finished:
            raise RaceError(f"team {entrant} has already taken the flag")
        team = end.team(entrant)
        if kind is ControlKind.PIT_IN and team.in_pit:
            raise RaceError(f"team {entrant} is in the pit already")
        if kind is ControlKind.PIT_OUT:
            if not team.in_pit:
                raise RaceError(f"team {entrant} is not in the pit")
            if value:
                if not self.config.kart_pool:
                    raise RaceError("karts change only in a race with a kart pool")
                holder = end.team_of_kart(int(value))
                if holder is not None and holder != entrant:
                    raise RaceError(f"kart {value} is driven by team {holder}")
        if kind is ControlKind.DRIVER and not value.strip():
            raise RaceError("name the driver")

    def track_call(self, now_ns: int) -> int | None:
        """Call a yellow if an entrant is overdue (automatic track call); its key, or None."""
        key, _ = self.overdue(now_ns)
        if key is not None:
            self.control(ControlKind.YELLOW, now_ns)
            self.called_for = (key, now_ns)
        return key

    def called_yellow_for(self, now_ns: int) -> int | None:
        """The entrant whose deslot called the yellow that is out now, or None."""
        since = self._scorer.caution_at(now_ns)
        if self.called_for is None or since != self.called_for[1]:
            return None
        return self.called_for[0]

    def add(self, crossing: Crossing) -> Outcome:
        """Log and score a crossing. Out-of-order arrivals re-score the race."""
        self._crossings[crossing.id] = crossing
        key = (crossing.t_ns, crossing.id)
        in_order = not self._order or key > self._time_key(self._order[-1])
        if in_order and crossing.t_ns >= self._scorer.last_t:
            self._order.append(crossing.id)
            return self._scorer.crossing(crossing)
        bisect.insort(self._order, crossing.id, key=self._time_key)
        self._rescore()
        return self._scorer.outcomes[crossing.id]

    def override(self, pass_id: int, mode: str | None) -> None:
        """The director's edit of one crossing ("count", "ignore" or None); re-scores."""
        old = self._crossings.get(pass_id)
        if old is None:
            raise RaceError(f"pass {pass_id} is not part of this race")
        self._crossings[pass_id] = Crossing(old.id, old.lane, old.car, old.t_ns, mode)
        self._rescore()

    def move(self, pass_id: int, t_ns: int) -> None:
        """The director's correction of a crossing's time; re-scores."""
        old = self._crossings.get(pass_id)
        if old is None:
            raise RaceError(f"pass {pass_id} is not part of this race")
        self._crossings[pass_id] = Crossing(old.id, old.lane, old.car, t_ns, old.override)
        self._order = sorted(self._crossings, key=self._time_key)
        self._rescore()

    # ------------------------------------------------------------------ reading
    @property
    def outcomes(self) -> dict[int, Outcome]:
        """What each crossing meant: all of them after a (re-)score, plus those added since
        (less any the owner said it has stored: ``forget_outcomes``)."""
        return self._scorer.outcomes

    def forget_outcomes(self) -> None:
        """Drop the outcomes scored so far: the owner has stored them. The lap service
        does, after each batch: a long race holds tens of thousands it never reads again,
        and a re-score rebuilds them all."""
        self._scorer.outcomes.clear()

    @property
    def crossings(self) -> list[Crossing]:
        return [self._crossings[i] for i in self._order]

    def last_event_ns(self) -> int:
        """The latest moment in the race's logs (a crossing, a control, or green)."""
        times = [c.t_ns for c in self._crossings.values()] + [c.t_ns for c in self.controls]
        if self.plan is not None:
            times.append(self.plan.green_ns)
        return max(times, default=0)

    def standings(self) -> list[Standing]:
        end = self._scorer.endurance
        extra = None if end is None else {k: end.penalty_ns(k) for k in self._scorer.entrants}
        s = self._scorer
        return classify(self.config, list(s.entrants.values()), extra,
                        ended=s.ended_at is not None and not s.aborted)

    @property
    def endurance(self) -> Endurance | None:
        """Teams, stops and stints of an endurance race once it has started (else None)."""
        return self._scorer.endurance

    def phase_at(self, now_ns: int) -> str:
        s = self._scorer
        if s.aborted:
            return "aborted"
        if s.ended_at is not None or s.all_finished():
            return "finished"
        if self.plan is None or s.voided_at is not None:
            return "ready"
        if now_ns < self.plan.green_ns:
            return "starting"
        if s.caution_at(now_ns) is not None and s.caution_is_red:
            return "stopped"
        if s.flag_t is not None or self._time_up(now_ns):
            return "finishing"
        return "running"

    def flag_at(self, now_ns: int) -> str:
        s = self._scorer
        phase = self.phase_at(now_ns)
        if phase in ("ready", "starting", "aborted"):
            return "none"
        if phase == "finished" or phase == "finishing":
            return "chequered"
        if s.caution_at(now_ns) is not None:
            return "red" if s.caution_is_red else "yellow"
        return "green"

    def power_at(self, now_ns: int) -> bool:
        """Track power: on while racing under green, and under yellow for its grace period.

        Off before green, under red, during the green countdown and once the race is over
        (fail-safe everywhere else).
        """
        if self.phase_at(now_ns) not in ("running", "finishing"):
            return False
        cut = self.power_cut_ns(now_ns)
        return cut is None or now_ns < cut

    def power_cut_ns(self, now_ns: int) -> int | None:
        """Under a yellow or red flag: when the power goes (went) off; None under green."""
        s = self._scorer
        since = s.caution_at(now_ns)
        if since is None or self.flag_at(now_ns) == "chequered":
            return None
        return since if s.caution_is_red else since + self.config.yellow_grace_ns

    def resume_ns(self, now_ns: int) -> int | None:
        """Green was given: when its countdown ends and the power comes back; else None."""
        s = self._scorer
        return s.resume_at if s.caution_at(now_ns) is not None else None

    def resumed_ns(self, now_ns: int) -> int | None:
        """Under green: when racing last resumed after a caution (the end of its countdown)."""
        s = self._scorer
        if s.caution_at(now_ns) is not None:
            return None
        if s.resume_at is not None:  # the countdown ran out with no event since
            return s.resume_at
        return s.last_caution[1] if s.last_caution else None

    @property
    def void_by(self) -> int | None:
        """The entrant whose jump start made the start void (penalty "restart"), or None."""
        return self._scorer.voided_by

    @property
    def live_plan(self) -> StartPlan | None:
        """The start plan in force (None before the start and after a void start)."""
        return None if self.void_by is not None else self.plan

    def lights_at(self, now_ns: int):
        return lights_at(self.live_plan, now_ns)

    def overdue(self, now_ns: int) -> tuple[int | None, int | None]:
        """Automatic track call: (entrant overdue at ``now_ns`` or None, next deadline).

        Racing under green, an entrant that has not crossed for more than
        ``auto_yellow_factor`` times its average lap (timed from its last crossing, or from
        the end of the last caution) has most likely come off: that calls a yellow.
        """
        factor = self.config.auto_yellow_factor
        s = self._scorer
        if factor <= 0 or self.phase_at(now_ns) not in ("running", "finishing") \
                or s.caution_at(now_ns) is not None:
            return None, None
        resumed = s.last_caution[1] if s.last_caution and s.last_caution[1] else 0
        due = sorted((max(e.ref_t, resumed) + int(factor * e.total_ns / e.laps), e.key)
                     for e in s.entrants.values() if e.laps and not e.finished)
        if not due:
            return None, None
        deadline, key = due[0]
        return (key if now_ns >= deadline else None), deadline

    def next_change(self, now_ns: int) -> int | None:
        """The next moment the race changes by time alone: a light, the clock running out,
        the power cut of a yellow, the end of a green countdown, an overdue car."""
        moments = [t for t in (next_change(self.live_plan, now_ns), self.ends_ns(now_ns),
                               self.power_cut_ns(now_ns), self.resume_ns(now_ns),
                               self.overdue(now_ns)[1])
                   if t is not None and t > now_ns]
        return min(moments, default=None)

    def ends_ns(self, now_ns: int) -> int | None:
        """When a timed session's clock runs out, as of now (pauses push it back)."""
        if self.live_plan is None or self.config.duration_ns is None:
            return None
        return self.plan.green_ns + self.config.duration_ns + self._scorer.paused_at(now_ns)

    # ------------------------------------------------------------------ internals
    def _time_key(self, pass_id: int) -> tuple[int, int]:
        return self._crossings[pass_id].t_ns, pass_id

    def _time_up(self, now_ns: int) -> bool:
        end = self.ends_ns(now_ns)
        return end is not None and now_ns >= end

    def _rescore(self) -> None:
        self._scorer: Scorer = score(self.config, self.plan, self.controls, self.crossings)
        self.rescores += 1
