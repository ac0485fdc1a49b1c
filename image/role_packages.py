#!/usr/bin/env python3
"""Print the Debian packages the playbook's roles install, one per line, sorted.

The root folder is built with exactly these (mmdebstrap --include), so the playbook's
package tasks find everything present and converge without a network. The same list keys
the cache of prebuilt roots: change a role's packages and the next build starts afresh.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parent.parent / "ansible" / "roles"


def role_packages(roles_dir: Path = ROLES) -> list[str]:
    packages: set[str] = set()
    for defaults in sorted(roles_dir.glob("*/defaults/main.yml")):
        data = yaml.safe_load(defaults.read_text()) or {}
        for name, value in data.items():
            if name.endswith("_packages"):
                packages.update(value)
    return sorted(packages)


if __name__ == "__main__":
    extra = sys.argv[1:]
    print("\n".join(sorted(set(role_packages()) | set(extra))))
