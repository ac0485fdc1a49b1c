"""Slow, as root, with mmdebstrap and the Debian mirror: site.yml skips the kiosk role when
it is off, then converges it (twice) into a throwaway amd64 root with Debian's real cage,
Xwayland and Chromium; the unit passes systemd-analyze verify; and cage (wlroots'
headless backend) runs Chromium as the kiosk user there, with the unit's environment and
command line: the board comes up live over Wayland (checked through DevTools), cage stays
up, and cage exits when the browser does. (No picture is checked: cage's headless output
never sizes a full-screen window, so a --kiosk window stays blank there. On a real screen
only.)"""


from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from pitwall.dev.broker import free_port

from ..conftest import (
    ANSIBLE,
    BIN,
    IMAGE,
    _mirror_reachable,
    _skip_reason,
    recap_changed,
)
from .support import (
    USER,
    Rendered,
    devtools_port,
    expect_board,
    make_race,
    page_at,
    retarget,
    running,
)


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

    from ...web.conftest import web_stack

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
