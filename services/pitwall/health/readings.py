"""What the box can tell about itself: pure parsers, and one reader over a root folder.

Every reading comes from a text file of the kernel (``/proc``, ``/sys``) or from the
Pi firmware's ``vcgencmd get_throttled``; the parsers take that text, so tests feed
recorded outputs, and ``Readings(root=...)`` reads a fake ``/sys`` and ``/proc`` tree.
Anything absent (a laptop has no throttling flags, a container no thermal zone) is
``None``: unknown, never a guess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The firmware's get_throttled bits (Raspberry Pi documentation, "vcgencmd").
THROTTLE_BITS = {
    0: "under_voltage", 1: "freq_capped", 2: "throttled", 3: "soft_temp_limit",
    16: "under_voltage_occurred", 17: "freq_capped_occurred", 18: "throttled_occurred",
    19: "soft_temp_limit_occurred",
}
# The same value as a file, on kernels with the Pi firmware driver.
SYS_THROTTLED = "sys/devices/platform/soc/soc:firmware/get_throttled"
SECTOR = 512  # /proc/diskstats counts 512-byte sectors, whatever the device's own size


def parse_throttled(text: str) -> int | None:
    """``throttled=0x50005`` (vcgencmd) or ``50005`` (the /sys file, hex) -> the bits."""
    value = text.strip().removeprefix("throttled=")
    try:
        return int(value, 16)
    except ValueError:
        return None


def throttle_flags(bits: int) -> dict[str, bool]:
    return {name: bool(bits >> bit & 1) for bit, name in THROTTLE_BITS.items()}


def parse_meminfo(text: str) -> tuple[int, int] | None:
    """(total, available) in KiB from /proc/meminfo."""
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0])
    if "MemTotal" not in fields or "MemAvailable" not in fields:
        return None
    return fields["MemTotal"], fields["MemAvailable"]


def parse_loadavg(text: str) -> tuple[float, float, float] | None:
    parts = text.split()
    try:
        return float(parts[0]), float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        return None


def parse_cpu_times(text: str) -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat's first line."""
    first = text.split("\n", 1)[0].split()
    if not first or first[0] != "cpu":
        return None
    try:
        values = [int(v) for v in first[1:]]
    except ValueError:
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def parse_sectors_written(text: str, major: int, minor: int) -> int | None:
    """Sectors written to device ``major:minor`` from /proc/diskstats (field 10)."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 10 and parts[0] == str(major) and parts[1] == str(minor):
            try:
                return int(parts[9])
            except ValueError:
                return None
    return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One reading of everything (None: this box cannot tell)."""

    uptime_s: float | None
    cpu_temp_c: float | None
    throttled: int | None  # the firmware's bits
    load: tuple[float, float, float] | None
    cpu: tuple[int, int] | None  # (busy, total) jiffies, for a rate between two readings
    mem_kib: tuple[int, int] | None  # (total, available)
    disk_bytes: tuple[int, int] | None  # (total, free) of the data partition
    sectors_written: int | None  # of the data partition's device


class Readings:
    """Reads a :class:`Snapshot` from ``root`` (``/`` on the box; a fake tree in tests)."""

    def __init__(self, data_dir: str, root: str = "/", vcgencmd: str | None = None) -> None:
        self.root = Path(root)
        self.data_dir = data_dir
        # vcgencmd is the firmware's own tool on Raspberry Pi OS; absent elsewhere.
        self.vcgencmd = vcgencmd if vcgencmd is not None else shutil.which("vcgencmd")

    def _text(self, relative: str) -> str | None:
        try:
            return (self.root / relative).read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def throttled(self) -> int | None:
        text = self._text(SYS_THROTTLED)
        if text is not None:
            return parse_throttled(text)
        if not self.vcgencmd:
            return None
        try:
            out = subprocess.run([self.vcgencmd, "get_throttled"], capture_output=True,
                                 text=True, timeout=2, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return parse_throttled(out.stdout) if out.returncode == 0 else None

    def cpu_temp_c(self) -> float | None:
        text = self._text("sys/class/thermal/thermal_zone0/temp")
        try:
            return int(text.strip()) / 1000 if text else None
        except ValueError:
            return None

    def disk(self) -> tuple[tuple[int, int] | None, int | None]:
        folder = Path(self.data_dir).absolute()
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # not made yet: the partition it will be on
        try:
            st = os.statvfs(folder)
            dev = os.stat(folder).st_dev
        except OSError:
            return None, None
        space = (st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)
        stats = self._text("proc/diskstats")
        written = None if stats is None else parse_sectors_written(
            stats, os.major(dev), os.minor(dev))
        return space, written

    def read(self) -> Snapshot:
        uptime = self._text("proc/uptime")
        try:
            uptime_s = float(uptime.split()[0]) if uptime else None
        except (IndexError, ValueError):
            uptime_s = None
        space, written = self.disk()
        return Snapshot(
            uptime_s=uptime_s, cpu_temp_c=self.cpu_temp_c(), throttled=self.throttled(),
            load=parse_loadavg(self._text("proc/loadavg") or ""),
            cpu=parse_cpu_times(self._text("proc/stat") or ""),
            mem_kib=parse_meminfo(self._text("proc/meminfo") or ""),
            disk_bytes=space, sectors_written=written)
