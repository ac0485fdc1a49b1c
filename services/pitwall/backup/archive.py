"""Backups: one archive with the race database, the settings (without secrets) and a
manifest with checksums; restoring checks everything before it touches the data.

The database is copied with SQLite's online backup API (``sqlite3.Connection.backup``),
not as a file: the copy is one consistent snapshot even while the lap service writes (in
WAL mode a reader never blocks the writer), and it holds every pass committed before the
backup began. The archive is a gzip'd tar:

    manifest.json   {"format": "pitwall-backup", "version": 1, "files": {name: sha256…}}
    pitwall.db      the snapshot
    settings.json   the settings in force, without secrets (the PIN, the Wi-Fi passphrase,
                    a database password): for reference; a restore does not apply them

Restore (``stage``: verify, then an atomic rename; the lap service swaps it in between
two batches, ``take_up_staged``) refuses an archive that is truncated, not Pitwall's,
from a newer format, fails a checksum or holds a database failing ``PRAGMA
integrity_check``, with a message saying which; the current database stays as it was
until the new one is verified, and the one replaced is kept beside it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

FORMAT = "pitwall-backup"
VERSION = 1
DB = "pitwall.db"
SETTINGS = "settings.json"
MANIFEST = "manifest.json"
STAGED = "restore-staged.db"  # data_dir: a verified database waiting to be taken up
SWAP_WAIT_S = 15.0  # a restore accepted: the lap service swaps it in within this
MAX_MEMBER = 8 * 1024**3  # a backup of many seasons is megabytes; refuse runaway members


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why (for the maintainer)."""


@dataclass(frozen=True, slots=True)
class Verified:
    """An archive that passed every check, its database unpacked to ``db_path``."""

    db_path: Path
    manifest: dict
    races: int
    passes: int


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(db_path: Path) -> bytes:
    """A consistent copy of the SQLite database at ``db_path`` (online backup API)."""
    if not db_path.exists():
        raise BackupError(f"no database at {db_path}: nothing to back up yet")
    with tempfile.TemporaryDirectory(prefix="pitwall-backup-") as tmp:
        copy = Path(tmp) / DB
        src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
        dst = sqlite3.connect(copy)
        try:
            with dst:
                src.backup(dst)  # all pages in one step: one read transaction, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        except sqlite3.Error as exc:
            raise BackupError(f"could not copy the database: {exc}") from None
        finally:
            src.close()
            dst.close()
        return copy.read_bytes()


