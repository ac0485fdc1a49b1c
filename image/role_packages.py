#!/usr/bin/env python3
"""Print the Debian packages the playbook's roles install, one per line, sorted.

The root folder is built with exactly these (mmdebstrap --include), so the playbook's
package tasks find everything present and converge without a network. The same list keys
the cache of prebuilt roots: change a role's packages and the next build starts afresh.

Every ``*_packages`` list in every role's ``defaults/main.yml`` counts, except from an
optional role: one whose defaults say ``<role>_enabled: false`` (the kiosk, which would add
Chromium to every image). Its packages count only when it is asked for, by name, in the
environment variable PITWALL_ROLES (comma-separated) or with ``--role NAME``:

    image/role_packages.py                          # the default image and test root
    PITWALL_ROLES=kiosk image/role_packages.py      # plus cage, Chromium, ...
    image/role_packages.py --role kiosk linux-image-arm64   # extra packages are added

A name that is no role's is an error, so a typo never silently builds the wrong root.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parent.parent / "ansible" / "roles"


def role_packages(roles_dir: Path = ROLES, enable: Iterable[str] = ()) -> list[str]:
    enable = set(enable)
    roles = {path.name for path in roles_dir.iterdir() if path.is_dir()}
    unknown = enable - roles
    if unknown:
        raise ValueError(f"no such role: {', '.join(sorted(unknown))} "
                         f"(roles: {', '.join(sorted(roles))})")
    packages: set[str] = set()
    for defaults in sorted(roles_dir.glob("*/defaults/main.yml")):
        role = defaults.parent.parent.name
        data = _defaults(defaults)
        if data.get(f"{role}_enabled") is False and role not in enable:
            continue
        for name, value in data.items():
            if name.endswith("_packages"):
                packages.update(value)
    return sorted(packages)


def _defaults(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def requested_roles(env: dict[str, str] | None = None) -> list[str]:
    """The optional roles named in PITWALL_ROLES."""
    value = (os.environ if env is None else env).get("PITWALL_ROLES", "")
    return [name.strip() for name in value.split(",") if name.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", action="append", default=[], metavar="NAME",
                        help="include this optional role's packages (also: PITWALL_ROLES)")
    parser.add_argument("extra", nargs="*", help="more packages to add to the list")
    args = parser.parse_args(argv)
    try:
        packages = role_packages(enable=[*requested_roles(), *args.role])
    except ValueError as exc:
        parser.error(str(exc))
    print("\n".join(sorted(set(packages) | set(args.extra))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
