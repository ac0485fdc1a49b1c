"""The start sequence: planned once, as data, so every display can render it in step.

Five red lights come on a second apart; after a random hold they all go out, and that
moment is green (``start_ns``). The hold is drawn by the caller (the lap service), so this
module stays deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

from pitwall.core.types import SECOND, StartPlan

RED_LIGHTS = 5
RED_INTERVAL_NS = SECOND


def plan_start(now_ns: int, lead_ns: int, hold_ns: int) -> StartPlan:
    """Reds at now+lead, +1 s, … +4 s; green ``hold_ns`` after the fifth red."""
    if lead_ns < 0 or hold_ns < 0:
        raise ValueError("lead and hold cannot be negative")
    first = now_ns + lead_ns
    reds = tuple(first + i * RED_INTERVAL_NS for i in range(RED_LIGHTS))
    return StartPlan(red_ns=reds, green_ns=reds[-1] + hold_ns)


@dataclass(frozen=True, slots=True)
class LightsAt:
    reds: int  # red lights lit
    green: bool  # lights out: racing


def lights_at(plan: StartPlan | None, now_ns: int) -> LightsAt:
    if plan is None or now_ns < plan.red_ns[0]:
        return LightsAt(0, False)
    if now_ns >= plan.green_ns:
        return LightsAt(0, True)
    return LightsAt(sum(1 for t in plan.red_ns if t <= now_ns), False)


def next_change(plan: StartPlan | None, now_ns: int) -> int | None:
    """The next moment the lights change after ``now_ns`` (for scheduling), or None."""
    if plan is None:
        return None
    for t in (*plan.red_ns, plan.green_ns):
        if t > now_ns:
            return t
    return None
