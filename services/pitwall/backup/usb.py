"""Backups to a USB stick: udev starts ``pitwall backup usb --device /dev/sdXN`` when a
stick is plugged in, and a timer runs ``pitwall backup usb --when-changed`` every quarter
of an hour (so a finished race is on the stick within minutes, and nothing is written
while nothing changed).

The stick is mounted ``nodev,nosuid,noexec`` under ``/run/pitwall/usb`` only for the
write, then unmounted, so it can be pulled out at any time between backups. Each backup is
written beside its final name and renamed once it is on the stick whole (a stick pulled
mid-write leaves no half archive under a backup's name); the oldest beyond
``[backup] usb_keep`` go.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pitwall.backup import archive

log = logging.getLogger(__name__)

MOUNT_ROOT = Path("/run/pitwall/usb")
BY_ID = Path("/dev/disk/by-id")
MOUNT_OPTIONS = "nodev,nosuid,noexec"


@dataclass(frozen=True, slots=True)
class Written:
    path: Path | None  # None: skipped, nothing changed since the newest backup there
    removed: list[Path]


def partitions(by_id: Path = BY_ID) -> list[Path]:
    """The partitions of the USB disks plugged in (udev's by-id links)."""
    return sorted({p.resolve() for p in by_id.glob("usb-*-part*")})


def mount_point_of(device: Path, mounts: Path = Path("/proc/self/mounts")) -> Path | None:
    """Where ``device`` is mounted already (a desktop's automounter), if it is."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and Path(fields[0]) == device:
            return Path(fields[1].replace("\\040", " "))
    return None


@contextmanager
def mounted(device: Path, root: Path = MOUNT_ROOT) -> Iterator[Path]:
    """The stick's root folder: its existing mount point, or our own for the write."""
    existing = mount_point_of(device)
    if existing is not None:
        yield existing
        return
    point = root / device.name
    point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-o", MOUNT_OPTIONS, str(device), str(point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        point.rmdir()
        raise archive.BackupError(f"could not mount {device}: "
                                  f"{done.stderr.strip() or 'mount failed'}")
    try:
        yield point
    finally:
        os.sync()
        subprocess.run(["umount", str(point)], capture_output=True)
        try:
            point.rmdir()
        except OSError:
            log.warning("%s is still mounted (busy?); it will be unmounted at shutdown",
                        point)


def db_checksum(backup: Path) -> str | None:
    """The checksum of the database in a backup file (its manifest), or None."""
    try:
        with tarfile.open(backup, "r:gz") as tar:
            member = tar.next()  # the manifest is written first
            if member is None or member.name != archive.MANIFEST:
                return None
            manifest = json.loads(tar.extractfile(member).read())
        return manifest["files"][archive.DB]["sha256"]
    except (OSError, tarfile.TarError, EOFError, ValueError, KeyError, TypeError):
        return None


def write(folder: Path, data: bytes, name: str) -> Path:
    """``data`` as ``folder/name``, whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    partial = folder / f".{name}.partial"
    with open(partial, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, final)
    return final


def backup_to(folder: Path, data: bytes, name: str, *, keep: int,
              when_changed: bool) -> Written:
    """Write the backup ``data`` into ``folder`` unless (``when_changed``) the newest
    there holds the very same database; then rotate."""
    if when_changed:
        found = archive.backups(folder)
        last = found[-1] if found else None
        ours = archive.manifest_of(data)["files"][archive.DB]["sha256"]
        if last is not None and db_checksum(last) == ours:
            return Written(None, [])
    path = write(folder, data, name)
    return Written(path, archive.rotate(folder, keep))
