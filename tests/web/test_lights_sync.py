"""Two boards show the start lights in step: each lamp within 50 ms of the other screen.

The lap service plans the sequence; the boards get the planned nanoseconds (and the
API's clock with every frame) and each browser lights the lamps on those moments by its
own clock. Two TV boards in separate browser contexts record, by a MutationObserver on
the lights' data-reds / data-green hook, when each red and the green came on, as
``performance.timeOrigin + performance.now()`` (one time base for the whole machine).
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect


from .conftest import web_stack

IN_STEP_MS = 50
LIGHTS = ["red1", "red2", "red3", "red4", "red5", "green"]

RECORD = """() => {
  window.lightTimes = {};
  const el = document.querySelector('.lights');
  const seen = () => {
    const t = performance.timeOrigin + performance.now();
    const reds = Number(el.dataset.reds || 0);
    for (let i = 1; i <= reds; i++) window.lightTimes['red' + i] ??= t;
    if (el.dataset.green === 'true') window.lightTimes.green ??= t;
  };
  new MutationObserver(seen).observe(el, {attributes: true,
    attributeFilter: ['data-reds', 'data-green']});
}"""


@pytest.fixture(scope="module")
def web(broker, tmp_path_factory):
    """The conftest's stack, but with a lead before the first red and a hold before green,
    so that every light is in the future when the boards learn the plan."""
    with web_stack(broker, tmp_path_factory.mktemp("lights-web"),
                   start_lead_ms=1000, hold_min_ms=700, hold_max_ms=700,
                   jump_start_penalty="time", jump_start_penalty_ms=5000) as stack:
        yield stack


def test_two_boards_light_each_start_light_within_50_ms(web, open_page):
    with web.director() as d:
        r = d.post("/api/races", json={"mode": "laps", "laps": 10, "entrant": "lane",
                                       "name": "Lights in step",
                                       "entrants": [{"lane": 1, "driver": "Ann"},
                                                    {"lane": 2, "driver": "Bob"}]})
        assert r.status_code == 201, r.text
    boards = [open_page("/tv.html", 1280, 720), open_page("/tv.html", 1280, 720)]
    for page in boards:
        expect(page.locator("html")).to_have_attribute("data-live", "live")
        expect(page.locator("#race-name")).to_have_text("Lights in step")
        page.evaluate(RECORD)
    with web.director() as d:
        assert d.post("/api/races/current/start").status_code == 200
    state = web.wait_state(lambda s: s.lights is not None, what="the start plan")
    assert state.lights.red_ns[0] - state.now_ns > 500_000_000  # every light still ahead
    # Lane 2 goes on the second red: a jump start (its sensor stamp is in the reds).
    jump_ns = state.lights.red_ns[1] + 100_000_000
    while time.monotonic_ns() < jump_ns:
        time.sleep(0.01)
    web.send_pass(2, jump_ns)

    deadline = time.monotonic() + 15
    while True:
        times = [page.evaluate("() => window.lightTimes") for page in boards]
        if all(set(t) >= set(LIGHTS) for t in times) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for t in times:
        assert set(t) >= set(LIGHTS), f"a board missed lights: {times}"
    apart = {light: abs(times[0][light] - times[1][light]) for light in LIGHTS}
    assert max(apart.values()) <= IN_STEP_MS, f"lights apart (ms): {apart}"
    # And each board kept the plan's rhythm: reds a second apart, green after the hold.
    for t in times:
        gaps = [t[f"red{i + 1}"] - t[f"red{i}"] for i in range(1, 5)]
        assert all(abs(g - 1000) <= IN_STEP_MS for g in gaps), gaps
        assert abs(t["green"] - t["red5"] - 700) <= IN_STEP_MS
    expect(boards[0].locator("#lights-overlay .lights")).to_have_attribute("data-green",
                                                                           "true")
    # The penalty is on every board: both TVs and the phone board.
    home = open_page("/", 390, 844)
    for page in (*boards, home):
        tag = page.locator('tr[data-entrant="2"] .tag.jump')
        expect(tag).to_have_text("JS +5 s")
        expect(tag).to_have_attribute("title", "Jump start: 5 s added")
