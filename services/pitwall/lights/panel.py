"""What every output of the lights should show at a moment: pure, time as data.

The lap service is the authority: it plans the start (each red light's and green's
``*_ns``), decides every flag and whether the track has power, and publishes it all as the
retained ``lights/state``. This module only renders that state at time ``t`` on the same
CLOCK_MONOTONIC (both services run on the Pi). It renders the planned moments itself —
each red, green, the end of a yellow's grace period, the end of a green countdown — so
the lamps change on the planned nanosecond, not one MQTT hop later. The lap service
publishes the same change at the same moment, so the two never disagree for long.

Fail-safe: with no state, or with the lap service offline (its last will), the track has
no power and the red flag is lit.
"""

from __future__ import annotations

from dataclasses import dataclass

from pitwall.contract import LightsState
from pitwall.core import MS
from pitwall.core.start import lights_at
from pitwall.core.types import StartPlan

BLINK_NS = 250 * MS  # the flag LED blinks at this half-period during a green countdown


@dataclass(frozen=True, slots=True)
class Panel:
    reds: int = 0  # red start lights lit (the first ``reds`` of them)
    green: bool = False  # racing under green
    yellow: bool = False
    red: bool = False  # red flag (or no race control)
    chequered: bool = False
    buzzer: bool = False
    power: bool = False  # track-power relay energised


NO_RACE_CONTROL = Panel(red=True)  # lap service gone: stop everything


@dataclass(frozen=True, slots=True)
class Beeps:
    red_ns: int = 150 * MS  # with each red light
    go_ns: int = 600 * MS  # at green (the start, and the end of a green countdown)


DEFAULT_BEEPS = Beeps()


def panel_at(state: LightsState | None, t: int, *, laps_online: bool,
             beeps: Beeps = DEFAULT_BEEPS) -> Panel:
    """The panel at ``t`` (CLOCK_MONOTONIC ns) for the lap service's latest lights state."""
    if state is None or not laps_online:
        return NO_RACE_CONTROL
    flag, power, reds = state.flag, state.power, 0
    plan = state.plan
    if plan is not None and state.phase == "starting":
        if t < plan.green_ns:
            reds, power = lights_at(StartPlan(tuple(plan.red_ns), plan.green_ns), t).reds, False
        else:  # the planned green: lights out, power on, as the lap service will say
            flag, power = "green", True
    blinking = False
    if state.resume_ns is not None:  # green given: the flag stays out until the countdown ends
        if t >= state.resume_ns:
            flag, power = "green", True
        else:
            power = False
            blinking = (state.resume_ns - t - 1) // BLINK_NS % 2 == 1
    elif state.power_cut_ns is not None and t >= state.power_cut_ns:
        power = False  # the yellow's grace period is over
    return Panel(
        reds=reds,
        green=flag == "green",
        yellow=flag == "yellow" and not blinking,
        red=flag == "red" and not blinking,
        chequered=flag == "chequered",
        buzzer=_beeping(state, t, beeps),
        power=power,
    )


def _beeping(state: LightsState, t: int, beeps: Beeps) -> bool:
    plan = state.plan
    if plan is not None:
        if any(r <= t < r + beeps.red_ns for r in plan.red_ns):
            return True
        if plan.green_ns <= t < plan.green_ns + beeps.go_ns:
            return True
    resume = state.resume_ns if state.resume_ns is not None else state.resumed_ns
    return resume is not None and resume <= t < resume + beeps.go_ns


def next_change(state: LightsState | None, t: int, beeps: Beeps = DEFAULT_BEEPS) -> int | None:
    """The next moment after ``t`` at which ``panel_at`` may change by time alone."""
    if state is None:
        return None
    moments: list[int] = []
    plan = state.plan
    if plan is not None:
        for r in plan.red_ns:
            moments += (r, r + beeps.red_ns)
        moments += (plan.green_ns, plan.green_ns + beeps.go_ns)
    if state.power_cut_ns is not None:
        moments.append(state.power_cut_ns)
    if state.resumed_ns is not None:
        moments.append(state.resumed_ns + beeps.go_ns)
    if state.resume_ns is not None:
        resume = state.resume_ns
        moments += (resume, resume + beeps.go_ns)
        if t < resume:  # the next blink edge: a whole number of half-periods before resume
            moments.append(resume - (resume - t - 1) // BLINK_NS * BLINK_NS)
    return min((m for m in moments if m > t), default=None)
