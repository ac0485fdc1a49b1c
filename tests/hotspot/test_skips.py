"""Without root or the tools, the namespace tests are skipped with a reason that says
what to do, rather than failing half way through building a network."""

from __future__ import annotations

import os
import shutil

from . import conftest


def test_not_root_is_a_clear_skip_reason(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "needs root" in conftest.skip_reason()


def test_a_missing_tool_is_named(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda tool: None if tool == "udhcpc" else real_which(tool))
    reason = conftest.skip_reason()
    assert reason.startswith("missing ") and "udhcpc" in reason
    assert "install-system-deps.sh" in reason