def _counts(db: Path) -> tuple[int, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return (con.execute("SELECT count(*) FROM race").fetchone()[0],
                con.execute("SELECT count(*) FROM pass").fetchone()[0])
    finally:
        con.close()


def create(db_path: Path, public_settings: dict | None = None, *, track_name: str = "",
           pitwall_version: str = "unknown") -> bytes:
    """The archive, as bytes (a season's database is a few megabytes).

    ``public_settings``: the settings without secrets (``settings.public``)."""
    db = snapshot(db_path)
    files = {DB: db}
    if public_settings is not None:
        files[SETTINGS] = json.dumps(public_settings, indent=1, sort_keys=True).encode()
    with tempfile.NamedTemporaryFile(suffix=".db") as tmp:
        tmp.write(db)
        tmp.flush()
        races, passes = _counts(Path(tmp.name))
    manifest = {
        "format": FORMAT, "version": VERSION, "created_at": time.time(),
        "pitwall_version": pitwall_version, "track_name": track_name,
        "races": races, "passes": passes,
        "files": {name: {"sha256": _sha256(data), "bytes": len(data)}
                  for name, data in files.items()},
    }
    return tar_gz({MANIFEST: json.dumps(manifest, indent=1).encode(), **files})


def manifest_of(archive: bytes) -> dict:
    """The manifest of an archive this module made (no checks: see ``verify``)."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return json.loads(tar.extractfile(MANIFEST).read())


def tar_gz(files: dict[str, bytes], mode: int = 0o600) -> bytes:
    """A gzip'd tar of ``files`` (name -> content), in that order."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), mode
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _members(archive: bytes) -> dict[str, bytes]:
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            out = {}
            for member in tar:
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    raise BackupError(f"unexpected entry {member.name!r}: not a Pitwall "
                                      "backup")
                if member.size > MAX_MEMBER:
                    raise BackupError(f"{member.name} is too large for a Pitwall backup")
                out[member.name] = tar.extractfile(member).read()
            return out
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BackupError(f"the archive is damaged or incomplete ({exc})") from None


def verify(archive: bytes, workdir: Path) -> Verified:
    """Check everything; unpack the database into ``workdir``. Raises BackupError."""
    if not archive:
        raise BackupError("the file is empty: not a Pitwall backup")
    files = _members(archive)
    if MANIFEST not in files:
        raise BackupError("no manifest.json: not a Pitwall backup")
    try:
        manifest = json.loads(files[MANIFEST])
    except ValueError:
        raise BackupError("manifest.json is not readable: not a Pitwall backup") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("the manifest is not a Pitwall backup's")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
        raise BackupError(f"backup format {manifest.get('version')!r} is newer than this "
                          f"Pitwall reads ({VERSION}): update Pitwall first")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or DB not in listed:
        raise BackupError("the manifest lists no database")
    for name, meta in listed.items():
        if name not in files:
            raise BackupError(f"{name} is missing from the archive")
        if not isinstance(meta, dict) or _sha256(files[name]) != meta.get("sha256"):
            raise BackupError(f"{name} does not match its checksum: the archive is damaged")
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / f".verify-{os.getpid()}-{time.monotonic_ns()}.db"
    db.write_bytes(files[DB])
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            check = con.execute("PRAGMA integrity_check").fetchall()
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
        if check != [("ok",)]:
            raise BackupError(f"the database fails its integrity check ({check[0][0]})")
        if not {"race", "pass"} <= tables:
            raise BackupError("the database holds no Pitwall races")
        races, passes = _counts(db)
    except sqlite3.Error as exc:
        db.unlink(missing_ok=True)
        raise BackupError(f"the database cannot be read ({exc})") from None
    except BackupError:
        db.unlink(missing_ok=True)
        raise
    return Verified(db, manifest, races, passes)


def stage(archive: bytes, data_dir: Path) -> Verified:
    """Verify ``archive`` and put its database where the lap service takes it up (an
    atomic rename in ``data_dir``). Raises BackupError, leaving nothing staged."""
    verified = verify(archive, data_dir)
    target = data_dir / STAGED
    os.replace(verified.db_path, target)
    return Verified(target, verified.manifest, verified.races, verified.passes)


def unstage(data_dir: Path) -> None:
    """Drop a staged restore the lap service refused (or never answered for)."""
    (data_dir / STAGED).unlink(missing_ok=True)


def take_up_staged(data_dir: Path) -> Path | None:
    """Swap a staged database in for ``pitwall.db`` (the service holding no connection).

    The database replaced is kept as ``pitwall.db.before-restore-<time>``. Returns that
    path, or None when nothing was staged.
    """
    staged = data_dir / STAGED
    if not staged.exists():
        return None
    current = data_dir / DB
    kept = data_dir / f"{DB}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
    if current.exists():
        # Fold the WAL into the file first, so the copy kept is whole on its own.
        con = sqlite3.connect(current)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
        os.replace(current, kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{current}{suffix}").unlink(missing_ok=True)
    os.replace(staged, current)
    return kept if kept.exists() else None


def backups(folder: Path) -> list[Path]:
    """The backups in ``folder``, oldest first (their names sort by time: ``file_name``)."""
    return sorted(folder.glob("pitwall-backup-*.tar.gz"))


def rotate(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` backups in ``folder``; returns those removed."""
    found = backups(folder)
    removed = found[:-keep] if keep > 0 else []
    for path in removed:
        path.unlink()
    return removed


def file_name(track_name: str = "") -> str:
    """``pitwall-backup-YYYYmmdd-HHMMSSmmm-track.tar.gz``: to the millisecond, so two
    backups never share a name and the names sort as the backups were made."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"{int(now * 1000) % 1000:03d}"
    slug = re.sub(r"[^a-z0-9]+", "-", track_name.lower()).strip("-")
    return f"pitwall-backup-{stamp}{'-' + slug if slug else ''}.tar.gz"
