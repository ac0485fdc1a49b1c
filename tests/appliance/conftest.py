"""The converged appliance root: a Debian bookworm amd64 root folder (mmdebstrap, cached
between runs by image/root-tarball.sh) that the playbook has been applied to, twice.

Needs root (chroot), mmdebstrap and Ansible in the virtual environment; without them the
tests are skipped with the reason. A playbook that fails is a test failure, not a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / "ansible"
IMAGE = REPO / "image"
BIN = Path(sys.executable).parent


@dataclass
class Converged:
    root: Path
    runs: list[subprocess.CompletedProcess]
    seconds: list[float]


def recap_changed(output: str) -> int:
    match = re.search(r"pitwall-image\s*:.*?changed=(\d+).*?failed=(\d+)", output)
    assert match, f"no play recap in the output:\n{output[-2000:]}"
    return int(match.group(1))


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (the playbook works in a chroot)"
    if not shutil.which("mmdebstrap"):
        return "mmdebstrap is not installed (services/scripts/install-system-deps.sh)"
    if not (BIN / "ansible-playbook").exists():
        return "Ansible is not installed in the venv (pip install ansible==12.3.0)"
    return None


def _mirror_reachable() -> bool:
    try:
        urllib.request.urlopen("http://deb.debian.org/debian/dists/bookworm/Release",
                               timeout=10).close()
        return True
    except OSError:
        return False


def run_playbook(root: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PITWALL_ROOT": str(root), "PITWALL_ARCH": "amd64",
           "ANSIBLE_FORCE_COLOR": "0", "PATH": f"{BIN}:{os.environ['PATH']}"}
    start = time.monotonic()
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "inventories/image", "site.yml"],
        cwd=ANSIBLE, env=env, capture_output=True, text=True, timeout=900)
    return result, time.monotonic() - start


@pytest.fixture(scope="session")
def converged(tmp_path_factory) -> Converged:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "PYTHON": sys.executable}
    built = subprocess.run([str(IMAGE / "root-tarball.sh"), "amd64"], env=env,
                           capture_output=True, text=True, timeout=1200)
    if built.returncode and not _mirror_reachable():
        pytest.skip("the Debian mirror is unreachable and no root is cached")
    assert built.returncode == 0, built.stderr[-3000:]
    wheels = subprocess.run([str(IMAGE / "build-wheels.sh"), "amd64"], env=env,
                            capture_output=True, text=True, timeout=900)
    assert wheels.returncode == 0, wheels.stderr[-3000:]

    root = tmp_path_factory.mktemp("appliance") / "root"
    root.mkdir()
    with tarfile.open(built.stdout.strip()) as tar:
        tar.extractall(root, filter="fully_trusted")  # our own root, devices and all
    (root / "boot/firmware").mkdir(parents=True, exist_ok=True)

    runs, seconds = [], []
    for _ in range(2):
        result, took = run_playbook(root)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        runs.append(result)
        seconds.append(took)
    print(f"\nconverge: first run {seconds[0]:.0f} s, second {seconds[1]:.0f} s")
    yield Converged(root, runs, seconds)
    shutil.rmtree(root, ignore_errors=True)


def in_root(root: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["chroot", str(root), *cmd], capture_output=True, text=True,
                            timeout=120)
    if check:
        assert result.returncode == 0, f"{cmd}: {result.stdout}{result.stderr}"
    return result
