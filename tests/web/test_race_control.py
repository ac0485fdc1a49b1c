"""The race director's flow through the UI: log in (a wrong PIN is refused with the API's
reason), add a driver, set up a lane race, start the lights, yellow, green, reinstate a
suspect crossing, finish; a refused command shows the lap service's reason, and the
buttons follow the phase."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from pitwall import contract

from .conftest import LANES, lap_text, log_in, screenshot


def test_director_runs_a_race_from_the_control_page(web, open_page):
    page = open_page("/control.html", 1280, 1000)
    feedback = page.locator("#feedback")

    page.fill("#pin", "0000")
    page.click("#login-form button[type=submit]")
    expect(feedback).to_contain_text("Login failed (401)")
    expect(page.locator("#director")).to_be_hidden()
    page.fill("#pin", "4321")
    page.click("#login-form button[type=submit]")
    expect(feedback).to_contain_text("Logged in")
    expect(page.locator("#director")).to_be_visible()

    page.fill("#driver-form input[name=name]", "Cleo")
    page.click("#driver-form button[type=submit]")
    expect(feedback).to_contain_text("Added driver Cleo")
    expect(page.locator("#drivers")).to_contain_text("Cleo")

    # Set up: a 3-lap lane race; the entrant rows come from the track's lanes.
    form = page.locator("#setup-form")
    form.locator("input[name=name]").fill("UI race")
    form.locator("select[name=mode]").select_option("laps")
    form.locator("input[name=laps]").fill("3")
    form.locator("select[name=entrant]").select_option("lane")
    form.locator("input[name=min_lap_s]").fill("0.3")
    page.click("#fill-entrants")
    expect(page.locator("#entrant-rows")).to_have_attribute("aria-busy", "false")
    rows = page.locator("#entrant-rows tr")
    expect(rows).to_have_count(LANES)
    rows.nth(0).locator(".entrant-driver").fill("Cleo")
    rows.nth(1).locator(".entrant-driver").fill("Dan")
    form.locator("button[type=submit]").click()
    expect(feedback).to_contain_text("is set up")
    state = web.wait_state(lambda s: s.name == "UI race" and s.phase == "ready", what="set up")
    assert [(e.entrant, e.driver) for e in state.standings] in ([], [(1, "Cleo"), (2, "Dan")])
    expect(page.locator("#race-title")).to_contain_text("UI race")

    page.click("button[data-action=start]")
    expect(feedback).to_contain_text("Start lights: done")
    expect(page.locator("#phase")).to_have_text("Racing", timeout=10_000)
    start_ns = web.state().start_ns

    page.click("button[data-action=yellow]")
    expect(page.locator("#flag")).to_have_attribute("data-flag", "yellow")
    page.click("button[data-action=green]")
    expect(page.locator("#flag")).to_have_attribute("data-flag", "green")

    # A lap on lane 1, then a crossing 100 ms later: suspect (minimum lap 300 ms).
    first = start_ns + 1_234_567_891
    while time.monotonic_ns() < first + 100_000_000:
        time.sleep(0.005)
    web.send_pass(1, first)
    web.send_pass(1, first + 100_000_000)
    suspect = page.locator('#passes tr[data-kind="suspect"]')
    expect(suspect).to_have_count(1, timeout=5000)
    pass_id = suspect.get_attribute("data-pass")
    suspect.locator("button[data-edit=reinstate]").click()
    expect(feedback).to_contain_text(f"Reinstate crossing #{pass_id}: done, race re-scored")
    expect(page.locator(f'#passes tr[data-pass="{pass_id}"]')).to_have_attribute(
        "data-kind", "lap")
    lane1 = page.locator('#standings tr[data-entrant="1"]')
    expect(lane1.locator("td.laps")).to_have_text("2")
    expect(lane1.locator("td.last")).to_have_text(lap_text(100_000_000))
    screenshot(page, "control-1280", full_page=True)

    # A command that does not fit: the lap service's reason reaches the director (a
    # second set-up while this race runs).
    form.locator("button[type=submit]").click()
    expect(feedback.locator(".error")).to_contain_text("Set up race failed (409)")
    expect(feedback.locator(".error")).to_contain_text("finish or abort it first")
    reason = feedback.locator(".error").first.inner_text().split(": ", 1)[1]

    page.click("button[data-action=finish]")
    expect(page.locator("#phase")).to_have_text("Finished")
    expect(page.locator("#flag")).to_have_attribute("data-flag", "chequered")
    # The buttons follow the phase: nothing to press on a finished race.
    expect(page.locator("#actions button[data-action=green]")).to_be_hidden()
    expect(page.locator("#actions button[data-action=start]")).to_be_hidden()
    expect(page.locator("#actions-hint")).to_contain_text("set up the next one")
    assert len(reason) > 5, reason


def test_refused_passes_show_in_race_control(web, open_page):
    """A pass from a lane the track does not have (it has LANES) is refused by the lap
    service; race control lists it, with the reason, from GET /api/races/{id}/refused."""
    reply = web.command(contract.Setup(mode="practice", entrant="lane", name="Refusals"))
    assert reply.ok, reply.error
    web.wait_state(lambda s: s.race_id == reply.race_id, what="set up")
    web.send_pass(7, time.monotonic_ns())
    web.wait_state(lambda s: s.refused == 1, what="the refused pass counted")

    page = open_page("/control.html", 1280, 900)
    log_in(page, "director")
    refused = page.locator("#refused")
    expect(refused).to_be_visible()
    expect(page.locator("#refused-count")).to_have_text("(1)")
    row = page.locator("#refused-rows tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"lane 7 is not a lane of race {reply.race_id}")
    with web.client() as c:
        listed = c.get(f"/api/races/{reply.race_id}/refused").json()
    assert [(r["lane"], r["source"]) for r in listed] == [(7, "sim")]

    # The next race starts with none.
    reply = web.command(contract.Setup(mode="practice", entrant="lane", name="Clean"))
    assert reply.ok, reply.error
    expect(refused).to_be_hidden()
