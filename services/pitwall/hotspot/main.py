"""``pitwall hotspot render --out DIR``: write the hotspot's configuration files.

The Pi image's Ansible role renders the same templates itself; this command is for
checking a settings file, for the namespace tests, and for a hand-built hotspot.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pitwall.hotspot.render import SOURCE_TREE_TEMPLATES, HotspotError, render, write
from pitwall.settings import Settings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("render", help="render hostapd, dnsmasq, nftables and unit files")
    p.add_argument("--out", required=True, type=Path, help="folder to write the files to")
    p.add_argument("--templates", type=Path, default=SOURCE_TREE_TEMPLATES,
                   help=f"template folder (default: {SOURCE_TREE_TEMPLATES})")


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        files = render(settings, args.templates)
    except HotspotError as exc:
        print(f"pitwall hotspot: {exc}", file=sys.stderr)
        return 2
    if not settings.wifi.passphrase:
        log.warning("wifi.passphrase is empty: the race Wi-Fi will be an OPEN network")
    for path in write(files, args.out):
        print(path)
    return 0
