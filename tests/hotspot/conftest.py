"""Skips for the hotspot tests: they run real dnsmasq, hostapd, nft and network
namespaces, which need root and the Debian packages (services/scripts/install-system-deps.sh)."""

from __future__ import annotations

import os
import shutil

import pytest

TOOLS = ("dnsmasq", "hostapd", "nft", "ip", "udhcpc", "dig", "curl", "unshare")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: network namespaces, nftables and dnsmasq on port 53"
    if missing_tools():
        return (f"missing {', '.join(missing_tools())} (Debian: dnsmasq-base hostapd "
                "nftables udhcpc bind9-dnsutils curl; services/scripts/install-system-deps.sh)")
    return None


needs_root_and_tools = pytest.mark.skipif(skip_reason() is not None,
                                          reason=skip_reason() or "")
