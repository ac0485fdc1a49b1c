#!/usr/bin/env python3
"""Print a Raspberry Pi Imager repository entry (os_list JSON) for a built image.

Raspberry Pi Imager's "Use custom" repository (or --repo) takes this file, so a club can
flash the image from a list with its size and checksum checked while writing.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path


def entry(image: Path, raw_size: int, raw_sha256: str, url: str | None) -> dict:
    return {
        "os_list": [{
            "name": "Pitwall (race timing)",
            "description": "Slot-car race timing appliance: its own Wi-Fi hotspot, lap "
                           "board and race control. Debian bookworm, 64-bit.",
            "url": url or image.name,
            "release_date": datetime.date.today().isoformat(),
            "extract_size": raw_size,
            "extract_sha256": raw_sha256,
            "image_download_size": image.stat().st_size,
            "devices": ["pi3-64bit", "pi4-64bit", "pi5-64bit"],
            # pitwall.txt on the boot partition is how a club customises the image.
            "init_format": "none",
        }]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--raw-size", type=int, required=True)
    parser.add_argument("--raw-sha256", required=True)
    parser.add_argument("--url", help="where the .img.xz will be downloaded from")
    args = parser.parse_args()
    print(json.dumps(entry(args.image, args.raw_size, args.raw_sha256, args.url), indent=2))


if __name__ == "__main__":
    main()
