"""The captive-portal page as an iPhone's portal sheet sees it: no WebSockets, no
localStorage. It shows the live race through the event stream, the board's address, and
the button; tapping it turns this client's probes "online" and shows how to open the
board in the real browser."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import expect

from .conftest import lap_text, screenshot

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Mobile/15E148")
# What the iOS captive-portal sheet lacks: WebSockets and localStorage.
LIKE_THE_SHEET = """
  window.WebSocket = undefined;
  Object.defineProperty(window, "localStorage", {
    get() { throw new DOMException("not in the portal sheet", "SecurityError"); } });
"""
LAP_NS = 812_345_678


def test_the_portal_sheet_shows_the_race_and_hands_off_to_the_board(web, browser):
    context = browser.new_context(viewport={"width": 375, "height": 700}, user_agent=IPHONE,
                                  base_url=web.url)
    context.add_init_script(LIKE_THE_SHEET)
    page = context.new_page()
    errors, sockets = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        with web.client() as c:
            assert c.get("/generate_204", follow_redirects=False).status_code == 302
        with web.director() as d:
            r = d.post("/api/races", json={
                "mode": "laps", "laps": 5, "entrant": "car", "min_lap_ms": 300,
                "name": "Portal test", "entrants": [{"car": 1, "driver": "Ann"}]})
            assert r.status_code == 201, r.text

        page.goto("/portal.html")
        expect(page.locator("#go")).to_be_visible()
        expect(page.locator("#online")).to_be_hidden()
        address = web.url.removeprefix("http://")
        expect(page.locator("#board-address")).to_have_text(address)
        expect(page.locator("#race-name")).to_have_text("Portal test")
        expect(page.locator("html")).to_have_attribute("data-live", "live")

        with web.director() as d:
            assert d.post("/api/races/current/start").status_code == 200
        state = web.wait_state(lambda s: s.phase == "running", what="green")
        t_ns = state.start_ns + LAP_NS
        while time.monotonic_ns() < t_ns:
            time.sleep(0.001)
        web.send_pass(lane=1, t_ns=t_ns, car=1)
        row = page.locator('#standings tr[data-entrant="1"]')
        expect(row.locator("td.laps")).to_have_text("1", timeout=2000)
        expect(row.locator("td.last")).to_have_text(lap_text(LAP_NS))
        screenshot(page, "portal-captive-375x700", full_page=True)

        page.click("#go")
        expect(page).to_have_url(f"{web.url}/portal.html?online=1")
        expect(page.locator("#online")).to_be_visible()
        expect(page.locator("#captive")).to_be_hidden()
        expect(page.locator("#howto")).to_contain_text("Safari")
        expect(page.locator("#howto")).to_contain_text(address)
        expect(page.locator("#board-link")).to_have_attribute("href", f"{web.url}/")
        expect(row.locator("td.laps")).to_have_text("1")  # live again after the reload
        screenshot(page, "portal-online-375x700", full_page=True)
        with httpx.Client(base_url=web.url, timeout=10) as c:  # the same client IP
            r = c.get("/generate_204")
            assert r.status_code == 204 and r.content == b""
            assert c.get("/api/captive").json()["captive"] is False
        assert not sockets, f"the portal page opened WebSockets: {sockets}"
        assert not errors, f"JavaScript errors: {errors}"
    finally:
        context.close()
