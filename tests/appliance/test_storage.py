"""pitwall-storage's plan for the card: the read-only fstab, partition names, the folders
kept writable. (The booted read-only root itself is checked by `make image-test`.)"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys

import pytest

from .conftest import ANSIBLE
from .test_firstboot import boot_values, firstboot, make_root

STORAGE_PATH = ANSIBLE / "roles/base/files/pitwall-storage"


def load_storage():
    loader = importlib.machinery.SourceFileLoader("pitwall_storage", str(STORAGE_PATH))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


storage = load_storage()

FSTAB = """# Pitwall image (image/pi-boot-files.sh). Partitions by label: SD card or QEMU alike.
LABEL=RASPIROOT  /               ext4  defaults,noatime,commit=60  0 1
LABEL=RASPIFIRM  /boot/firmware  vfat  defaults,noatime            0 2
"""
KEPT = {"pitwall": "/var/lib/pitwall", "mosquitto": "/var/lib/mosquitto",
        "leases": "/var/lib/misc"}


def entries(fstab: str) -> dict[str, list[str]]:
    """mount point -> fields, for the non-comment lines."""
    return {fields[1]: fields for line in fstab.splitlines()
            if (fields := line.split()) and not line.startswith("#")}


def test_readonly_fstab_mounts_root_read_only_and_keeps_the_rest():
    fstab = entries(storage.readonly_fstab(FSTAB, KEPT))
    assert fstab["/"][3].split(",") == ["ro", "noatime", "commit=60"]
    assert fstab["/"][5] == "1"  # still checked at boot
    assert fstab["/boot/firmware"] == "LABEL=RASPIFIRM /boot/firmware vfat defaults,noatime 0 2".split()
    assert fstab["/data"][:3] == ["LABEL=PITWALL-DATA", "/data", "ext4"]
    for name, folder in KEPT.items():
        source, _, kind, options = fstab[folder][:4]
        assert (source, kind) == (f"/data/{name}", "none")
        assert options.split(",") == ["bind", "x-systemd.requires-mounts-for=/data"]
    for folder in ["/tmp", "/var/tmp", "/var/log", "/var/lib/systemd"]:
        assert fstab[folder][2] == "tmpfs", folder


def test_readonly_fstab_is_idempotent():
    once = storage.readonly_fstab(FSTAB, KEPT)
    assert storage.readonly_fstab(once, KEPT) == once
    assert storage.is_readonly_fstab(once) and not storage.is_readonly_fstab(FSTAB)


def test_readonly_fstab_takes_rw_and_defaults_off_the_root():
    fstab = "PARTUUID=abc-02  /  ext4  defaults,rw,noatime  0  1\n"
    assert entries(storage.readonly_fstab(fstab, KEPT))["/"][3] == "ro,noatime"


@pytest.mark.parametrize("disk, number, device", [
    ("/dev/vda", 3, "/dev/vda3"), ("/dev/sda", 3, "/dev/sda3"),
    ("/dev/mmcblk0", 3, "/dev/mmcblk0p3"), ("/dev/nvme0n1", 3, "/dev/nvme0n1p3")])
def test_partition_device_names(disk, number, device):
    assert storage.partition_device(disk, number) == device


def test_kept_folders_follow_the_settings():
    settings = 'data_dir = "/srv/race"\n[hotspot]\nleases_file = "/var/lib/dnsmasq/x.leases"\n'
    assert storage.kept_folders(settings) == {
        "pitwall": "/srv/race", "mosquitto": "/var/lib/mosquitto",
        "leases": "/var/lib/dnsmasq"}
    assert storage.kept_folders(None) == KEPT


def test_an_unknown_action_is_refused_with_usage():
    result = subprocess.run([sys.executable, str(STORAGE_PATH), "bogus"], capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.parametrize("preset, expected", [
    ("readonly=yes\n", True), ("readonly=On\n", True), ("readonly=no\n", False),
    ("", False), ("readonly=maybe\n", False)])
def test_firstboot_reads_the_readonly_preset(tmp_path, preset, expected):
    root = make_root(tmp_path, preset)
    firstboot(root)
    assert boot_values(root)["readonly"] == ("yes" if expected else "no")
