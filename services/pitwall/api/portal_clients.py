"""Which phones have tapped through the captive portal, remembered across API restarts.

A phone is known by its IP address (the TCP peer) and, where dnsmasq's lease file can be
read, by its MAC address too: a phone that comes back with a new IP keeps its "online"
answer, and a phone that gets an IP another phone had before does not inherit it.

The list lives in memory and in ``<data_dir>/portal-clients.json`` (written atomically,
mode 0600: MAC addresses are personal data). Acceptance expires by the wall clock, the
only clock that survives a reboot (a Pi without a real-time clock may start with it
wrong, which at worst shows the portal again or keeps a phone online a little longer).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from pitwall.api import private_file

log = logging.getLogger(__name__)

MAX_CLIENTS = 2048  # far more phones than a hotspot's DHCP range; bounds memory and file
REFRESH_S = 300.0  # a repeated tap within this long changes nothing on disk (SD card)
MAX_LEASES_BYTES = 1_000_000  # a real lease file is a few KB; never read a runaway one
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """One device on the race Wi-Fi, as dnsmasq's lease file has it."""

    mac: str
    ip: str
    hostname: str | None  # dnsmasq writes "*" for a device that gave none
    expires_at: int  # seconds since 1970; 0: an infinite lease


@dataclass
class Accepted:
    ip: str
    mac: str | None
    until: float  # wall clock, seconds since 1970
    at: float  # when it was last written (for REFRESH_S)


class Leases:
    """IP -> MAC from dnsmasq's lease file (``expiry mac ip hostname clientid`` per line).

    Re-read when the file changes (by mtime and size). A missing or garbled file gives
    no MACs, and says so once in the log, never an error to the phone.
    """

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else None
        self._stamp: tuple[int, int] | None = None
        self._leases: list[Lease] = []
        self._macs: dict[str, str] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def mac_of(self, ip: str) -> str | None:
        with self._lock:
            self._refresh()
            return self._macs.get(ip)

    def all(self) -> list[Lease]:
        """Every device with a lease (the maintainer's page)."""
        with self._lock:
            self._refresh()
            return list(self._leases)

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            if st.st_size > MAX_LEASES_BYTES:
                raise OSError(f"{st.st_size} bytes, more than a lease file can be")
            text = self.path.read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            self._leases, self._macs, self._stamp = [], {}, None
            self._warn_once(f"cannot read {self.path} ({exc}): phones are known by IP only")
            return
        self._stamp = stamp
        self._leases, bad = parse_leases(text)
        self._macs = {lease.ip: lease.mac for lease in self._leases}
        if bad:
            self._warn_once(f"{self.path}: {bad} line(s) not in dnsmasq's lease format "
                            "were skipped")

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning(message)


def parse_leases(text: str) -> tuple[list[Lease], int]:
    """(the leases, number of lines skipped) from a dnsmasq lease file."""
    leases: list[Lease] = []
    bad = 0
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] == "duid":  # blank; DHCPv6 server DUID line
            continue
        if len(fields) < 3 or not fields[0].isdigit() or not _MAC.match(fields[1].lower()):
            bad += 1
            continue
        name = fields[3] if len(fields) > 3 and fields[3] != "*" else None
        leases.append(Lease(mac=fields[1].lower(), ip=fields[2], hostname=name,
                            expires_at=int(fields[0])))
    return leases, bad


class PortalClients:
    """The phones that tapped "Go to the lap board", and until when."""

    def __init__(self, path: Path | None, leases: Leases, ttl_s: int, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.leases = leases
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._by_ip: dict[str, Accepted] = {}
        self._load()

    def accepted_until(self, ip: str) -> float | None:
        """Until when this client is online (wall clock), or None while it is captive."""
        mac = self.leases.mac_of(ip)
        now = self.clock()
        with self._lock:
            entry = self._by_ip.get(ip)
            # The same IP counts only if it is still the same phone (when we can tell).
            if entry and entry.until > now and (mac is None or entry.mac in (None, mac)):
                return entry.until
            if mac is not None:
                for other in self._by_ip.values():
                    if other.mac == mac and other.until > now:
                        return other.until
        return None

    def accept(self, ip: str) -> float:
        """Mark this client online for ``ttl_s``; returns until when."""
        mac = self.leases.mac_of(ip)
        now = self.clock()
        with self._lock:
            entry = self._by_ip.get(ip)
            if entry and entry.mac == mac and now - entry.at < REFRESH_S and entry.until > now:
                return entry.until  # a double tap or a reload: nothing new to write
            if mac is not None:  # this phone's old IP (or a stale IP entry) goes
                self._by_ip = {k: v for k, v in self._by_ip.items() if v.mac != mac}
            self._by_ip[ip] = Accepted(ip=ip, mac=mac, until=now + self.ttl_s, at=now)
            self._prune(now)
            self._save()
            return self._by_ip[ip].until

    def _prune(self, now: float) -> None:
        live = [e for e in self._by_ip.values() if e.until > now]
        live.sort(key=lambda e: e.at)
        self._by_ip = {e.ip: e for e in live[-MAX_CLIENTS:]}  # the oldest go first

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            now = self.clock()
            for item in data["clients"]:
                entry = Accepted(ip=str(item["ip"]), mac=item.get("mac") and str(item["mac"]),
                                 until=float(item["until"]), at=float(item["at"]))
                if entry.until > now:
                    self._by_ip[entry.ip] = entry
            self._prune(now)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            self._by_ip = {}
            log.warning("ignoring unreadable %s (%s): phones see the portal again",
                        self.path, exc)

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"clients": [{"ip": e.ip, "mac": e.mac, "until": e.until, "at": e.at}
                            for e in self._by_ip.values()]}
        try:
            private_file.write_json(self.path, data)
        except OSError as exc:  # the phone is online now; it just won't survive a restart
            log.warning("cannot save portal clients to %s: %s", self.path, exc)
