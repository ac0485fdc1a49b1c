"""The PWA: the manifest and its icons are served; the service worker registers in a
secure context (localhost) and never caches anything under /api/."""

from __future__ import annotations

from playwright.sync_api import expect


def test_manifest_icons_and_service_worker_without_api_caching(web, open_page):
    with web.client() as c:
        manifest = c.get("/manifest.webmanifest").json()
        purposes = {icon["purpose"] for icon in manifest["icons"]}
        assert {"any", "maskable"} <= purposes
        for icon in manifest["icons"]:
            r = c.get(icon["src"])
            assert r.status_code == 200 and r.content, icon["src"]
            if icon["type"] == "image/png":
                assert r.content.startswith(b"\x89PNG"), icon["src"]

    page = open_page("/", 360, 800)
    expect(page.locator("html")).to_have_attribute("data-live", "live")
    assert page.evaluate("window.isSecureContext")
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{web.url}/"
    page.reload()  # now under the worker's control: pages and /api/ go through it
    expect(page.locator("html")).to_have_attribute("data-live", "live")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    cached = page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys()) {
            for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
        }
        return urls;
    }""")
    assert f"{web.url}/js/live.js" in cached
    assert not [u for u in cached if "/api/" in u], cached
