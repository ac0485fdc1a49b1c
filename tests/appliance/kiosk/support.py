"""Helpers for the kiosk tests: render the kiosk role through Ansible, read a systemd unit's
command lines the way systemd splits them, start Chromium and reach it over DevTools, and
read Chromium's NetLog."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from ..conftest import ANSIBLE, BIN, REPO

HERE = Path(__file__).resolve().parent
RENDER_PLAYBOOK = HERE / "render.yml"

ROLE = ANSIBLE / "roles/kiosk"
PREPARE = ROLE / "files/pitwall-kiosk-prepare"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests/artifacts"
USER = "pitwall-kiosk"
# The flags that keep Chromium quiet and off the internet (and the kiosk ones).
REQUIRED_FLAGS = ["--kiosk", "--noerrdialogs", "--disable-infobars", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--check-for-update-interval=31536000",
                  "--autoplay-policy=no-user-gesture-required", "--ozone-platform=wayland"]


def needs_ansible() -> None:
    if not (BIN / "ansible-playbook").exists():
        pytest.skip("Ansible is not installed in the venv (pip install ansible==12.3.0)")


def prepare(*args: str, **run) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PREPARE), *args], capture_output=True,
                          text=True, timeout=60, **run)


def make_race(stack) -> None:
    with stack.director() as d:
        r = d.post("/api/races", json={
            "mode": "laps", "laps": 10, "entrant": "car", "min_lap_ms": 300,
            "first_crossing": "counts", "name": "Kiosk test",
            "entrants": [{"car": 1, "driver": "Ann"}, {"car": 2, "driver": "Bob"}]})
        assert r.status_code == 201, r.text


def expect_board(page, expect) -> None:
    """The TV board is live and shows the track, the race and its drivers."""
    expect(page.locator("html")).to_have_attribute("data-live", "live", timeout=15_000)
    expect(page.locator("#track")).to_have_text("Test Raceway")
    expect(page.locator("#race-name")).to_have_text("Kiosk test")
    expect(page.locator("#standings")).to_contain_text("Ann")
    expect(page.locator("#standings")).to_contain_text("Bob")




# ------------------------------------------------------------------------- rendering
@dataclass
class Rendered:
    unit: str
    pam: str

    @property
    def sections(self) -> dict[str, dict[str, list[str]]]:
        return unit_sections(self.unit)

    def service(self, key: str) -> list[str]:
        return self.sections["Service"].get(key, [])

    def exec_words(self, key: str) -> list[str]:
        (line,) = self.service(key)
        return systemd_words(line)

    @property
    def chromium(self) -> list[str]:
        """Chromium's argv as the unit runs it: /usr/bin/chromium, its flags, the page."""
        words = self.exec_words("ExecStart")
        return words[words.index("--") + 1:]

    @property
    def cage(self) -> list[str]:
        words = self.exec_words("ExecStart")
        return words[:words.index("--")]

    @property
    def environment(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.service("Environment"))


def render(out: Path, **variables) -> Rendered:
    """The kiosk role's unit and PAM service rendered by Ansible with the role's defaults;
    ``variables`` override them as an inventory would."""
    out.mkdir(parents=True, exist_ok=True)
    extra = json.dumps({"out": str(out), "ansible_python_interpreter": sys.executable,
                        **variables})
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_LOCALHOST_WARNING": "false",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "PATH": f"{BIN}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         str(RENDER_PLAYBOOK), "-e", extra],
        cwd=HERE, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return Rendered((out / "pitwall-kiosk.service").read_text(),
                    (out / "pitwall-kiosk.pam").read_text())


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}} of a unit file (comments skipped)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, value = line.split("=", 1)
        current.setdefault(key, []).append(value)
    return sections


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', " ": " "}


def systemd_words(line: str) -> list[str]:
    """Split an Exec*= value as systemd does: whitespace between words, '…' and "…" quote,
    C-style backslash escapes, then ``%%`` -> ``%`` and ``$$`` -> ``$`` (the only specifier
    and variable forms the role writes)."""
    words: list[str] = []
    word: list[str] | None = None
    quote = ""
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            word = (word or []) + [ESCAPES.get(line[i + 1], line[i + 1])]
            i += 2
            continue
        if quote:
            if char == quote:
                quote = ""
            else:
                word.append(char)
        elif char in "'\"":
            quote = char
            word = word or []
        elif char.isspace():
            if word is not None:
                words.append("".join(word))
                word = None
        else:
            word = (word or []) + [char]
        i += 1
    assert not quote, f"unbalanced quotes in {line!r}"
    if word is not None:
        words.append("".join(word))
    return [w.replace("%%", "%").replace("$$", "$") for w in words]


