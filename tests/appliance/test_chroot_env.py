"""image/chroot-env.sh (make image BASE=...): a root prepared for apt through chroot,
then put back exactly as it was, mounts and all, even when left twice."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import IMAGE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts)")


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root -> (kind, link target or content, mode)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir", None, path.stat().st_mode)
        else:
            found[rel] = ("file", path.read_bytes(), path.stat().st_mode)
    return found


def mounts_under(root: Path) -> list[str]:
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(root))]


def chroot_env(root: Path, *steps: str) -> subprocess.CompletedProcess:
    script = f". {IMAGE / 'chroot-env.sh'}\n" + "\n".join(f"{s} {root}" for s in steps)
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def pi_os_root(tmp_path):
    """The parts of a Raspberry Pi OS root that chroot-env.sh touches."""
    root = tmp_path / "root"
    for folder in ["etc", "usr/sbin", "proc", "sys", "dev", "run"]:
        (root / folder).mkdir(parents=True)
    # Pi OS links resolv.conf into /run (dangling in an image) and preloads libarmmem.
    (root / "etc/resolv.conf").symlink_to("../run/NetworkManager/resolv.conf")
    (root / "etc/ld.so.preload").write_text("/usr/lib/${PLATFORM}/libarmmem.so\n")
    (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 0\n")  # the owner's own
    yield root
    for mount in reversed(mounts_under(root)):  # only if a test failed half-way
        subprocess.run(["umount", "-l", mount], check=False)


def test_enter_prepares_the_root_for_apt(pi_os_root):
    result = chroot_env(pi_os_root, "chroot_enter")
    try:
        assert result.returncode == 0, result.stderr
        mounted = mounts_under(pi_os_root)
        for fs in ["proc", "sys", "dev", "dev/pts"]:
            assert str(pi_os_root / fs) in mounted, fs
        assert (pi_os_root / "proc/self").exists()
        assert (pi_os_root / "dev/null").exists()
        resolv = pi_os_root / "etc/resolv.conf"
        assert not resolv.is_symlink()
        assert resolv.read_text() == Path("/etc/resolv.conf").read_text()
        assert not (pi_os_root / "etc/ld.so.preload").exists()
        policy = subprocess.run([str(pi_os_root / "usr/sbin/policy-rc.d")])
        assert policy.returncode == 101  # "do not start services"
    finally:
        chroot_env(pi_os_root, "chroot_leave")


def test_leave_restores_everything_even_twice(pi_os_root):
    before = snapshot(pi_os_root)
    host_resolv = Path("/etc/resolv.conf").read_bytes()
    result = chroot_env(pi_os_root, "chroot_enter", "chroot_enter", "chroot_leave",
                        "chroot_leave")
    assert result.returncode == 0, result.stderr
    assert mounts_under(pi_os_root) == []
    assert snapshot(pi_os_root) == before
    assert Path("/etc/resolv.conf").read_bytes() == host_resolv


def test_a_root_without_resolv_conf_gets_none_back(pi_os_root):
    (pi_os_root / "etc/resolv.conf").unlink()
    before = snapshot(pi_os_root)
    result = chroot_env(pi_os_root, "chroot_enter", "chroot_leave")
    assert result.returncode == 0, result.stderr
    assert snapshot(pi_os_root) == before
