"""The docs that describe contracts stay true: examples decode, tables are current."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from pitwall import contract
from pitwall.settings_cli import render_markdown

DOCS = Path(__file__).parent.parent / "docs"

TYPES = {
    "pitwall/lane/{lane}/pass": contract.Pass,
    "pitwall/race/command": contract.Command,
    "pitwall/race/reply": contract.Reply,
    "pitwall/race/state": contract.RaceState,
    "pitwall/race/lap": contract.LapEvent,
    "pitwall/lights/state": contract.LightsState,
    "pitwall/status/{service}": None,
    "pitwall/errors": contract.ErrorReport,
    "pitwall/director/login": dict,
    "pitwall/health/state": contract.HealthState,
    "pitwall/health/warning": contract.HealthWarning,
    "pitwall/laps/stats": contract.LapStats,
    "pitwall/archive/journal": contract.Journal,
    "pitwall/archive/ack": contract.JournalAck,
}


def sections() -> dict[str, list[str]]:
    text = (DOCS / "mqtt.md").read_text()
    out = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, body = part.split("\n", 1)
        out[heading.strip().strip("`")] = re.findall(r"```(?:json|text)\n(.*?)```", body, re.S)
    return out


def test_every_topic_has_a_heading_and_an_example():
    topics = contract.Topics("pitwall")
    documented = sections()
    names = {topics.lane_pass(1).replace("/1/", "/{lane}/"), topics.race_command,
             topics.race_reply, topics.race_state, topics.race_lap, topics.lights_state,
             topics.status("x").replace("/x", "/{service}"), topics.errors,
             topics.director_login, topics.health_state, topics.health_warning,
             topics.laps_stats, topics.archive_journal, topics.archive_ack}
    assert names == set(documented) == set(TYPES)
    assert all(documented[name] for name in names)


@pytest.mark.parametrize("topic", list(TYPES))
def test_examples_decode_with_the_contract_types(topic):
    for example in sections()[topic]:
        if TYPES[topic] is None:
            assert example.strip().encode() in (contract.ONLINE, contract.OFFLINE)
        else:
            msgspec.json.decode(example.encode(), type=TYPES[topic])


def test_settings_reference_is_current():
    assert render_markdown() in (DOCS / "settings.md").read_text(), \
        "regenerate with: make settings-doc"
