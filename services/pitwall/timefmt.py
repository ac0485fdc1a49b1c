"""Times as people read them: seconds with the milliseconds the source has, truncated.

>>> seconds(4512.9), seconds(-500.25), seconds(None)
('4.512', '-0.500', '')
"""

from __future__ import annotations

import math


def seconds(ms: float | None, none: str = "") -> str:
    """A lap or gap time in seconds with 3 decimals, truncated like timing displays do:
    a lap of 4.5129 s shows 4.512, never a faster-looking rounded 4.513."""
    if ms is None:
        return none
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    whole = math.floor(ms)  # integer maths from here: no float rounding in the digits
    return f"{sign}{whole // 1000}.{whole % 1000:03d}"
