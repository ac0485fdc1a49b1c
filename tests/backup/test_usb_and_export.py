"""Backups to a USB stick (a folder stands in for the mounted stick: mounting needs root
and a real device) and the export for other club software."""

from __future__ import annotations

import csv
import json
import os

from pitwall.backup import usb

from .test_backup import finish_a_race


def test_usb_partitions_are_found_by_their_udev_links(tmp_path):
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    for dev in ("sda1", "sdb", "sdb1", "sdb2"):
        (tmp_path / dev).touch()
    os.symlink("../sda1", by_id / "ata-Samsung_SSD-part1")  # the internal disk: not ours
    os.symlink("../sdb", by_id / "usb-SanDisk_Cruzer_123-0:0")  # the disk itself
    os.symlink("../sdb1", by_id / "usb-SanDisk_Cruzer_123-0:0-part1")
    os.symlink("../sdb2", by_id / "usb-SanDisk_Cruzer_123-0:0-part2")
    assert usb.partitions(by_id) == [tmp_path / "sdb1", tmp_path / "sdb2"]
    assert usb.partitions(tmp_path / "none") == []


def test_a_stick_mounted_already_is_used_where_it_is(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/mmcblk0p2 / ext4 rw 0 0\n"
                      "/dev/sdb1 /media/pi/CLUB\\040STICK vfat rw,nosuid,nodev 0 0\n")
    assert usb.mount_point_of(usb.Path("/dev/sdb1"), mounts) == usb.Path("/media/pi/CLUB STICK")
    assert usb.mount_point_of(usb.Path("/dev/sdc1"), mounts) is None
    assert usb.mount_point_of(usb.Path("/dev/sdb1"), tmp_path / "gone") is None


def test_usb_backups_are_written_when_something_changed_and_rotated(box, tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    keep = {"PITWALL_BACKUP_USB_KEEP": "2"}

    def backups():
        return sorted((stick / "pitwall-backups").glob("pitwall-backup-*.tar.gz"))

    finish_a_race(box, 4, name="One")
    first = box.pitwall("backup", "usb", "--mount-point", str(stick), "--when-changed",
                        env=keep)
    assert first.returncode == 0, first.stderr
    assert len(backups()) == 1 and "wrote" in first.stdout
    again = box.pitwall("backup", "usb", "--mount-point", str(stick), "--when-changed",
                        env=keep)
    assert again.returncode == 0 and "unchanged" in again.stdout, again.stdout
    assert len(backups()) == 1
    for n in (2, 3):
        finish_a_race(box, 2, name=f"Race {n}")
        done = box.pitwall("backup", "usb", "--mount-point", str(stick), "--when-changed",
                           env=keep)
        assert done.returncode == 0, done.stderr
    kept = backups()
    assert len(kept) == 2 and "removed 1 old" in done.stdout
    assert not list((stick / "pitwall-backups").glob(".*partial"))
    verified = box.pitwall("backup", "verify", str(kept[-1]))
    assert "3 races, 8 passes" in verified.stdout, verified.stdout

    missing = box.pitwall("backup", "usb", "--mount-point", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "is not a folder" in missing.stderr


def test_export_writes_a_csv_per_race_and_one_json_of_everything(box, tmp_path):
    race = finish_a_race(box, 6, name="Export me", run=True)
    out = tmp_path / "export"
    done = box.pitwall("backup", "export", str(out))
    assert done.returncode == 0, done.stderr
    assert "race 1/1" in done.stderr and "wrote 3 files" in done.stdout
    with open(out / f"race-{race}.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0][0] and len(table) == 1 + 2  # a header, and both lanes
    with open(out / f"race-{race}-laps.csv", newline="") as f:
        assert len(list(csv.reader(f))) > 1
    doc = json.loads((out / "pitwall-export.json").read_text())
    assert doc["format"] == "pitwall-export"
    assert [r["detail"]["race"]["name"] for r in doc["races"]] == ["Export me"]
    assert len(doc["races"][0]["laps"]) >= 4
