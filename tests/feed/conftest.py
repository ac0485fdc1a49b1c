"""Fixtures for the feed's end-to-end tests: one real stack per module (the session's
Mosquitto, a lap service process, the API on uvicorn) with two pit-sensor lanes the feed's
pit stops go to."""

from __future__ import annotations

import pytest

from ..api.conftest import api_stack

PIT_LANES = [{"lane": 9, "pin": 20, "role": "pit_in"},
             {"lane": 10, "pin": 21, "role": "pit_out"}]


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    with api_stack(broker, tmp_path_factory.mktemp("feed"), lanes=PIT_LANES) as s:
        yield s
