"""The director's login in real Chromium on plain HTTP under the board's name (not a
secure context, as on a phone on the race Wi-Fi: no WebCrypto there): the PIN never
leaves the page, each write is signed, and a sniffed write cannot be replayed."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import expect

from .conftest import CHROMIUM, CHROMIUM_ARGS, PIN


def test_login_over_plain_http_sends_no_pin_and_signs_each_write(web, browser):
    board = web.settings.hotspot.board_host
    port = urlsplit(web.url).port
    sent, errors = [], []
    # A browser of its own (the session's Playwright) that resolves the board's name.
    named = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {board} 127.0.0.1"])
    try:
        page = named.new_page(base_url=f"http://{board}:{port}")
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda r: sent.append(r))
        page.goto("/control.html")
        assert page.evaluate("window.isSecureContext") is False
        assert page.evaluate("typeof crypto.subtle") == "undefined"
        page.fill("#pin", "0000")
        page.click("#login-form button[type=submit]")
        expect(page.locator("body")).to_contain_text("wrong PIN")
        page.fill("#pin", PIN)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#director")).to_be_visible()
        created = page.evaluate("""async () => {
            const { api } = await import("/js/api.js");
            return await api("/api/drivers", { method: "POST", body: { name: "Zed" } });
        }""")
        assert created["name"] == "Zed"
    finally:
        named.close()
    assert not errors, errors
    for request in sent:
        raw = json.dumps(request.headers) + (request.post_data or "")
        assert PIN not in raw, (request.url, raw)
        assert "Bearer" not in raw and "pitwall_director" not in raw, (request.url, raw)
    write = next(r for r in sent if r.method == "POST" and r.url.endswith("/api/drivers"))
    assert write.headers["authorization"].startswith("Pitwall-Sig ")
    # What a listener on the Wi-Fi saw, sent again: refused, and nothing is added twice.
    replay = httpx.post(f"{web.url}/api/drivers", content=write.post_data,
                        headers={"Authorization": write.headers["authorization"],
                                 "Content-Type": "application/json"})
    assert replay.status_code == 401, replay.text
    names = [d["name"] for d in httpx.get(f"{web.url}/api/drivers").json()]
    assert names.count("Zed") == 1
