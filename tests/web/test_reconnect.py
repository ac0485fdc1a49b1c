"""The live link survives the API restarting: the board shows "reconnecting…" and greys
out while the server is away, then comes back live by itself with fresh data (a race set
up while the API was down appears without a reload)."""

from __future__ import annotations

from playwright.sync_api import expect

from pitwall import contract

from .conftest import screenshot


def test_board_reconnects_after_the_api_restarts(web, open_page):
    with web.director() as d:
        r = d.post("/api/races", json={"mode": "practice", "entrant": "lane",
                                       "name": "Before restart", "entrants": []})
        assert r.status_code == 201, r.text
    home = open_page("/", 360, 800)
    html = home.locator("html")
    banner = home.locator(".live-banner")
    expect(html).to_have_attribute("data-live", "live")
    expect(html).to_have_attribute("data-transport", "websocket")
    expect(home.locator("#race-name")).to_have_text("Before restart")
    expect(banner).to_be_hidden()

    web.api.stop()
    expect(html).to_have_attribute("data-live", "reconnecting")
    expect(banner).to_be_visible()
    expect(banner).to_have_text("Reconnecting…")
    # Stale data is greyed out, never shown as live.
    assert float(home.locator("main.live-data").evaluate(
        "el => getComputedStyle(el).opacity")) < 0.5
    screenshot(home, "home-reconnecting-360x800")

    # While the API is down the race changes (straight over MQTT).
    reply = web.command(contract.Setup(mode="practice", entrant="lane", name="After restart"))
    assert reply.ok, reply.error
    web.api.start()
    web.wait_api()
    expect(html).to_have_attribute("data-live", "live", timeout=15_000)
    expect(banner).to_be_hidden()
    expect(home.locator("#race-name")).to_have_text("After restart")


def test_board_marks_the_lap_service_offline(web, open_page):
    home = open_page("/", 360, 800)
    expect(home.locator("html")).to_have_attribute("data-live", "live")
    web.laps.stop()
    try:
        expect(home.locator("html")).to_have_attribute("data-live", "laps-offline")
        expect(home.locator(".live-banner")).to_contain_text("Lap service offline")
    finally:
        web.laps.start()
    expect(home.locator("html")).to_have_attribute("data-live", "live", timeout=10_000)


# A WebSocket that never opens, as behind a proxy that drops upgrades.
NO_WEBSOCKET = """
window.WebSocket = class {
  constructor() { setTimeout(() => this.onclose && this.onclose({ code: 1006 }), 20); }
  close() {}
};
"""


def test_board_falls_back_to_server_sent_events(web, open_page, browser):
    context = browser.new_context(viewport={"width": 360, "height": 800}, base_url=web.url)
    try:
        context.add_init_script(NO_WEBSOCKET)
        home = context.new_page()
        errors = []
        home.on("pageerror", lambda exc: errors.append(str(exc)))
        home.goto("/")
        html = home.locator("html")
        expect(html).to_have_attribute("data-live", "live")
        expect(html).to_have_attribute("data-transport", "sse")
        reply = web.command(contract.Setup(mode="practice", entrant="lane", name="Over SSE"))
        assert reply.ok, reply.error
        expect(home.locator("#race-name")).to_have_text("Over SSE")
        assert not errors, errors
    finally:
        context.close()
