"""The base of every settings table: unknown keys are errors, every field by keyword."""

from __future__ import annotations

import msgspec


class Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass
