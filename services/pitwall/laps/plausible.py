"""Which passes can belong to the open race: the lap service refuses the others.

A pass that fits the contract may still be impossible for the race it arrives in: from a
lane the race does not have, or stamped before the race was set up, or further ahead of
the race's latest stamp than any real crossing can be (``[race] pass_horizon_s``). Such a
pass is refused: reported on the errors topic and kept in the quarantine table
(``store.QuarantineRow``, ``GET /api/races/{id}/refused``), never stored in the pass log and
never scored. Stamps are compared with stamps only: the lap service's clock counts as the
latest stamp when it is later (a race where nobody crossed for a while), never as the
pass's time.
"""

from __future__ import annotations

from pitwall.core import SECOND, RaceConfig
from pitwall.settings import Settings


def race_lanes(config: RaceConfig, settings: Settings) -> frozenset[int] | None:
    """The lanes a race's passes may come from; None: any (nothing says which).

    The track's lanes when the settings name them (``track_lanes`` or ``[[lanes]]`` of the
    timing line), and the pit sensors' lanes; otherwise, in a race keyed by lane with a
    grid, the grid's lanes and the pit sensors'.
    """
    pits = {s.lane for s in config.pit_sensors} | {lane.lane for lane in settings.lanes}
    line = settings.lane_numbers
    if line:
        return frozenset(line) | pits
    if config.entrant == "lane" and config.entrants:
        return frozenset(e.key for e in config.entrants) | pits
    return None


class Plausibility:
    """The checks for one race: ``refusal(lane, t_ns, now_ns)`` says why a pass cannot be
    of it (None: it can); ``accepted(t_ns)`` follows the latest accepted stamp."""

    def __init__(self, race_id: int, lanes: frozenset[int] | None, setup_ns: int | None,
                 latest_ns: int, horizon_s: float) -> None:
        self.race_id = race_id
        self.lanes = lanes
        self.setup_ns = setup_ns
        self.latest_ns = max(latest_ns, setup_ns or 0)
        self.horizon_ns = round(horizon_s * SECOND)

    def refusal(self, lane: int, t_ns: int, now_ns: int) -> str | None:
        if self.lanes is not None and lane not in self.lanes:
            return f"lane {lane} is not a lane of race {self.race_id}"
        if self.setup_ns is not None and t_ns < self.setup_ns:
            return (f"stamp {t_ns} is before race {self.race_id} was set up "
                    f"({self.setup_ns})")
        limit = max(self.latest_ns, now_ns) + self.horizon_ns
        if t_ns > limit:
            return (f"stamp {t_ns} is more than {self.horizon_ns // SECOND} s ahead of race "
                    f"{self.race_id}'s latest ({max(self.latest_ns, now_ns)})")
        return None

    def accepted(self, t_ns: int) -> None:
        if t_ns > self.latest_ns:
            self.latest_ns = t_ns
