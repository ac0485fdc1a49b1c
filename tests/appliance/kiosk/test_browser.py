"""Debian's Chromium started with the kiosk unit's exact command line (plus --headless and
--no-sandbox: tests run as root) against a real API, Mosquitto and lap service: the board
renders, shows "Reconnecting…" while the API is away and comes back, and no request went
anywhere but the board (Chromium's NetLog)."""


from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from .support import (
    ARTIFACTS,
    CHROMIUM,
    ERR_NAME_NOT_RESOLVED,
    NetLog,
    devtools_port,
    expect_board,
    make_race,
    page_at,
    prepare,
    retarget,
    running,
    with_flag,
)


@pytest.mark.slow
def test_chromium_with_the_units_command_line_shows_the_board_offline(rendered, broker,
                                                                     tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from ...web.conftest import web_stack

    profile, netlog, log = tmp_path / "profile", tmp_path / "netlog.json", tmp_path / "chr.log"
    argv = with_flag(rendered.chromium, "user-data-dir", str(profile))
    argv = with_flag(argv, "disk-cache-dir", str(tmp_path / "cache"))
    with web_stack(broker, tmp_path / "stack") as stack:
        make_race(stack)
        url = retarget(argv[-1], stack.url)
        board = urlsplit(url).netloc
        # The unit's first step, pointed at this stack, lets the browser start.
        wait = rendered.exec_words("ExecStartPre")
        health = retarget(wait[wait.index("--wait") + 1], stack.url)
        assert prepare("--wait", health, "--timeout", "20").returncode == 0
        # Root can't use Chromium's sandbox, and there is no screen here.
        command = [*argv[:-1], "--headless", "--no-sandbox",
                   "--remote-debugging-port=0", f"--log-net-log={netlog}", url]
        with running(command, log) as browser_proc, sync_playwright() as pw:
            port = devtools_port(profile, browser_proc, log)
            browser = pw.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
            page = page_at(browser, url)
            expect_board(page, expect)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "kiosk-tv.png"))
            # The API goes away: the board says so and greys out; then comes back live.
            stack.api.stop()
            expect(page.locator("html")).to_have_attribute("data-live", "reconnecting")
            expect(page.locator(".live-banner")).to_be_visible()
            stack.api.start()
            stack.wait_api()
            expect(page.locator("html")).to_have_attribute("data-live", "live",
                                                           timeout=20_000)
            browser.new_browser_cdp_session().send("Browser.close")
            browser_proc.wait(30)

    net = NetLog.read(netlog)
    assert any(u == url and e == 0 for u, e in net.urls()), net.urls()
    # Nothing left for the internet: no DNS query, no connection but to the board, no
    # UDP datagram; whatever Chromium tried elsewhere failed inside it, unresolved.
    assert net.dns_lookups == 0
    assert net.tcp_connects and set(net.tcp_connects) == {board}
    assert net.udp_sends == []
    elsewhere = [(u, e) for u, e in net.urls() if urlsplit(u).netloc != board]
    assert all(e == ERR_NAME_NOT_RESOLVED for _, e in elsewhere), elsewhere

