"""The "download diagnostics" archive: what someone helping the maintainer needs to see.

    README.txt      what is in here
    journal.txt     the Pitwall units' journal of the last day (or why there is none)
    settings.json   the settings in force, without secrets (``settings.public``)
    health.json     the latest health reading and the last hour
    versions.json   Pitwall, Python, the OS and the kernel
    lap-stats.json  the lap service's counters

No MAC addresses, PINs or passphrases: the archive may be mailed to anyone.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import time
from pathlib import Path

import msgspec

from pitwall import settings as settings_mod
from pitwall import version
from pitwall.backup.archive import tar_gz

JOURNAL_LINES = 20_000  # about 2 MB of text: a day of a busy club night and then some
UNITS = "pitwall-*"

README = """Pitwall diagnostics, made {when} on {track}.
journal.txt: the Pitwall services' log of the last 24 hours (systemd journal)
settings.json: the settings, with the PIN, Wi-Fi passphrase and any password removed
health.json: the latest health reading and the last hour
versions.json: software versions; lap-stats.json: the lap service's counters
"""


def journal(runner=subprocess.run) -> str:
    if shutil.which("journalctl") is None or not Path("/run/systemd/system").is_dir():
        return "no systemd journal on this machine (not the appliance image?)\n"
    try:
        out = runner(["journalctl", "--no-pager", "-o", "short-iso", "--since", "-24h",
                      "-n", str(JOURNAL_LINES), "-u", UNITS],
                     capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"journalctl failed: {exc}\n"
    return out.stdout or f"journalctl printed nothing ({out.stderr.strip()})\n"


def versions() -> dict:
    os_release = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            os_release[key] = value.strip('"')
    except OSError:
        pass
    return {"pitwall": version(), "python": platform.python_version(),
            "os": os_release.get("PRETTY_NAME", platform.platform()),
            "kernel": platform.release(), "machine": platform.machine()}


def archive(settings, health_now, health_history, lap_stats, runner=subprocess.run) -> bytes:
    """The archive as bytes; ``health_*`` and ``lap_stats``: msgspec structs or None."""
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    files = {
        "README.txt": README.format(when=when, track=settings.track_name).encode(),
        "journal.txt": journal(runner).encode(),
        "settings.json": json.dumps(settings_mod.public(settings), indent=1).encode(),
        "health.json": msgspec.json.format(msgspec.json.encode(
            {"now": health_now, "history": health_history})),
        "versions.json": json.dumps(versions(), indent=1).encode(),
        "lap-stats.json": msgspec.json.encode(lap_stats),
    }
    return tar_gz({f"pitwall-diagnostics/{name}": data for name, data in files.items()},
                  mode=0o644)
