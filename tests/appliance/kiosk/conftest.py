"""The kiosk role rendered once with its own defaults, for every kiosk test that reads it."""

from __future__ import annotations

import pytest

from .support import Rendered, needs_ansible, render


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Rendered:
    needs_ansible()
    return render(tmp_path_factory.mktemp("kiosk-default"))
