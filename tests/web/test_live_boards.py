"""The TV board and a driver's phone follow a race within a second, showing exactly the
lap times the passes' sensor stamps give; the results page then shows the same laps."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from .conftest import lap_text, screenshot

# Chosen lap times (ns) per car: exact values the pages must show to the millisecond.
LAPS = {1: [812_345_678, 790_123_456, 801_987_654],
        2: [850_111_222, 845_333_444, 839_555_666]}
LIVE_WITHIN_MS = 1000


def crossings(start_ns: int) -> list[tuple[int, int, int, int]]:
    """(t_ns, car, lap number, lap_ns) of every crossing, in time order."""
    out = []
    for car, laps in LAPS.items():
        t = start_ns
        for n, lap_ns in enumerate(laps, 1):
            t += lap_ns
            out.append((t, car, n, lap_ns))
    return sorted(out)


def test_tv_board_and_driver_view_follow_the_race(web, open_page):
    with web.director() as d:
        r = d.post("/api/races", json={
            "mode": "laps", "laps": 3, "entrant": "car", "min_lap_ms": 300,
            "first_crossing": "counts", "name": "Board test",
            "entrants": [{"car": 1, "driver": "Ann"}, {"car": 2, "driver": "Bob"}]})
        assert r.status_code == 201, r.text
        race_id = r.json()["race_id"]

    tv = open_page("/tv.html", 1920, 1080)
    driver = open_page("/driver.html", 360, 800)
    expect(tv.locator("html")).to_have_attribute("data-live", "live")
    expect(tv.locator("#race-name")).to_have_text("Board test")
    expect(tv.locator("#wifi")).to_be_visible()
    expect(tv.locator("#wifi-ssid")).to_have_text("Race Net")
    # The driver picks car 1 once; the choice is remembered across a reload.
    driver.fill("#car-number", "1")
    driver.click("#car-form button[type=submit]")
    driver.reload()
    expect(driver.locator("#mine")).to_be_visible()
    expect(driver.locator("#who")).to_contain_text("Ann")

    with web.director() as d:
        assert d.post("/api/races/current/start").status_code == 200
    # The start lights light up on the TV while the reds count down.
    expect(tv.locator("#lights-overlay .lamp.on").first).to_be_visible(timeout=3000)
    state = web.wait_state(lambda s: s.race_id == race_id and s.phase == "running",
                           what="green")

    for t_ns, car, n, lap_ns in crossings(state.start_ns):
        while time.monotonic_ns() < t_ns:  # a pass is published once its edge has happened
            time.sleep(0.001)
        web.send_pass(lane=car, t_ns=t_ns, car=car)
        sent = time.monotonic()
        row = tv.locator(f'#standings tr[data-entrant="{car}"]')
        expect(row.locator("td.laps")).to_have_text(str(n), timeout=LIVE_WITHIN_MS)
        expect(row.locator("td.last")).to_have_text(lap_text(lap_ns), timeout=_left(sent))
        if car == 1:
            expect(driver.locator("#laps")).to_have_text(str(n), timeout=_left(sent))
            expect(driver.locator("#last")).to_have_text(lap_text(lap_ns), timeout=_left(sent))
            expect(driver.locator("#best")).to_have_text(lap_text(min(LAPS[1][:n])),
                                                         timeout=_left(sent))

    web.wait_state(lambda s: s.race_id == race_id and s.phase == "finished", what="finish")
    fastest = min(min(v) for v in LAPS.values())
    expect(tv.locator("td.race-best")).to_have_text(lap_text(fastest))
    expect(tv.locator("#standings tr").first.locator("td.who")).to_contain_text("Ann")
    expect(tv.locator("#clock-main")).to_have_text("Finish")
    expect(driver.locator("#pos")).to_have_text("P1")
    screenshot(tv, "tv-1920x1080")
    screenshot(driver, "driver-360x800")
    home = open_page("/", 360, 800)
    expect(home.locator("#standings tr")).to_have_count(2)
    screenshot(home, "home-360x800")

    # Results: the classification and every lap, to the millisecond, plus the plot.
    results = open_page(f"/results.html?race={race_id}", 1280, 1400)
    expect(results.locator("#standings tr").first).to_contain_text("Ann")
    expect(results.locator("#plot canvas")).to_have_count(1)
    grid = results.locator("#laps-grid tbody tr")
    expect(grid).to_have_count(3)
    for n in range(3):
        cells = grid.nth(n).locator("td")
        expect(cells).to_have_text([lap_text(LAPS[1][n]), lap_text(LAPS[2][n])])
    assert results.get_attribute("#csv", "href") == f"/api/races/{race_id}/results.csv"
    laps_csv = results.locator("#laps-csv")
    expect(laps_csv).to_be_visible()
    assert laps_csv.get_attribute("href") == f"/api/races/{race_id}/laps.csv"
    assert results.request.get(f"{results.url.split('/results')[0]}/api/races/{race_id}"
                               f"/laps.csv").text().count("\n") == 1 + 3 * 2
    screenshot(results, "results-1280")


def _left(sent: float) -> float:
    """What is left of the one-second budget since the pass was sent, in ms."""
    return max(1.0, LIVE_WITHIN_MS - (time.monotonic() - sent) * 1000)
