"""Browser tests of the web app: the real stack (the session's Mosquitto, `pitwall laps`
and `pitwall api` as processes) driven by Debian's headless Chromium through Playwright.

One stack per test module; each test opens its own browser context (fresh storage) and
leaves no race running. Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest
from pitwall import contract
from pitwall.dev.broker import free_port
from pitwall.settings import Settings

from ..conftest import make_settings
from ..support import MqttProbe, ServiceProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PIN = "4321"
LANES = 2

if not CHROMIUM.exists():
    pytest.skip("browser tests need Debian's Chromium at /usr/bin/chromium "
                "(apt-get install chromium)", allow_module_level=True)


@dataclass
class WebStack:
    settings: Settings
    config: Path
    probe: MqttProbe
    laps: ServiceProcess
    api: ServiceProcess
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    @contextlib.contextmanager
    def director(self) -> Iterator[httpx.Client]:
        with self.client() as client:
            r = client.post("/api/auth/login", json={"pin": PIN})
            assert r.status_code == 200, r.text
            yield client  # the login cookie rides along

    def wait_api(self, timeout: float = 15) -> None:
        """Until the API answers and hears the lap service."""
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while True:
                try:
                    if c.get("/api/health").json().get("laps_online"):
                        return
                except httpx.HTTPError:
                    pass
                assert self.api.alive(), f"pitwall api exited:\n{self.api.output()[-3000:]}"
                assert time.monotonic() < deadline, "the API never came up with the lap service"
                time.sleep(0.05)

    def state(self) -> contract.RaceState | None:
        return self.probe.last_state()

    def wait_state(self, predicate, timeout: float = 10, what: str = "race state"):
        return self.probe.wait_for(lambda: (s := self.state()) and predicate(s) and s,
                                   timeout=timeout, what=what)

    def send_pass(self, lane: int, t_ns: int, car: int | None = None) -> None:
        self.probe.publish(self.probe.topics.lane_pass(lane),
                           contract.Pass(lane=lane, car=car, t_ns=t_ns, source="sim"))

    def command(self, cmd: msgspec.Struct) -> contract.Reply:
        """A race command straight over MQTT (for when the API is down)."""
        cmd = msgspec.structs.replace(cmd, id=uuid.uuid4().hex[:12])
        self.probe.publish(self.probe.topics.race_command, cmd)
        return self.probe.wait_for(
            lambda: [r for r in self.probe.decoded(self.probe.topics.race_reply, contract.Reply)
                     if r.id == cmd.id], what=f"reply to {cmd.id}")[0]


@contextlib.contextmanager
def web_stack(broker, tmp: Path, **race) -> Iterator[WebStack]:
    """The lap service and the API as real processes on the session broker, with a PIN,
    ``LANES`` lanes and Wi-Fi; ``race`` overrides race settings."""
    port = free_port()
    settings = make_settings(
        tmp, broker.port, f"t{uuid.uuid4().hex[:10]}", director_pin=PIN,
        track_name="Test Raceway", track_lanes=LANES,
        api={"host": "127.0.0.1", "port": port},
        wifi={"ssid": "Race Net", "passphrase": "go-fast-now"},
        race=race)
    config = tmp / "pitwall.toml"
    probe = MqttProbe(settings)
    laps = ServiceProcess(config, "laps").start()
    api = ServiceProcess(config, "api").start()
    stack = WebStack(settings, config, probe, laps, api, f"http://127.0.0.1:{port}")
    try:
        probe.wait_online("laps")
        stack.wait_api()
        yield stack
    finally:
        stack.api.stop()
        laps.stop()
        probe.close()


@pytest.fixture(scope="module")
def web(broker, tmp_path_factory):
    # Lights at once and no random hold: the five reds still take four seconds.
    with web_stack(broker, tmp_path_factory.mktemp("web"),
                   start_lead_ms=0, hold_min_ms=0, hold_max_ms=0) as stack:
        yield stack


@pytest.fixture(autouse=True)
def no_race_running(web):
    """Each test starts and ends with no race running (setting up needs that)."""
    yield
    if web.api.alive():
        with web.director() as d:
            state = d.get("/api/races/current").json()
            if state["phase"] in ("starting", "running", "finishing", "stopped"):
                d.post("/api/races/current/finish")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, web):
    """open_page(path, width, height) -> a page in its own context; page errors fail the test."""
    contexts, errors = [], []

    def opener(path: str, width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height},
                                      base_url=web.url)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{path}: {exc}"))
        page.goto(path)
        return page

    yield opener
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def log_in(page, shows: str) -> None:
    """The director's login form on a page (#pin, #login-form); ``shows``: the id of what
    the page reveals once logged in."""
    from playwright.sync_api import expect

    page.fill("#pin", PIN)
    page.click("#login-form button[type=submit]")
    expect(page.locator(f"#{shows}")).to_be_visible()


def screenshot(page, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def lap_text(lap_ns: int) -> str:
    """What a board must show for a lap: whole milliseconds, three decimals."""
    ms = round(lap_ns / 1_000_000)
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes}:{rest / 1000:06.3f}" if minutes else f"{rest / 1000:.3f}"
