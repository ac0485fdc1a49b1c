"""The optional kiosk role: the TV board on the Pi's own HDMI screen (docs/kiosk.md).

- The unit and PAM service as Ansible renders them (kiosk_render.yml, the role's own
  defaults): an unprivileged user on tty1, restarts without limit, the TV board of the API
  on the configured port, flags that keep Chromium off the internet, and the settings
  (rotation, another page, the pointer, the zoom) landing where they should.
- The helper the unit runs first: a blank cursor theme the real libXcursor lookup finds
  under the names cage and Chromium ask for, console blanking off, waiting for the server.
- Debian's Chromium started with the unit's exact command line (plus --headless and
  --no-sandbox: tests run as root) against a real API, Mosquitto and lap service: the board
  renders, shows "Reconnecting…" while the API is away and comes back, and no request
  went anywhere but the board (Chromium's NetLog).
- image/role_packages.py leaves the kiosk's packages out unless asked for.
- Slow, as root, with mmdebstrap and the Debian mirror: site.yml skips the role when it is
  off, then converges it (twice) into a throwaway amd64 root with Debian's real cage,
  Xwayland and Chromium; the unit passes systemd-analyze verify; and cage (wlroots'
  headless backend) runs Chromium as the kiosk user there, with the unit's environment and
  command line: the board comes up live over Wayland (checked through DevTools), cage stays
  up, and cage exits when the browser does. (No picture is checked: cage's headless output
  never sizes a full-screen window, so a --kiosk window stays blank there. On a real screen
  only.)
"""

from __future__ import annotations

