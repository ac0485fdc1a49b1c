"""Race control on a club night: the heat-rotation form (the plan said before it is set
up, heat 1 ready), buttons that follow the phase and the flag, "fill" offering the cars
that crossed when none is registered, and the lap editor following the current race:
a crossing the sensor missed added by hand, a crossing's time corrected, both re-scored
and marked, with the drivers' names."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from pitwall import contract

from .conftest import log_in

MS = 1_000_000


def visible_actions(page) -> list[str]:
    return page.eval_on_selector_all("#actions button[data-action]",
                                     "bs => bs.filter(b => !b.hidden).map(b => b.dataset.action)")


def test_heat_rotation_is_set_up_from_its_form(web, open_page):
    page = open_page("/control.html", 1280, 1000)
    log_in(page, "director")
    form = page.locator("#heats-form")
    form.locator("[name=name]").fill("Tuesday heats")
    form.locator("[name=drivers]").fill("Ann\nBob\nCy\nDee\nEd\nFlo")
    expect(page.locator("#heats-plan")).to_have_text("6 drivers on 2 lanes: 6 heats, 4 sit out each")
    form.locator("[name=minutes]").fill("0.5")
    form.locator("[name=pause_s]").fill("5")
    form.locator("button[type=submit]").click()
    expect(page.locator("#feedback")).to_contain_text("Heat 1 is set up")
    state = web.wait_state(lambda s: s.event is not None and s.event.name == "Tuesday heats",
                           what="heat 1")
    assert state.event.heat == 1 and state.event.heats == 6 and state.phase == "ready"
    assert len(state.event.grid) == 2 and len(state.event.sitting_out) == 4
    expect(page.locator("#race-title")).to_contain_text(f"#{state.race_id}")
    assert visible_actions(page) == ["start", "abort"]  # nothing else fits a race not started
    # The event's results page: every heat planned, its grid and who sits out.
    results = open_page(f"/results.html?event={state.event.id}", 360, 780)
    expect(results.locator("#title")).to_have_text("Tuesday heats")
    expect(results.locator("#heats tr")).to_have_count(6)
    expect(results.locator('#heats tr[data-heat="1"]')).to_contain_text("Lane 1: ")
    expect(results.locator('#heats tr[data-heat="1"]')).to_contain_text("sitting out: ")
    expect(results.locator("#csv")).to_have_attribute("href", f"/api/events/{state.event.id}/results.csv")
    page.on("dialog", lambda d: d.accept())
    page.click('#actions button[data-action="abort"]')
    web.wait_state(lambda s: s.race_id == state.race_id and s.phase == "aborted", what="abort")
    expect(page.locator("#actions-hint")).to_contain_text("aborted")
    assert visible_actions(page) == []


def test_fill_offers_the_cars_seen_crossing(web, open_page):
    page = open_page("/control.html", 1280, 1000)
    log_in(page, "director")
    for car in (41, 42):  # no race needs them: the track saw them cross
        web.send_pass(lane=1, t_ns=time.monotonic_ns(), car=car)
    form = page.locator("#setup-form")
    form.locator("select[name=entrant]").select_option("car")
    page.click("#fill-entrants")
    expect(page.locator("#fill-note")).to_contain_text("seen crossing")
    numbers = page.eval_on_selector_all("#entrant-rows .entrant-n", "els => els.map(e => e.value)")
    assert {"41", "42"} <= set(numbers), numbers


def test_the_lap_editor_follows_the_race_adds_and_moves_crossings(web, open_page):
    page = open_page("/control.html", 1280, 1000)
    log_in(page, "director")
    reply = web.command(contract.Setup(
        mode="laps", laps=20, entrant="car", min_lap_ms=200, first_crossing="counts",
        name="Editor", entrants=[contract.EntrantSpec(car=1, driver="Ann"),
                                 contract.EntrantSpec(car=2, driver="Bob")]))
    assert reply.ok, reply.error
    # The editor follows the new race on its own.
    expect(page.locator("#edit-race")).to_have_value(str(reply.race_id))
    assert web.command(contract.Start()).ok
    state = web.wait_state(lambda s: s.race_id == reply.race_id and s.phase == "running",
                           what="green")
    expect(page.locator("#phase")).to_have_text("Racing")
    assert visible_actions(page) == ["yellow", "red", "finish", "abort"]
    green = state.start_ns
    for t, car in ((green + 1000 * MS, 1), (green + 3000 * MS, 1), (green + 1100 * MS, 2)):
        while time.monotonic_ns() < t:
            time.sleep(0.001)
        web.send_pass(lane=car, t_ns=t, car=car)
    web.wait_state(lambda s: sum(x.laps for x in s.standings) == 3, what="three laps")
    page.click("#reload-passes")
    expect(page.locator("#passes tr")).to_have_count(3)
    expect(page.locator("#passes")).to_contain_text("Ann")

    # Ann's sensor missed her crossing at 2.000 s: added by hand, her laps re-scored.
    add = page.locator("#add-pass-form")
    add.locator("[name=lane]").fill("1")
    add.locator("[name=car]").fill("1")
    add.locator("[name=race_s]").fill("2.000")
    add.locator("button[type=submit]").click()
    expect(page.locator("#feedback")).to_contain_text("done, race re-scored")
    manual = page.locator("#passes tr", has=page.locator(".tag.manual"))
    expect(manual).to_have_count(1)
    expect(manual).to_contain_text("2.000")
    web.wait_state(lambda s: next(x for x in s.standings if x.entrant == 1).laps == 3,
                   what="Ann's lap added")

    # Bob's crossing was stamped 1.100 s; the director sets it to 1.250 s.
    bob = page.locator("#passes tr", has_text="Bob").first
    bob.locator("button[data-time]").click()
    move = page.locator("#move-pass-form")
    expect(move.locator("[name=race_s]")).to_have_value("1.100")
    move.locator("[name=race_s]").fill("1.250")
    move.locator("button[type=submit]").click()
    expect(page.locator("#passes tr", has_text="Bob").first.locator(".tag.moved")).to_be_visible()
    web.wait_state(lambda s: next(x for x in s.standings if x.entrant == 2).last_ms == 1250.0,
                   what="Bob's lap re-timed")

    page.click('#actions button[data-action="yellow"]')
    web.wait_state(lambda s: s.flag == "yellow", what="yellow")
    deadline = time.monotonic() + 5
    while visible_actions(page) != ["green", "red", "finish", "abort"]:
        assert time.monotonic() < deadline, visible_actions(page)
        time.sleep(0.05)
    page.click('#actions button[data-action="finish"]')
    web.wait_state(lambda s: s.phase == "finished", what="finish")
