"""``pitwall backup``: back up, verify and restore the race data; export it for other
tools; write backups to a USB stick.

    pitwall backup create [--out PATH]       an archive (default: in the current folder)
    pitwall backup verify FILE               check an archive without restoring it
    pitwall backup restore FILE              verify, then have the lap service swap it in
    pitwall backup export DIR                CSV per race and one JSON of everything
    pitwall backup usb [--device DEV | --mount-point DIR] [--when-changed]

Exit status: 0 done (or nothing to do), 1 refused or failed (the message says why).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from pitwall import contract, version
from pitwall import settings as settings_mod
from pitwall.backup import archive, usb
from pitwall.settings import Settings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("create", help="write a backup archive")
    p.add_argument("--out", type=Path, default=Path("."),
                   help="file or folder to write to (default: the current folder)")
    p = sub.add_parser("verify", help="check an archive without restoring it")
    p.add_argument("file", type=Path)
    p = sub.add_parser("restore", help="restore an archive (not while a race is under way)")
    p.add_argument("file", type=Path)
    p = sub.add_parser("export", help="results as CSV per race and one JSON document")
    p.add_argument("folder", type=Path)
    p = sub.add_parser("usb", help="write a backup to a USB stick, rotated")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--device", type=Path,
                       help="the stick's partition (udev passes it); default: every USB "
                       "partition plugged in")
    where.add_argument("--mount-point", type=Path,
                       help="a folder where the stick is mounted already")
    p.add_argument("--when-changed", action="store_true",
                   help="skip when the newest backup there holds the same data")


def run(settings: Settings, args: argparse.Namespace) -> int:
    actions = {"create": _create, "verify": _verify, "restore": _restore,
               "export": _export, "usb": _usb}
    try:
        return actions[args.action](settings, args)
    except archive.BackupError as exc:
        print(f"pitwall backup {args.action}: {exc}", file=sys.stderr)
        return 1


def _sqlite_only(settings: Settings) -> None:
    if settings.database_url:
        raise archive.BackupError("backups are of the SQLite database; with PostgreSQL "
                                  "(database_url) use pg_dump and pg_restore")


def make(settings: Settings) -> bytes:
    _sqlite_only(settings)
    return archive.create(settings.database_path, settings_mod.public(settings),
                          track_name=settings.track_name, pitwall_version=version())


def _held(races: int, passes: int) -> str:
    return f"{races} race{'s' * (races != 1)}, {passes} passes"


def _summary(races: int, passes: int, size: int) -> str:
    return f"{_held(races, passes)}, {size / 1e6:.1f} MB"


def _create(settings: Settings, args: argparse.Namespace) -> int:
    data = make(settings)
    out: Path = args.out
    if out.is_dir():
        out = out / archive.file_name(settings.track_name)
    out = usb.write(out.parent, data, out.name)
    manifest = archive.manifest_of(data)
    print(f"wrote {out} ({_summary(manifest['races'], manifest['passes'], len(data))})")
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise archive.BackupError(f"cannot read {path}: {exc.strerror}") from None


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    data = _read(args.file)
    with tempfile.TemporaryDirectory(prefix="pitwall-verify-") as tmp:
        checked = archive.verify(data, Path(tmp))
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(checked.manifest["created_at"]))
    print(f"{args.file}: a good backup made {made} "
          f"({_summary(checked.races, checked.passes, len(data))})")
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from pitwall.bus.request import LapServiceDown, NoAnswer, request

    _sqlite_only(settings)
    data_dir = Path(settings.data_dir)
    try:
        staged = archive.stage(_read(args.file), data_dir)
    except archive.BackupError as exc:
        raise archive.BackupError(f"{exc}; nothing was changed") from None
    print(f"{args.file} verified ({_held(staged.races, staged.passes)})")
    try:
        reply = request(settings, contract.Restore(), tool="backup")
    except LapServiceDown:
        print("the lap service is not running: it takes the backup up when it starts "
              "(systemctl start pitwall-laps)")
        return 0
    except NoAnswer as exc:
        archive.unstage(data_dir)
        raise archive.BackupError(f"{exc}; nothing was changed") from None
    if not reply.ok:
        archive.unstage(data_dir)
        raise archive.BackupError(f"refused: {reply.error}; nothing was changed")
    deadline = time.monotonic() + archive.SWAP_WAIT_S
    while staged.db_path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if staged.db_path.exists():
        print("the lap service accepted the restore; it takes it up after its current work")
    else:
        print(f"restored: the lap service now holds {_held(staged.races, staged.passes)} "
              "(the database it replaced is kept beside it)")
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from pitwall.api.database import open_database
    from pitwall.api.export import write_folder

    def progress(done: int, total: int) -> None:
        print(f"\rrace {done}/{total}", end="", file=sys.stderr, flush=True)

    db = open_database(settings)
    with db.connection_context():
        written = write_folder(args.folder, settings.track_name, progress)
    print(file=sys.stderr)
    print(f"wrote {len(written)} files to {args.folder}")
    return 0


def _usb(settings: Settings, args: argparse.Namespace) -> int:
    if args.mount_point is not None:
        roots = [("", args.mount_point)]
    else:
        devices = [args.device] if args.device else usb.partitions()
        if not devices:
            print("no USB stick plugged in")
            return 0
        roots = [(str(d), d) for d in devices]
    data = make(settings)
    name = archive.file_name(settings.track_name)
    failed = 0
    for label, where in roots:
        try:
            if label:
                with usb.mounted(where) as point:
                    failed += _usb_one(settings, args, point, data, name)
            else:
                if not where.is_dir():
                    raise archive.BackupError(f"{where} is not a folder")
                failed += _usb_one(settings, args, where, data, name)
        except (archive.BackupError, OSError) as exc:
            log.error("USB backup to %s failed: %s", label or where, exc)
            print(f"pitwall backup usb: {label or where}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _usb_one(settings: Settings, args: argparse.Namespace, root: Path, data: bytes,
             name: str) -> int:
    folder = root / settings.backup.usb_folder
    done = usb.backup_to(folder, data, name, keep=settings.backup.usb_keep,
                         when_changed=args.when_changed)
    if done.path is None:
        print(f"{folder}: unchanged since the newest backup there")
    else:
        log.info("backup written to %s (%d old removed)", done.path, len(done.removed))
        print(f"wrote {done.path}" + (f"; removed {len(done.removed)} old"
                                       if done.removed else ""))
    return 0
