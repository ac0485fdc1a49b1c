"""The maintainer's page in real Chromium: the director's login, the box's health as the
health topic carries it (an under-voltage Pi's readings, published as ``pitwall health``
publishes them), the services, the last hour's plots, a backup downloaded and restored,
a damaged backup refused, and every table readable at 360 × 780 and 1920 × 1080."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from pitwall import contract
from pitwall.backup import archive

from .conftest import log_in as director_login
from .test_club_pages import LAYOUT_PROBLEMS, screenshot

UNDER_VOLTAGE = contract.Throttle(
    raw=0x50005, under_voltage=True, freq_capped=False, throttled=True,
    soft_temp_limit=False, under_voltage_occurred=True, freq_capped_occurred=False,
    throttled_occurred=True, soft_temp_limit_occurred=False)


def reading(at: float, temp: float, warnings=()) -> contract.HealthState:
    return contract.HealthState(
        at=at, version="9.9.9-test", uptime_s=3600.0, cpu_temp_c=temp, cpu_percent=12.5,
        load=[0.5, 0.4, 0.3], mem_total_mib=3800.0, mem_available_mib=2900.0,
        disk_total_mib=28000.0, disk_free_mib=21000.0, disk_write_kib_s=4.0,
        throttle=UNDER_VOLTAGE,
        services=[contract.ServiceHealth(name="laps", mqtt="online", systemd="active",
                                         restarts=2, since="Mon 2026-12-07 01:00:00 UTC"),
                  contract.ServiceHealth(name="lane1", mqtt="offline", systemd="failed",
                                         restarts=5)],
        warnings=list(warnings))


@pytest.fixture(scope="module")
def health(web):
    """Three readings a minute apart, the last with the Pi short of power."""
    now = time.time()
    for i, temp in enumerate((61.0, 64.5, 71.2)):
        warnings = [] if i < 2 else [contract.HealthWarning(
            check="under_voltage", level="critical",
            message="Under-voltage: the power supply is too weak")]
        web.probe.publish(web.probe.topics.health_state,
                          reading(now - 120 + 60 * i, temp, warnings), retain=True)
        time.sleep(0.1)
    yield
    web.probe.publish(web.probe.topics.health_state, b"", retain=True)


def log_in(page) -> None:
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#maintain")).to_be_hidden()
    director_login(page, "maintain")


def test_the_health_of_a_pi_short_of_power_is_impossible_to_miss(open_page, health):
    page = open_page("/maintain.html", 1280, 1000)
    log_in(page)
    power = page.locator('.tile[data-tile="power"]')
    expect(power).to_have_attribute("data-level", "critical")
    expect(power).to_contain_text("Under-voltage")
    expect(page.locator("#t-temp")).to_have_text("71.2 °C")
    expect(page.locator("#t-version")).to_have_text("9.9.9-test")
    expect(page.locator("#warnings li.critical")).to_contain_text("power supply is too weak")
    laps = page.locator("#services tr", has_text="laps")
    expect(laps).to_contain_text("online")
    expect(laps).to_contain_text("2")
    expect(page.locator("#services tr", has_text="lane1")).to_contain_text("failed")
    # The last hour: uPlot draws a canvas per plot from the three readings.
    expect(page.locator("#plot-temp canvas").first).to_be_visible()
    expect(page.locator("#clients tr").first).to_be_visible()
    screenshot(page, "maintain-1280")


def test_a_backup_downloads_and_restores_and_a_damaged_one_is_refused(open_page, web,
                                                                    health, tmp_path):
    page = open_page("/maintain.html", 1280, 1000)
    log_in(page)
    with page.expect_download() as got:
        page.click("#backup")
    path = tmp_path / got.value.suggested_filename
    got.value.save_as(path)
    assert path.name.startswith("pitwall-backup-")
    data = path.read_bytes()
    assert archive.manifest_of(data)["format"] == "pitwall-backup"
    expect(page.locator("#backup-status")).to_contain_text("Backup downloaded")

    page.on("dialog", lambda dialog: dialog.accept())
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(data[: len(data) // 2])
    page.set_input_files("#restore-file", str(damaged))
    page.click("#restore")
    error = page.locator("#restore-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("damaged or incomplete")
    expect(error).to_contain_text("nothing was changed")
    assert error.inner_text().lower().count("nothing was changed") == 1

    page.set_input_files("#restore-file", str(path))
    page.click("#restore")
    expect(page.locator("#restore-status")).to_contain_text("Restored", timeout=20_000)
    expect(error).to_be_hidden()


@pytest.mark.parametrize("width, height", [(360, 780), (1920, 1080)])
def test_the_page_is_readable_from_a_phone_to_a_tv(open_page, health, width, height):
    page = open_page("/maintain.html", width, height)
    log_in(page)
    expect(page.locator("#t-temp")).to_have_text("71.2 °C")
    expect(page.locator("#plot-temp canvas").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, f"maintain-{width}x{height}", full_page=True)
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert not problems, problems
    # The tiles sit side by side or wrap; none is cut by the screen.
    boxes = page.eval_on_selector_all(".tile", "els => els.map(e => e.getBoundingClientRect().right)")
    assert boxes and max(boxes) <= width + 0.5
