"""Club nights: a championship created and filled from its page (points, the fastest-lap
bonus and a dropped round), the track records and personal bests, a driver's history with
its trend plot (also for one race and for none), and every table readable at 360 × 780
and 1920 × 1080: no cell overlapping its neighbour, none cut off, no sideways scrolling.

Three real races run through the lap service (set up and started over MQTT, passes with
chosen sensor stamps), so every number on the pages comes from the stored race logs."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from pitwall import contract

from .conftest import LANES, PIN, lap_text, screenshot

LONG = "Cleopatra Featherstonehaugh-Montgomery"  # a name that must wrap, never vanish
MS = 1_000_000
# Per race: its class and each car's (driver, lap times in ns). Car 1 wins both GT races;
# in the second, Bob (car 2) sets the fastest lap (and the GT track record) on lap 2.
RACES = {
    "GT one": ("GT", {1: ("Ann", [520 * MS, 480 * MS]), 2: ("Bob", [530 * MS, 500 * MS]),
                      3: (LONG, [560 * MS, 540 * MS])}),
    "GT two": ("GT", {1: ("Ann", [500 * MS, 490 * MS]), 2: ("Bob", [530 * MS, 470 * MS]),
                      3: (LONG, [550 * MS, 530 * MS])}),
    "Open solo": ("Open", {4: ("Dan", [600 * MS, 580 * MS])}),
}
SIZES = [(360, 780), (1920, 1080)]


def run_race(web, name: str) -> int:
    """Set up, start and drive one two-lap car race to the flag; its race id."""
    car_class, cars = RACES[name]
    reply = web.command(contract.Setup(
        mode="laps", laps=2, entrant="car", min_lap_ms=300, first_crossing="counts",
        name=name, car_class=car_class,
        entrants=[contract.EntrantSpec(car=car, driver=driver)
                  for car, (driver, _) in cars.items()]))
    assert reply.ok, reply.error
    race_id = reply.race_id
    reply = web.command(contract.Start())
    assert reply.ok, reply.error
    state = web.wait_state(lambda s: s.race_id == race_id and s.phase == "running",
                           what=f"green for {name}")
    crossings = []
    for car, (_, laps) in cars.items():
        t = state.start_ns
        for lap_ns in laps:
            t += lap_ns
            crossings.append((t, car))
    for t_ns, car in sorted(crossings):
        while time.monotonic_ns() < t_ns:  # a pass is published once its edge has happened
            time.sleep(0.001)
        web.send_pass(lane=1 + (car - 1) % LANES, t_ns=t_ns, car=car)
    web.wait_state(lambda s: s.race_id == race_id and s.phase == "finished",
                   what=f"{name} finished")
    return race_id


@pytest.fixture(scope="module")
def races(web) -> dict[str, int]:
    return {name: run_race(web, name) for name in RACES}


# Every visible table of the page's own (.list) tables: in each row, no cell overlaps the
# next, none reaches past its scroll box or the viewport, none has content spilling out,
# and no box needs sideways scrolling. The page itself never scrolls sideways.
LAYOUT_PROBLEMS = """() => {
  const out = [];
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1)
    out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
  const text = (el) => el.textContent.trim().replace(/\\s+/g, " ").slice(0, 40);
  for (const table of document.querySelectorAll("table.list")) {
    if (!table.getClientRects().length) continue;  // hidden
    const box = table.closest(".scroll") ?? document.body;
    if (box.scrollWidth > box.clientWidth + 1)
      out.push(`#${table.id}: its box scrolls sideways (${box.scrollWidth} > ${box.clientWidth})`);
    const b = box.getBoundingClientRect();
    const left = Math.max(b.left, 0), right = Math.min(b.right, vw);
    [...table.rows].forEach((row, i) => {
      const cells = [...row.cells].filter((c) => c.getClientRects().length);
      let prev = null;
      for (const c of cells) {
        const r = c.getBoundingClientRect();
        const where = `#${table.id} row ${i} "${text(c)}"`;
        if (r.width < 4) out.push(`${where}: no width`);
        if (r.right > right + 0.5 || r.left < left - 0.5)
          out.push(`${where}: cut (${r.left}–${r.right} outside ${left}–${right})`);
        if (prev && r.left < prev.right - 0.5) out.push(`${where}: overlaps the cell before`);
        if (c.scrollWidth > c.clientWidth + 1)
          out.push(`${where}: content spills (${c.scrollWidth} > ${c.clientWidth})`);
        for (const a of c.querySelectorAll("a, span")) {
          const ar = a.getBoundingClientRect();
          if (ar.width && (ar.right > r.right + 0.5 || ar.left < r.left - 0.5))
            out.push(`${where}: "${text(a)}" sticks out of its cell`);
        }
        prev = r;
      }
    });
  }
  for (const canvas of document.querySelectorAll(".plot canvas")) {
    const r = canvas.getBoundingClientRect();
    if (r.right > vw + 0.5) out.push(`plot reaches past the screen (${r.right} > ${vw})`);
  }
  return out;
}"""


def assert_layout(page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    screenshot(page, name, full_page=True)
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert not problems, f"{name}: {problems}"


def standings(page) -> list[list[str]]:
    """The visible cells of every standings row, as text."""
    return page.eval_on_selector_all("#standings tr", """rows => rows.map(r =>
        [...r.cells].filter(c => c.getClientRects().length)
          .map(c => c.innerText.trim().replace(/\\s+/g, " ")))""")


def test_championship_made_and_filled_from_its_page(web, open_page, races):
    page = open_page("/championship.html", 1280, 1000)
    expect(page.locator("#seasons")).to_contain_text("No championships yet")
    expect(page.locator("#create")).to_be_hidden()
    page.click("#login summary")
    page.fill("#pin", "0000")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-status")).to_contain_text("Login failed")
    page.fill("#pin", PIN)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#create")).to_be_visible()
    expect(page.locator("#login")).to_be_hidden()

    form = page.locator("#create-form")
    expect(form.locator("input[name=points]")).to_have_value("25,18,15,12,10,8,6,4,2,1")
    form.locator("input[name=name]").fill("Winter cup")
    form.locator("input[name=points]").fill("10, 6, x")
    form.locator("button[type=submit]").click()
    expect(page.locator("#create-status")).to_contain_text("whole numbers")
    form.locator("input[name=points]").fill("10,6,4")
    form.locator("input[name=fastest_lap]").fill("1")
    form.locator("input[name=drop_worst]").fill("1")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/championship\.html\?id=\d+$"))
    season_id = int(page.url.rsplit("=", 1)[1])
    expect(page.locator("#title")).to_have_text("Winter cup")
    expect(page.locator("#rules")).to_contain_text("Points 10, 6, 4 · fastest lap +1 · worst 1 round dropped")
    expect(page.locator("#manage")).to_be_visible()
    expect(page.locator("#standings")).to_contain_text("No rounds yet")

    # The picker offers the finished races; two of them become rounds 1 and 2.
    pick = page.locator("#round-pick")
    expect(pick.locator(f'option[value="race:{races["GT one"]}"]')).to_have_count(1)
    for no, name in enumerate(["GT one", "GT two"], 1):
        pick.select_option(f"race:{races[name]}")
        page.click("#round-form button[type=submit]")
        expect(page.locator("#round-status")).to_have_text(f"Added round {no}: {name}")
        # A round already in is not offered again.
        expect(pick.locator(f'option[value="race:{races[name]}"]')).to_have_count(0)

    # A refusal shows the API's own reason: the same race a second time.
    page.evaluate(f"""() => {{ const o = new Option("again", "race:{races['GT one']}");
        document.getElementById("round-pick").add(o); o.selected = true; }}""")
    page.click("#round-form button[type=submit]")
    expect(page.locator("#round-status")).to_have_text(
        f"Could not add the round: race {races['GT one']} is a round already (409)")
    expect(page.locator("#round-status")).to_have_class("status error")

    # 10-6-4 and 1 for the fastest lap; each driver's worst round dropped.
    # Ann: 11 (win and fastest) + 10, drops the 10. Bob: 6, then 6 + 1 = 7, drops the 6.
    rows = page.locator("#standings tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-driver", "Ann")
    assert standings(page)[:2] == [["1", "Ann", "11", "11", "10", "2"],
                                   ["2", "Bob", "7", "6", "7", "0"]]
    assert standings(page)[2][:3] == ["3", LONG, "4"]
    assert rows.nth(0).locator("td.round").nth(1).evaluate(
        "td => td.classList.contains('dropped') && !!td.querySelector('s')")
    assert rows.nth(1).locator("td.round.dropped").count() == 1
    assert "line-through" in rows.nth(1).locator("td.round.dropped").evaluate(
        "td => getComputedStyle(td).textDecorationLine")
    head = page.locator("#standings-head th.round a")
    expect(head).to_have_count(2)
    assert head.nth(0).get_attribute("href") == f"/results.html?race={races['GT one']}"
    links = page.locator("#rounds li a")
    expect(links).to_have_text(["GT one", "GT two"])
    assert links.nth(1).get_attribute("href") == f"/results.html?race={races['GT two']}"
    expect(page.locator("#rounds li").nth(0)).to_contain_text("finished")
    assert page.locator("#standings a", has_text="Bob").get_attribute(
        "href") == "/history.html?name=Bob"

    csv = page.locator("#csv")
    assert csv.get_attribute("href") == f"/api/championships/{season_id}/standings.csv"
    body = page.request.get(f"{web.url}/api/championships/{season_id}/standings.csv").text()
    assert body.splitlines()[1] == "1,Ann,11,2,11,(10)"
    screenshot(page, "championship-1280", full_page=True)

    # Remove round 2, then add it back.
    page.click('#rounds button.remove[data-no="2"]')
    expect(page.locator("#round-status")).to_have_text("Removed round 2 (GT two)")
    expect(page.locator("#rounds li")).to_have_count(1)
    expect(pick.locator(f'option[value="race:{races["GT two"]}"]')).to_have_count(1)
    pick.select_option(f"race:{races['GT two']}")
    page.click("#round-form button[type=submit]")
    expect(page.locator("#round-status")).to_have_text("Added round 2: GT two")
    expect(page.locator("#standings tr").nth(0)).to_contain_text("11")

    # Anyone else sees the standings but none of the director's tools.
    guest = open_page(f"/championship.html?id={season_id}", 1280, 900)
    expect(guest.locator("#standings tr")).to_have_count(3)
    expect(guest.locator("#login")).to_be_visible()
    expect(guest.locator("#manage")).to_be_hidden()
    expect(guest.locator("#rounds button")).to_have_count(0)
    listing = open_page("/championship.html", 1280, 900)
    expect(listing.locator(f'#seasons tr[data-id="{season_id}"]')).to_contain_text("Winter cup")
    expect(listing.locator(f'#seasons tr[data-id="{season_id}"] td.num')).to_have_text("2")

    for width, height in SIZES:
        view = open_page(f"/championship.html?id={season_id}", width, height)
        expect(view.locator("#standings tr")).to_have_count(3)
        assert_layout(view, f"championship-{width}x{height}")
    missing = open_page("/championship.html?id=999", 1280, 900)
    expect(missing.locator("#error")).to_have_text("Could not load championship 999: "
                                                   "no championship 999 (404)")


def test_records_show_the_track_record_and_personal_bests(web, open_page, races):
    page = open_page("/records.html", 1280, 900)
    track = page.locator("#track tr")
    expect(track).to_have_count(2)
    gt = page.locator('#track tr[data-class="GT"]')
    expect(gt.locator("td.lap")).to_have_text(lap_text(470 * MS))
    expect(gt).to_contain_text("Bob")
    assert gt.locator("td.race a").get_attribute("href") == f"/results.html?race={races['GT two']}"
    expect(page.locator('#track tr[data-class="Open"] td.lap')).to_have_text(lap_text(580 * MS))
    personal = page.locator("#personal tr")
    expect(personal).to_have_count(4)
    best = {row.get_attribute("data-driver"): row.locator("td.lap").inner_text()
            for row in personal.all()}
    assert best == {"Ann": lap_text(480 * MS), "Bob": lap_text(470 * MS),
                    LONG: lap_text(530 * MS), "Dan": lap_text(580 * MS)}
    assert page.locator('#personal tr[data-driver="Bob"] td.lap.best').count() == 1
    assert page.locator(f'#personal tr[data-driver="{LONG}"] a.driver').get_attribute(
        "href") == "/history.html?name=Cleopatra%20Featherstonehaugh-Montgomery"
    screenshot(page, "records-1280", full_page=True)

    # The class filter narrows both tables and lands in the address.
    page.select_option("#car-class", "=Open")
    expect(page).to_have_url(f"{web.url}/records.html?car_class=Open")
    expect(page.locator("#track tr")).to_have_count(1)
    expect(page.locator("#personal tr")).to_have_count(1)
    expect(page.locator("#personal tr")).to_have_attribute("data-driver", "Dan")
    page.select_option("#car-class", "*")
    expect(page.locator("#personal tr")).to_have_count(4)

    for width, height in SIZES:
        view = open_page("/records.html", width, height)
        expect(view.locator("#personal tr")).to_have_count(4)
        assert_layout(view, f"records-{width}x{height}")


def test_driver_history_lists_races_and_plots_the_trend(web, open_page, races):
    page = open_page("/history.html?name=Ann", 1280, 1000)
    rows = page.locator("#races tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#title")).to_have_text("Ann")
    expect(page.locator("#best")).to_have_text(lap_text(480 * MS))
    expect(page.locator("#count")).to_have_text("2")
    expect(page.locator("#wins")).to_have_text("2")
    # Newest first: GT two, then GT one.
    expect(rows.locator("td.race a").first).to_have_text("GT two")
    assert rows.nth(0).locator("td.race a").first.get_attribute(
        "href") == f"/results.html?race={races['GT two']}"
    expect(rows.nth(1).locator("td.pos")).to_have_text("1/3")
    expect(rows.nth(1).locator("td.laps")).to_have_text("2")
    expect(rows.nth(1).locator("td.lap")).to_have_text(lap_text(480 * MS))
    expect(rows.nth(1).locator("td.lap")).to_have_class("num lap best")
    expect(rows.nth(1).locator("td.avg")).to_have_text(lap_text(500 * MS))
    expect(rows.nth(0).locator("td.avg")).to_have_text(lap_text(495 * MS))
    expect(page.locator("#plot canvas")).to_have_count(1)
    expect(page.locator("#plot .u-legend")).to_contain_text("Average")
    screenshot(page, "history-1280", full_page=True)

    # One race: still a plot (a single point each), no error. None: said, not drawn.
    solo = open_page("/history.html?name=Dan", 1280, 900)
    expect(solo.locator("#races tr")).to_have_count(1)
    expect(solo.locator("#plot canvas")).to_have_count(1)
    nobody = open_page("/history.html?name=Nobody", 1280, 900)
    expect(nobody.locator("#races")).to_contain_text("No races yet")
    expect(nobody.locator("#plot")).to_have_text("No races to plot")
    expect(nobody.locator("#plot canvas")).to_have_count(0)
    expect(nobody.locator("#best")).to_have_text("–")
    # No name: a picker, which leads to the page of the name typed.
    pick = open_page("/history.html", 360, 780)
    expect(pick.locator("#driver")).to_be_hidden()
    pick.fill("#name", "Bob")
    pick.click("#pick button[type=submit]")
    expect(pick.locator("#races tr")).to_have_count(2)
    expect(pick).to_have_url(f"{web.url}/history.html?name=Bob")

    for width, height in SIZES:
        for name in ("Ann", LONG):
            view = open_page(f"/history.html?name={name}", width, height)
            expect(view.locator("#races tr")).to_have_count(2)
            expect(view.locator("#plot canvas")).to_have_count(1)
            slug = name.split()[0].lower()
            assert_layout(view, f"history-{slug}-{width}x{height}")
