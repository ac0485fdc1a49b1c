"""The pure race core: standard library only, no I/O, no clock reads, time as data.

Adapters (GPIO, MQTT, storage, HTTP) wrap it; every race rule lives here.
"""

from pitwall.core.race import Race
from pitwall.core.scoring import Scorer, score
from pitwall.core.start import lights_at, next_change, plan_start
from pitwall.core.types import (
    MS,
    SECOND,
    Control,
    ControlKind,
    Crossing,
    Entrant,
    Kind,
    Outcome,
    RaceConfig,
    RaceError,
    Standing,
    StartPlan,
)

__all__ = [
    "MS", "SECOND", "Control", "ControlKind", "Crossing", "Entrant", "Kind", "Outcome",
    "Race", "RaceConfig", "RaceError", "Scorer", "Standing", "StartPlan", "lights_at",
    "next_change", "plan_start", "score",
]
