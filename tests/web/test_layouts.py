"""Every page a club night uses, at 360 × 780 (a phone) and 1920 × 1080 (a TV), with a
long driver name on the board: no table cell overlapping its neighbour or cut off, no
content spilling out of a cell, no header item on top of another, no sideways scrolling,
and race control's messages never hiding the field being filled in. Screenshots of each
page go to tests/artifacts/."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from pitwall import contract

from .conftest import log_in, screenshot

LONG = "Maximilian Featherstonehaugh-Montgomery"
MS = 1_000_000
SIZES = [(360, 780), (1920, 1080)]

PROBLEMS = """() => {
  const out = [];
  const vw = document.documentElement.clientWidth;
  const visible = (el) => el.getClientRects().length && getComputedStyle(el).visibility !== "hidden";
  const text = (el) => el.textContent.trim().replace(/\\s+/g, " ").slice(0, 40);
  if (document.documentElement.scrollWidth > vw + 1)
    out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
  for (const table of document.querySelectorAll("table")) {
    if (!visible(table) || table.closest(".plot")) continue;  // uPlot's legend is its own
    const name = table.id || table.className;
    const box = table.closest(".scroll") ?? document.body;
    if (box !== document.body && box.scrollWidth > box.clientWidth + 1)
      out.push(`${name}: its box scrolls sideways (${box.scrollWidth} > ${box.clientWidth})`);
    const b = box.getBoundingClientRect();
    const left = Math.max(b.left, 0), right = Math.min(b.right, vw);
    [...table.rows].forEach((row, i) => {
      let prev = null;
      for (const c of [...row.cells].filter(visible)) {
        const r = c.getBoundingClientRect();
        const where = `${name} row ${i} "${text(c)}"`;
        if (r.width < 4) out.push(`${where}: no width`);
        if (r.right > right + 0.5 || r.left < left - 0.5)
          out.push(`${where}: cut (${r.left}-${r.right} outside ${left}-${right})`);
        if (prev && r.left < prev.right - 0.5) out.push(`${where}: overlaps the cell before`);
        if (c.scrollWidth > c.clientWidth + 1 && getComputedStyle(c).overflow !== "hidden")
          out.push(`${where}: content spills (${c.scrollWidth} > ${c.clientWidth})`);
        prev = r;
      }
    });
  }
  for (const header of document.querySelectorAll("header")) {
    const items = [...header.querySelectorAll(":scope > *, :scope > * > *")].filter(visible);
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        if (items[i].contains(items[j]) || items[j].contains(items[i])) continue;
        const a = items[i].getBoundingClientRect(), c = items[j].getBoundingClientRect();
        const overlap = Math.min(a.right, c.right) - Math.max(a.left, c.left) > 1 &&
          Math.min(a.bottom, c.bottom) - Math.max(a.top, c.top) > 1;
        if (overlap) out.push(`header: "${text(items[i])}" overlaps "${text(items[j])}"`);
      }
      const r = items[i].getBoundingClientRect();
      if (r.right > vw + 0.5) out.push(`header: "${text(items[i])}" cut by the screen`);
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def race(web) -> int:
    """A finished three-car race with a long name among the drivers."""
    cars = {1: "Ann", 2: LONG, 3: "Bob"}
    reply = web.command(contract.Setup(
        mode="laps", laps=2, entrant="car", min_lap_ms=200, first_crossing="counts",
        name="Layout night", entrants=[contract.EntrantSpec(car=c, driver=d)
                                       for c, d in cars.items()]))
    assert reply.ok, reply.error
    assert web.command(contract.Start()).ok
    state = web.wait_state(lambda s: s.race_id == reply.race_id and s.phase == "running",
                           what="green")
    t = state.start_ns
    for lap in range(2):
        for car in cars:
            t += 250 * MS
            while time.monotonic_ns() < t:
                time.sleep(0.001)
            web.send_pass(lane=1 + (car - 1) % 2, t_ns=t, car=car)
    web.wait_state(lambda s: s.race_id == reply.race_id and s.phase == "finished",
                   timeout=15, what="finish")
    return reply.race_id


def check(page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    screenshot(page, name, full_page=True)
    problems = page.evaluate(PROBLEMS)
    assert not problems, f"{name}: {problems}"


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize("path", ["/", "/tv.html", "/results.html"])
def test_public_pages_fit(open_page, race, path, width, height):
    page = open_page(path if path != "/results.html" else f"/results.html?race={race}",
                     width, height)
    expect(page.locator("body")).to_contain_text(LONG.split()[0])
    check(page, f"layout{path.replace('/', '-').replace('.html', '') or '-home'}-{width}")


@pytest.mark.parametrize("width, height", SIZES)
def test_the_driver_page_fits(open_page, race, width, height):
    page = open_page("/driver.html", width, height)
    page.fill("#car-number", "2")
    page.click("#car-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text(LONG.split()[0])
    check(page, f"layout-driver-{width}")


@pytest.mark.parametrize("width, height", SIZES)
def test_race_control_fits_and_its_messages_hide_no_field(open_page, race, width, height):
    page = open_page("/control.html", width, height)
    log_in(page, "director")
    page.select_option("#edit-race", str(race))
    expect(page.locator("#passes tr").first).to_contain_text("Ann")
    # A finished race: nothing to press but set-up; the page says so.
    for action in ("start", "yellow", "green", "finish"):
        expect(page.locator(f'#actions button[data-action="{action}"]')).to_be_hidden()
    expect(page.locator("#actions-hint")).to_contain_text("set up the next one")
    # A refusal leaves a message on screen; the set-up button stays reachable.
    page.fill("#setup-form [name=name]", "Empty grid")
    page.evaluate("document.getElementById('entrant-rows').replaceChildren()")
    page.click("#setup-form button[type=submit]")
    expect(page.locator("#feedback .msg.error")).to_contain_text("at least one entrant")
    submit = page.locator("#setup-form button[type=submit]")
    submit.scroll_into_view_if_needed()
    covered = submit.evaluate("""b => { const r = b.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return !(hit === b || b.contains(hit)); }""")
    assert not covered, "a message covers the set-up button"
    check(page, f"layout-control-{width}")