import contextlib
import ctypes.util
import http.server
import json
import os
import pty
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from .conftest import ANSIBLE, BIN, IMAGE, REPO, _mirror_reachable, _skip_reason, recap_changed
from .kiosk_support import (
    ERR_NAME_NOT_RESOLVED,
    NetLog,
    Rendered,
    devtools_port,
    page_at,
    render,
    retarget,
    running,
    with_flag,
)

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


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Rendered:
    needs_ansible()
    return render(tmp_path_factory.mktemp("kiosk-default"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------- the unit
def test_unit_runs_the_board_unprivileged_on_tty1_and_always_restarts(rendered):
    assert rendered.unit.startswith("#\n# Managed by Pitwall's Ansible playbook")
    unit, service = rendered.sections["Unit"], rendered.sections["Service"]
    assert service["User"] == [USER] and USER != "root"
    assert "Group" not in service  # the user's own group
    assert service["PAMName"] == ["pitwall-kiosk"]
    assert service["TTYPath"] == ["/dev/tty1"]
    assert service["StandardInput"] == ["tty-fail"]
    assert "getty@tty1.service" in " ".join(unit["Conflicts"])
    assert service["Restart"] == ["always"]
    assert unit["StartLimitIntervalSec"] == ["0"]  # never gives up restarting
    assert service["NoNewPrivileges"] == ["yes"]
    assert rendered.sections["Install"]["WantedBy"] == ["multi-user.target"]
    # The compositor runs the browser; nothing else (no shell, no desktop).
    assert rendered.cage == ["/usr/bin/cage"]
    assert rendered.chromium[0] == "/usr/bin/chromium"
    # Home, profile and cache in RAM, recreated at each start.
    assert service["RuntimeDirectory"] == ["pitwall-kiosk"]
    assert rendered.environment["HOME"] == "/run/pitwall-kiosk"
    assert "--user-data-dir=/run/pitwall-kiosk/chromium" in rendered.chromium
    assert rendered.environment["WLR_LIBINPUT_NO_DEVICES"] == "1"  # a TV and no keyboard
    # logind's session is what hands the unprivileged user the screen.
    assert re.search(r"^session\s+required\s+pam_systemd\.so$", rendered.pam, re.M)
    assert rendered.pam.startswith("#\n# Managed by Pitwall's Ansible playbook")


def test_unit_shows_the_tv_board_of_the_api_on_its_port(rendered, tmp_path):
    defaults = yaml.safe_load((ANSIBLE / "roles/pitwall/defaults/main.yml").read_text())
    port = defaults["pitwall_api_port"]
    assert rendered.chromium[-1] == f"http://127.0.0.1:{port}/tv.html"
    assert (REPO / "webui/tv.html").is_file()  # the static router serves webui/ at /
    # The wait step asks the same server's health route before the browser starts.
    prepare = rendered.exec_words("ExecStartPre")
    assert prepare[0] == "/usr/local/libexec/pitwall-kiosk-prepare"
    assert prepare[prepare.index("--wait") + 1] == f"http://127.0.0.1:{port}/api/health"
    # Another API port moves both.
    other = render(tmp_path, pitwall_api_port=8080)
    assert other.chromium[-1] == "http://127.0.0.1:8080/tv.html"
    assert "http://127.0.0.1:8080/api/health" in other.exec_words("ExecStartPre")


def test_chromium_flags_keep_it_off_the_internet(rendered):
    flags = rendered.chromium[1:-1]
    for flag in REQUIRED_FLAGS:
        assert flag in flags, flag
    # Backstop: no name but the page's own host resolves.
    assert "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" in flags
    # Sandboxing stays on (only the tests add --no-sandbox, as root).
    assert "--no-sandbox" not in flags and "--headless" not in flags


def test_unit_follows_the_kiosk_settings(tmp_path):
    needs_ansible()
    url = "http://pitwall.lan:8080/driver.html?car=3&name=A%20B"
    custom = render(tmp_path, kiosk_url=url, kiosk_rotate=270, kiosk_scale=2, kiosk_vt=2,
                    kiosk_hide_cursor=False, kiosk_chromium_extra_flags=["--disable-gpu"])
    assert custom.cage == ["/usr/bin/cage", "-r", "-r", "-r"]
    assert custom.chromium[-1] == url  # % and & survive systemd's parsing
    assert custom.chromium[-2] == "--disable-gpu"  # extra flags come after the role's
    assert "--force-device-scale-factor=2" in custom.chromium
    assert "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE pitwall.lan" in custom.chromium
    prepare = custom.exec_words("ExecStartPre")
    assert prepare[prepare.index("--wait") + 1] == "http://pitwall.lan:8080/api/health"
    assert "--cursors" not in prepare and "XCURSOR_PATH" not in custom.environment
    assert custom.service("TTYPath") == ["/dev/tty2"]
    assert "getty@tty2.service" in " ".join(custom.sections["Unit"]["Conflicts"])
    upright = render(tmp_path / "upright", kiosk_rotate=90)
    assert upright.cage == ["/usr/bin/cage", "-r"]
    assert upright.environment["XCURSOR_PATH"] == "/run/pitwall-kiosk/icons"


def test_readme_lists_every_variable_in_the_defaults_order():
    defaults = list(yaml.safe_load((ROLE / "defaults/main.yml").read_text()))
    readme = (ROLE / "README.md").read_text()
    assert re.findall(r"^\| `(kiosk_\w+)` \|", readme, re.M) == defaults
    assert defaults[0] == "kiosk_enabled"
    assert yaml.safe_load((ROLE / "defaults/main.yml").read_text())["kiosk_enabled"] is False
    site = yaml.safe_load((ANSIBLE / "site.yml").read_text())
    (kiosk,) = [r for r in site[0]["roles"] if r["role"] == "kiosk"]
    assert kiosk["when"] == "kiosk_enabled | bool"
    assert "make image KIOSK=1" in (REPO / "docs/kiosk.md").read_text()


# ------------------------------------------------------------------ the image's packages
def role_packages(*args: str, roles: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PITWALL_ROLES"}
    if roles is not None:
        env["PITWALL_ROLES"] = roles
    return subprocess.run([sys.executable, str(IMAGE / "role_packages.py"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_kiosk_packages_stay_out_of_the_default_root():
    kiosk = set(yaml.safe_load((ROLE / "defaults/main.yml").read_text())["kiosk_packages"])
    assert {"cage", "chromium", "xwayland"} <= kiosk
    default = set(role_packages().stdout.split())
    assert default and not kiosk & default
    assert {"systemd", "mosquitto", "hostapd", "python3"} <= default
    for asked in (role_packages(roles="kiosk"), role_packages("--role", "kiosk")):
        assert asked.returncode == 0, asked.stderr
        assert set(asked.stdout.split()) == default | kiosk
    extra = role_packages("--role", "kiosk", "linux-image-arm64")
    assert set(extra.stdout.split()) == default | kiosk | {"linux-image-arm64"}
    typo = role_packages(roles="kiosks")
    assert typo.returncode != 0 and "no such role: kiosks" in typo.stderr


# ---------------------------------------------------------------- the prepare helper
def prepare(*args: str, **run) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PREPARE), *args], capture_output=True,
                          text=True, timeout=60, **run)


XCURSOR_PROBE = r"""
import ctypes, json, sys
lib = ctypes.CDLL(sys.argv[1])
class Image(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("size", ctypes.c_uint32),
                ("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("xhot", ctypes.c_uint32), ("yhot", ctypes.c_uint32),
                ("delay", ctypes.c_uint32), ("pixels", ctypes.POINTER(ctypes.c_uint32))]
lib.XcursorLibraryLoadImage.restype = ctypes.POINTER(Image)
lib.XcursorLibraryLoadImage.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
out = {}
for theme in sys.argv[2].split(","):
    for name in sys.argv[3].split(","):
        image = lib.XcursorLibraryLoadImage(name.encode(), theme.encode(), 24)
        if not image:
            out[f"{theme}/{name}"] = None
            continue
        i = image.contents
        alpha = max(i.pixels[k] >> 24 for k in range(i.width * i.height))
        out[f"{theme}/{name}"] = [i.width, i.height, alpha]
print(json.dumps(out))
"""


def xcursor_lookup(themes: list[str], names: list[str], **env) -> dict:
    """What libXcursor's theme lookup (the one wlroots and libwayland-cursor copy) finds."""
    library = ctypes.util.find_library("Xcursor")
    if not library:
        pytest.skip("libXcursor is not installed (it comes with Chromium)")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("XCURSOR")}
    result = subprocess.run([sys.executable, "-c", XCURSOR_PROBE, library, ",".join(themes),
                             ",".join(names)], env={**environ, **env}, capture_output=True,
                            text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_prepare_writes_a_blank_cursor_theme_that_hides_the_pointer(tmp_path):
    icons = tmp_path / "icons"
    for _ in range(2):  # every start runs it again
        result = prepare("--cursors", str(icons))
        assert result.returncode == 0, result.stderr
    names = ["left_ptr", "default", "pointer", "hand2", "text", "xterm", "watch", "progress",
             "grabbing", "not-allowed", "nwse-resize"]
    found = xcursor_lookup(["default", "Adwaita"], names, XCURSOR_PATH=str(icons))
    assert found == {f"{theme}/{name}": [1, 1, 0]
                     for theme in ("default", "Adwaita") for name in names}
    # Without the theme the same lookup finds a visible arrow (when a theme is installed).
    visible = xcursor_lookup(["default"], ["left_ptr"])["default/left_ptr"]
    if visible is not None:
        assert visible[0] > 1 and visible[2] == 255


@contextlib.contextmanager
def http_server(port: int, status: int = 200, delay: float = 0) -> Iterator[threading.Thread]:
    """An HTTP server on ``port`` answering ``status``, starting after ``delay`` seconds."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    servers = []

    def serve():
        time.sleep(delay)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        servers.append(server)
        server.serve_forever(poll_interval=0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        deadline = time.monotonic() + delay + 5
        while not servers and time.monotonic() < deadline:
            time.sleep(0.05)
        for server in servers:
            server.shutdown()
            server.server_close()


def test_prepare_waits_until_the_web_server_answers():
    # Nobody listening: gives up after the timeout, so systemd restarts the unit.
    port = free_port()
    start = time.monotonic()
    result = prepare("--wait", f"http://127.0.0.1:{port}/api/health", "--timeout", "1.5")
    assert result.returncode == 1 and 1.4 < time.monotonic() - start < 10
    assert "gave no answer" in result.stderr
    # A server that comes up a second later: waits for it.
    port = free_port()
    with http_server(port, delay=1.0):
        start = time.monotonic()
        result = prepare("--wait", f"http://127.0.0.1:{port}/api/health", "--timeout", "20")
        assert result.returncode == 0, result.stderr
        assert 0.9 < time.monotonic() - start < 10
    # Any HTTP answer means the server is up (the board shows its own state from there).
    port = free_port()
    with http_server(port, status=503):
        assert prepare("--wait", f"http://127.0.0.1:{port}/", "--timeout", "10").returncode == 0


def test_prepare_turns_console_blanking_off_and_says_what_it_waits_for():
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/health"
    master, slave = pty.openpty()
    try:
        with http_server(port):
            result = prepare("--wait", url, "--timeout", "10", stdin=slave)
        assert result.returncode == 0, result.stderr
        os.set_blocking(master, False)
        written = os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert b"\x1b[9;0]" in written and b"\x1b[14;0]" in written  # no blank, no power-down
    assert url.encode() in written


# ------------------------------------------------- Chromium with the unit's command line
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


@pytest.mark.slow
def test_chromium_with_the_units_command_line_shows_the_board_offline(rendered, broker,
                                                                     tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from ..web.conftest import web_stack

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


# -------------------------------------------------- the role in a throwaway Debian root
@dataclass
class KioskRoot:
    root: Path
    off: subprocess.CompletedProcess      # site.yml with the kiosk off
    runs: list[subprocess.CompletedProcess]  # twice with kiosk_enabled=true

    def chroot(self, *cmd: str, user: bool = False, env: dict | None = None,
               check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        spec = [f"--userspec={self.uid}:{self.gid}"] if user else []
        result = subprocess.run(["/usr/sbin/chroot", *spec, str(self.root), *cmd],
                                env=env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"{cmd}: {result.stdout}{result.stderr}"
        return result

    @property
    def passwd(self) -> list[str]:
        for line in (self.root / "etc/passwd").read_text().splitlines():
            if line.startswith(f"{USER}:"):
                return line.split(":")
        raise AssertionError(f"no {USER} in the root's /etc/passwd")

    @property
    def uid(self) -> int:
        return int(self.passwd[2])

    @property
    def gid(self) -> int:
        return int(self.passwd[3])


def site_playbook(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PITWALL_ROOT": str(root), "PITWALL_ARCH": "amd64",
           "ANSIBLE_FORCE_COLOR": "0", "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "inventories/image",
                           "site.yml", "--tags", "kiosk", *args], cwd=ANSIBLE, env=env,
                          capture_output=True, text=True, timeout=900)


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1].startswith(prefix)]


@pytest.fixture(scope="module")
def kiosk_root(tmp_path_factory) -> KioskRoot:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "PYTHON": sys.executable, "PITWALL_ROLES": ""}
    built = subprocess.run([str(IMAGE / "root-tarball.sh"), "amd64"], env=env,
                           capture_output=True, text=True, timeout=1200)
    if built.returncode and not _mirror_reachable():
        pytest.skip("the Debian mirror is unreachable and no root is cached")
    assert built.returncode == 0, built.stderr[-3000:]
    root = tmp_path_factory.mktemp("kiosk") / "root"
    root.mkdir()
    with tarfile.open(built.stdout.strip()) as tar:
        tar.extractall(root, filter="fully_trusted")  # our own root, devices and all
    # The role installs cage and Chromium from the mirror (the default root has neither).
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    update = subprocess.run(["chroot", str(root), "apt-get", "update", "-qq"],
                            capture_output=True, text=True, timeout=600)
    if update.returncode and not _mirror_reachable():
        pytest.skip("the Debian mirror is unreachable (the kiosk's packages come from it)")
    assert update.returncode == 0, update.stderr[-2000:]

    off = site_playbook(root)
    runs = [site_playbook(root, "-e", "kiosk_enabled=true") for _ in range(2)]
    for result in [off, *runs]:
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    yield KioskRoot(root, off, runs)
    left = mounts_under(root)
    assert not left, f"still mounted, root left in place: {left}"
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_role_is_skipped_when_off_and_converges_when_on(kiosk_root: KioskRoot):
    root = kiosk_root.root
    # Off (the role's own default): every task skipped, nothing written.
    assert recap_changed(kiosk_root.off.stdout) == 0
    assert "skipping:" in kiosk_root.off.stdout and "ok: [" not in kiosk_root.off.stdout
    # On: installs and writes; the second run changes nothing.
    assert recap_changed(kiosk_root.runs[0].stdout) > 0
    assert recap_changed(kiosk_root.runs[1].stdout) == 0, kiosk_root.runs[1].stdout[-3000:]
    for program in ["usr/bin/cage", "usr/bin/Xwayland", "usr/bin/chromium",
                    "usr/local/libexec/pitwall-kiosk-prepare"]:
        assert os.access(root / program, os.X_OK), program
    wants = root / "etc/systemd/system/multi-user.target.wants/pitwall-kiosk.service"
    assert wants.is_symlink()
    verify = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                             "pitwall-kiosk.service"], capture_output=True, text=True,
                            timeout=120)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr


@pytest.mark.slow
def test_kiosk_user_has_no_password_no_shell_and_its_pam_modules(kiosk_root: KioskRoot):
    root = kiosk_root.root
    name, _, uid, _, _, home, shell = kiosk_root.passwd
    assert 0 < int(uid) < 1000 and home == "/run/pitwall-kiosk"
    assert shell == "/usr/sbin/nologin"
    shadow = [line.split(":") for line in (root / "etc/shadow").read_text().splitlines()]
    assert [s[1] for s in shadow if s[0] == name] == ["!"]
    groups = kiosk_root.chroot("id", "-nG", name).stdout.split()
    assert {"video", "render", "audio"} <= set(groups) and "sudo" not in groups
    pam = (root / "etc/pam.d/pitwall-kiosk").read_text()
    for module in re.findall(r"^\w+\s+\w+\s+(\S+)", pam, re.M):
        assert list(root.glob(f"usr/lib/*/security/{module}")) \
            or list(root.glob(f"lib/*/security/{module}")), module
    # The helper runs with the root's own Python, as the kiosk user.
    result = kiosk_root.chroot(
        "/usr/local/libexec/pitwall-kiosk-prepare", "--cursors", "/tmp/kiosk-icons",
        "--wait", f"http://127.0.0.1:{free_port()}/", "--timeout", "0.5",
        user=True, check=False)
    assert result.returncode == 1 and "gave no answer" in result.stderr, result.stderr
    assert (root / "tmp/kiosk-icons/default/cursors/left_ptr").is_file()


@contextlib.contextmanager
def kernel_filesystems(root: Path):
    """Fresh /proc, /sys and /dev/shm in the root (no bind mounts: removing the root can
    never reach the host's files), unmounted afterwards."""
    mounted = []
    try:
        for fstype, where in [("proc", "proc"), ("sysfs", "sys"), ("tmpfs", "dev/shm")]:
            (root / where).mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "-t", fstype, fstype, str(root / where)], check=True,
                           timeout=30)
            mounted.append(root / where)
        yield
    finally:
        for where in reversed(mounted):
            for _ in range(10):  # a process still leaving keeps it busy for a moment
                if subprocess.run(["umount", str(where)], capture_output=True,
                                  timeout=30).returncode == 0:
                    break
                time.sleep(0.5)
            else:  # fresh kernel filesystems: detaching them lazily touches nothing else
                subprocess.run(["umount", "--lazy", str(where)], timeout=30)


@pytest.mark.slow
def test_cage_runs_the_units_browser_as_the_kiosk_user(kiosk_root: KioskRoot, broker,
                                                       tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from ..web.conftest import web_stack

    root = kiosk_root.root
    unit = Rendered((root / "etc/systemd/system/pitwall-kiosk.service").read_text(), "")
    runtime, xdg = root / "run/pitwall-kiosk", root / f"run/user/{kiosk_root.uid}"
    for folder in (runtime, xdg):  # systemd's RuntimeDirectory= and logind's, by hand
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
        os.chown(folder, kiosk_root.uid, kiosk_root.gid)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **unit.environment,
           "XDG_RUNTIME_DIR": f"/run/user/{kiosk_root.uid}"}
    # No GPU and no screen here: wlroots' headless backend, drawing in software.
    screen_env = {**env, "WLR_BACKENDS": "headless", "WLR_RENDERER": "pixman"}

    with web_stack(broker, tmp_path / "stack") as stack, kernel_filesystems(root):
        make_race(stack)
        wait = unit.exec_words("ExecStartPre")
        wait[wait.index("--wait") + 1] = retarget(wait[wait.index("--wait") + 1], stack.url)
        kiosk_root.chroot(*wait, user=True, env=env)
        assert (runtime / "icons/default/cursors/left_ptr").is_file()
        cage, chromium = unit.cage, unit.chromium
        url = retarget(chromium[-1], stack.url)
        # Chromium's sandbox needs user namespaces, which a chroot may not create.
        command = [*cage, "--", *chromium[:-1], "--no-sandbox",
                   "--remote-debugging-port=0", url]
        log = tmp_path / "cage.log"
        spec = f"--userspec={kiosk_root.uid}:{kiosk_root.gid}"
        with running(["/usr/sbin/chroot", spec, str(root), *command], log,
                     env=screen_env) as cage_proc, sync_playwright() as pw:
            port = devtools_port(runtime / "chromium", cage_proc, log, timeout=60)
            browser = pw.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
            page = page_at(browser, url)
            expect_board(page, expect)
            time.sleep(3)  # still up a while later (cage 0.1.4 crashed early with -m last)
            assert cage_proc.poll() is None, log.read_text(errors="replace")[-3000:]
            # The browser goes away: cage exits with it (and systemd starts both again).
            browser.new_browser_cdp_session().send("Browser.close")
            cage_proc.wait(30)
