"""Pace figures: a robust average of recent clean laps, and good/bad tags for the field.

The rule, and why:

* Only **clean laps** count: not the start lap from the grid, not an in-lap or out-lap
  (the pit lane is in them), not a lap neutralised by a yellow or red flag. The fold in
  ``core/endurance.py`` marks each lap.
* Of those, an **outlier** is a lap further from the median than ``outlier_mads`` scaled
  median absolute deviations (MAD × 1.4826, which estimates the standard deviation of
  normal lap-to-lap noise). The median and the MAD are taken over the last
  ``2 × window`` clean laps. The MAD is used because it is robust: with five to ten
  laps, one spin lap doubles a standard deviation and so hides itself, while the median
  and the MAD do not move until half the laps are bad. (An IQR fence has the same
  robustness but needs more laps to have quartiles at all.) So that identical laps
  (a simulator, a very steady driver) do not make every tiny difference an outlier, the
  scale is at least 0.5 % of the median lap.
* The **average** is the mean of the last ``window`` clean laps that are not outliers.
  A spin lap or an in-lap therefore leaves the average exactly as it was.
* A **pace tag** compares a car's (or kart's) average with the median of the field's
  known averages: at or below the median is ``good``, above it ``bad``. It is
  ``unknown`` until the car has ``min_laps`` clean laps, or while fewer than two cars
  of the field have a pace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pitwall.core.types import PaceRules

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution × this = its standard deviation
MIN_SCALE = 0.005  # the outlier scale is at least this fraction of the median lap

GOOD, BAD, UNKNOWN = "good", "bad", "unknown"


def median(values: Sequence[int | float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        raise ValueError("median of no values")
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def reference_laps(rules: PaceRules) -> int:
    """How many of the latest clean laps the figures look at."""
    return 2 * rules.window


def inliers(laps: Sequence[int], rules: PaceRules) -> list[int]:
    """The laps of ``laps`` (clean lap times, oldest first) that are not outliers, judged
    against the last ``2 × window`` of them."""
    ref = laps[-reference_laps(rules):]
    if len(ref) < 3:  # too few to tell an outlier from a trend
        return list(ref)
    m = median(ref)
    scale = max(MAD_TO_SIGMA * median([abs(x - m) for x in ref]), MIN_SCALE * m)
    limit = rules.outlier_mads * scale
    return [x for x in ref if abs(x - m) <= limit]


def average(laps: Sequence[int], rules: PaceRules) -> int | None:
    """Mean of the last ``window`` clean, non-outlier laps (ns), or None if fewer than
    ``min_laps`` of them."""
    kept = inliers(laps, rules)[-rules.window:]
    if len(kept) < rules.min_laps:
        return None
    return round(sum(kept) / len(kept))


def tags(paces: dict[int, int | None]) -> dict[int, str]:
    """Each key's pace tag against the field's median pace (see the module's docstring)."""
    known = [p for p in paces.values() if p is not None]
    if len(known) < 2:
        return {k: UNKNOWN for k in paces}
    m = median(known)
    return {k: UNKNOWN if p is None else (GOOD if p <= m else BAD) for k, p in paces.items()}


def good_probability(pool_tags: Iterable[str], field_tags: Iterable[str]) -> float | None:
    """The chance that the next kart out of the pits is a good one.

    Every kart waiting in the pool is taken to be equally likely to come next (the pit
    crew's choice is not known). A kart with a tag counts as what it is; an unknown kart
    counts as good with the field's share of good karts among those with a tag (one half
    while no kart has one). None with no kart in the pool.
    """
    pool = list(pool_tags)
    if not pool:
        return None
    known = [t for t in field_tags if t != UNKNOWN]
    prior = known.count(GOOD) / len(known) if known else 0.5
    expected = sum(1.0 if t == GOOD else prior if t == UNKNOWN else 0.0 for t in pool)
    return expected / len(pool)