def retarget(url: str, base: str) -> str:
    """``url`` with its scheme and host:port taken from ``base`` (path and query kept)."""
    parts, new = urlsplit(url), urlsplit(base)
    return urlunsplit((new.scheme, new.netloc, parts.path, parts.query, parts.fragment))


def with_flag(argv: list[str], name: str, value: str) -> list[str]:
    """argv with ``--name=…`` replaced by ``--name=value`` (it must be there)."""
    prefix = f"--{name}="
    assert any(a.startswith(prefix) for a in argv), f"{prefix} missing from {argv}"
    return [f"{prefix}{value}" if a.startswith(prefix) else a for a in argv]


# ----------------------------------------------------------------- a running Chromium
@contextlib.contextmanager
def running(argv: list[str], log: Path, **popen) -> Iterator[subprocess.Popen]:
    """A process (in its own process group) that is stopped, group and all, afterwards."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, **popen)
        try:
            yield proc
        finally:
            # The whole group: a browser leaves helpers behind (zygote, crash handler).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            deadline = time.monotonic() + 10
            with contextlib.suppress(ProcessLookupError):
                while time.monotonic() < deadline:  # until the group's last process is gone
                    os.killpg(proc.pid, 0)
                    time.sleep(0.1)


def devtools_port(profile: Path, proc: subprocess.Popen, log: Path, timeout: float = 30) -> int:
    """The DevTools port Chromium wrote into its profile (``--remote-debugging-port=0``)."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while True:
        if port_file.exists() and port_file.read_text().strip():
            return int(port_file.read_text().split()[0])
        assert proc.poll() is None, \
            f"exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
        assert time.monotonic() < deadline, \
            f"no DevTools port after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.1)


def page_at(browser, url: str, timeout: float = 20):
    """The page the browser opened on ``url`` (from its command line)."""
    deadline = time.monotonic() + timeout
    while True:
        pages = [page for context in browser.contexts for page in context.pages]
        for page in pages:
            if page.url == url:
                return page
        assert time.monotonic() < deadline, f"no page at {url}: {[p.url for p in pages]}"
        time.sleep(0.1)


# ------------------------------------------------------------------------------ NetLog
ERR_NAME_NOT_RESOLVED = -105


@dataclass
class NetLog:
    """What Chromium's network stack did (``--log-net-log``)."""

    requests: dict[int, dict] = field(default_factory=dict)  # source id -> url, net_error
    tcp_connects: list[str] = field(default_factory=list)    # "address:port"
    dns_lookups: int = 0           # DNS transactions and getaddrinfo() calls
    udp_sends: list[dict] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> NetLog:
        text = path.read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError:  # cut short: the browser did not get to close it
            data = json.loads(text.rstrip().rstrip(",") + "]}")
        types = {number: name for name, number in data["constants"]["logEventTypes"].items()}
        log = cls()
        for event in data["events"]:
            name, params = types.get(event["type"], ""), event.get("params", {})
            source = event["source"]["id"]
            if name == "REQUEST_ALIVE":
                request = log.requests.setdefault(source, {"url": None, "net_error": 0})
                if "url" in params:
                    request["url"] = params["url"]
                if "net_error" in params:
                    request["net_error"] = params["net_error"]
            elif name == "TCP_CONNECT_ATTEMPT" and "address" in params:
                log.tcp_connects.append(params["address"])
            elif name in ("DNS_TRANSACTION", "HOST_RESOLVER_SYSTEM_TASK") \
                    and event.get("phase") == 1:
                log.dns_lookups += 1
            elif name == "UDP_BYTES_SENT":
                log.udp_sends.append(params)
        return log

    def urls(self) -> list[tuple[str, int]]:
        return [(r["url"], r["net_error"]) for r in self.requests.values() if r["url"]]
