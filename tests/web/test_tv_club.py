"""The boards on a club night, in real Chromium: a yellow flag fills the TV's and the
phone's full width in its colour, the TV calls the race out (leader, yellow, green, last
lap, finish, a track record) and can be muted for good, the driver's phone shows the
phase and the laps to go, the next heat's grid is on the TV before its start, and new
records are tagged on the board.

The browser's speech engine is replaced by a recorder (an init script): what the page
says is what it hands to ``speechSynthesis.speak``."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from pitwall import contract

from .conftest import screenshot

MS = 1_000_000
FAKE_SPEECH = """
window.__said = [];
window.SpeechSynthesisUtterance = class extends EventTarget {
  constructor(text) { super(); this.text = text; }
};
Object.defineProperty(window, "speechSynthesis", { configurable: true, value: {
  speak(u) { window.__said.push(u.text); setTimeout(() => u.dispatchEvent(new Event("end")), 5); },
  cancel() {},
}});
"""


@pytest.fixture
def page_with_voice(browser, web):
    contexts = []

    def opener(path: str, width: int, height: int, context=None):
        if context is None:
            context = browser.new_context(viewport={"width": width, "height": height},
                                          base_url=web.url)
            context.add_init_script(FAKE_SPEECH)
            contexts.append(context)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path)
        page.errors = errors
        return page

    yield opener
    for context in contexts:
        context.close()


def said(page) -> list[str]:
    return page.evaluate("window.__said")


def wait_said(page, text: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in s for s in said(page)):
        assert time.monotonic() < deadline, f"never said {text!r}: {said(page)}"
        time.sleep(0.05)


def pass_at(web, t_ns: int, car: int) -> None:
    while time.monotonic_ns() < t_ns:  # a pass is published once its edge has happened
        time.sleep(0.001)
    web.send_pass(lane=car, t_ns=t_ns, car=car)


def set_up(web, name: str, cars: dict[int, str], laps: int = 3, car_class: str = "") -> int:
    reply = web.command(contract.Setup(
        mode="laps", laps=laps, entrant="car", min_lap_ms=200, first_crossing="counts",
        name=name, car_class=car_class, entrants=[contract.EntrantSpec(car=c, driver=d) for c, d in cars.items()]))
    assert reply.ok, reply.error
    return reply.race_id


def start(web, race_id: int) -> int:
    assert web.command(contract.Start()).ok
    return web.wait_state(lambda s: s.race_id == race_id and s.phase == "running",
                          what="green").start_ns


def band_box(page) -> dict:
    return page.eval_on_selector("#flag-band", """el => {
        const r = el.getBoundingClientRect();
        return {left: r.left, width: r.width, height: r.height,
                vw: document.documentElement.clientWidth,
                colour: getComputedStyle(el).backgroundColor};
    }""")


def test_a_yellow_fills_the_screens_and_the_tv_calls_the_race(web, page_with_voice):
    race_id = set_up(web, "Callouts", {1: "Ann", 2: "Bob"})
    tv = page_with_voice("/tv.html", 1920, 1080)
    small_tv = page_with_voice("/tv.html", 360, 780)
    phone = page_with_voice("/driver.html", 360, 780)
    phone.fill("#car-number", "1")
    phone.click("#car-form button[type=submit]")
    expect(phone.locator("#mine")).to_be_visible()
    expect(tv.locator("#race-name")).to_have_text("Callouts")
    # Browsers speak only after a gesture: the button says so, and a tap unlocks it.
    expect(tv.locator("#sound")).to_have_text("Tap to enable sound")
    tv.click("#sound")
    expect(tv.locator("#sound")).to_have_text("Sound on")
    wait_said(tv, "Sound on")
    expect(phone.locator("#togo")).to_have_text("3 laps")

    green = start(web, race_id)
    expect(phone.locator("#phase")).to_have_text("Racing")
    pass_at(web, green + 400 * MS, 1)
    wait_said(tv, "Ann leads")
    expect(phone.locator("#togo")).to_have_text("2 laps to go")

    with web.director() as d:
        assert d.post("/api/races/current/yellow").status_code == 200
    for page in (tv, small_tv, phone):
        band = page.locator("#flag-band")
        expect(band).to_be_visible()
        expect(band).to_have_attribute("data-flag", "yellow")
        expect(band).to_contain_text("Yellow")
        box = band_box(page)
        assert box["left"] == 0 and abs(box["width"] - box["vw"]) < 1, box
        assert box["colour"] not in ("rgba(0, 0, 0, 0)", "rgb(0, 0, 0)"), box
    assert band_box(tv)["height"] >= 60, "a yellow on the TV must be impossible to miss"
    expect(tv.locator("#frame")).to_have_attribute("data-flag", "yellow")
    wait_said(tv, "Yellow flag")
    screenshot(tv, "tv-yellow-1920")
    screenshot(small_tv, "tv-yellow-360")
    screenshot(phone, "driver-yellow-360")

    with web.director() as d:
        assert d.post("/api/races/current/green").status_code == 200
    wait_said(tv, "Green flag")
    expect(tv.locator("#flag-band")).to_be_hidden(timeout=10_000)
    state = web.wait_state(lambda s: s.flag == "green", what="green again")
    t = max(time.monotonic_ns(), state.resume_ns or 0) + 300 * MS
    pass_at(web, t, 1)  # Ann's second lap: the leader starts the last one
    wait_said(tv, "Last lap")
    expect(phone.locator("#togo")).to_have_text("Last lap")
    pass_at(web, t + 300 * MS, 1)
    wait_said(tv, "Chequered flag, Ann wins")
    expect(tv.locator("#flag-band")).to_contain_text("Ann wins")
    assert said(tv).count("Yellow flag") == 1, said(tv)  # re-renders never repeat one
    for page in (tv, small_tv, phone):
        assert not page.errors, page.errors


def test_muted_stays_muted_and_says_nothing(web, page_with_voice):
    race_id = set_up(web, "Quiet", {1: "Ann", 2: "Bob"})
    tv = page_with_voice("/tv.html", 1280, 720)
    tv.click("#sound")  # unlock
    expect(tv.locator("#sound")).to_have_text("Sound on")
    tv.click("#sound")  # mute
    expect(tv.locator("#sound")).to_have_text("Sound off")
    assert tv.evaluate("localStorage.getItem('pitwall.voice.muted')") == "true"
    before = len(said(tv))
    green = start(web, race_id)
    pass_at(web, green + 400 * MS, 2)
    expect(tv.locator('#standings tr[data-entrant="2"] td.laps')).to_have_text("1")
    with web.director() as d:
        assert d.post("/api/races/current/yellow").status_code == 200
    expect(tv.locator("#flag-band")).to_be_visible()
    time.sleep(0.5)
    assert said(tv)[before:] == [], said(tv)
    # A reload (the TV's browser restarted) keeps the choice.
    again = page_with_voice("/tv.html", 1280, 720, context=tv.context)
    expect(again.locator("#sound")).to_have_text("Sound off")


def test_the_next_heats_grid_is_on_the_tv_before_its_start(web, page_with_voice):
    reply = web.command(contract.Heats(name="Club heats", drivers=["Ann", "Bob", "Cy"],
                                       lanes=[1, 2], duration_s=10, pause_s=5))
    assert reply.ok, reply.error
    for width, height in ((1920, 1080), (360, 780)):
        tv = page_with_voice("/tv.html", width, height)
        panel = tv.locator("#next-heat")
        expect(panel).to_be_visible()
        expect(tv.locator("#next-heat-title")).to_have_text("Heat 1 of 3")
        grid = tv.locator("#next-heat-grid")
        expect(grid).to_contain_text("Lane 1: ")
        expect(grid).to_contain_text("Lane 2: ")
        expect(tv.locator("#next-heat-out")).to_contain_text("Sitting out: ")
        expect(tv.locator("#heat")).to_have_text("Heat 1/3")
        box = panel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
        screenshot(tv, f"tv-next-heat-{width}")
    with web.director() as d:
        assert d.post("/api/races/current/abort").status_code == 200


def test_a_track_record_and_a_personal_best_are_tagged_and_announced(web, page_with_voice):
    # The first race sets the records quietly (there was none to beat).
    # A class of their own: the other tests' laps hold no record in it.
    first = set_up(web, "Records one", {1: "Ann", 2: "Bob"}, car_class="F1")
    green = start(web, first)
    pass_at(web, green + 600 * MS, 1)
    pass_at(web, green + 620 * MS, 2)
    web.wait_state(lambda s: sum(x.laps for x in s.standings) == 2, what="two laps")
    with web.director() as d:
        assert d.post("/api/races/current/finish").status_code == 200

    second = set_up(web, "Records two", {1: "Ann", 2: "Bob"}, car_class="F1")
    tv = page_with_voice("/tv.html", 1920, 1080)
    expect(tv.locator("#race-name")).to_have_text("Records two")
    tv.click("#sound")
    expect(tv.locator("#record-line")).to_contain_text("Track record")
    green = start(web, second)
    pass_at(web, green + 550 * MS, 2)  # Bob beats the track record (600 ms)
    pass_at(web, green + 590 * MS, 1)  # Ann beats her own 600 ms: a personal best
    expect(tv.locator('#standings tr[data-entrant="2"] .tag[data-record="track"]')).to_be_visible()
    expect(tv.locator('#standings tr[data-entrant="1"] .tag[data-record="pb"]')).to_be_visible()
    banner = tv.locator("#record-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("NEW TRACK RECORD")
    expect(banner).to_contain_text("Bob")
    wait_said(tv, "New track record, Bob")
    wait_said(tv, "Personal best, Ann")
    expect(tv.locator("#record-line")).to_contain_text("Track record (F1) 0.550 Bob")
    screenshot(tv, "tv-record-1920")
