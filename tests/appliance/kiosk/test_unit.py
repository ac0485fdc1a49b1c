"""The optional kiosk role (docs/kiosk.md), as Ansible renders it (render.yml, the role's
own defaults): an unprivileged user on tty1, restarts without limit, the TV board of the
API on the configured port, flags that keep Chromium off the internet, the settings
(rotation, another page, the pointer, the zoom) landing where they should; the README in
the defaults' order; image/role_packages.py leaves the kiosk's packages out unless asked."""


from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

from ..conftest import (
    ANSIBLE,
    IMAGE,
    REPO,
)
from .support import (
    REQUIRED_FLAGS,
    ROLE,
    USER,
    needs_ansible,
    render,
)


# ------------------------------------------------------------------------- the unit
def test_unit_runs_the_board_unprivileged_on_tty1_and_always_restarts(rendered):
    assert rendered.unit.startswith("#\n# Managed by Pitwall's Ansible playbook")
    unit, service = rendered.sections["Unit"], rendered.sections["Service"]
    assert service["User"] == [USER] and USER != "root"
    assert "Group" not in service  # the user's own group
    assert service["PAMName"] == ["pitwall-kiosk"]
    assert service["TTYPath"] == ["/dev/tty1"]
    assert service["StandardInput"] == ["tty-fail"]
    assert "getty@tty1.service" in " ".join(unit["Conflicts"])
    assert service["Restart"] == ["always"]
    assert unit["StartLimitIntervalSec"] == ["0"]  # never gives up restarting
    assert service["NoNewPrivileges"] == ["yes"]
    assert rendered.sections["Install"]["WantedBy"] == ["multi-user.target"]
    # The compositor runs the browser; nothing else (no shell, no desktop).
    assert rendered.cage == ["/usr/bin/cage"]
    assert rendered.chromium[0] == "/usr/bin/chromium"
    # Home, profile and cache in RAM, recreated at each start.
    assert service["RuntimeDirectory"] == ["pitwall-kiosk"]
    assert rendered.environment["HOME"] == "/run/pitwall-kiosk"
    assert "--user-data-dir=/run/pitwall-kiosk/chromium" in rendered.chromium
    assert rendered.environment["WLR_LIBINPUT_NO_DEVICES"] == "1"  # a TV and no keyboard
    # logind's session is what hands the unprivileged user the screen.
    assert re.search(r"^session\s+required\s+pam_systemd\.so$", rendered.pam, re.M)
    assert rendered.pam.startswith("#\n# Managed by Pitwall's Ansible playbook")


def test_unit_shows_the_tv_board_of_the_api_on_its_port(rendered, tmp_path):
    defaults = yaml.safe_load((ANSIBLE / "roles/pitwall/defaults/main.yml").read_text())
    port = defaults["pitwall_api_port"]
    assert rendered.chromium[-1] == f"http://127.0.0.1:{port}/tv.html"
    assert (REPO / "webui/tv.html").is_file()  # the static router serves webui/ at /
    # The wait step asks the same server's health route before the browser starts.
    prepare = rendered.exec_words("ExecStartPre")
    assert prepare[0] == "/usr/local/libexec/pitwall-kiosk-prepare"
    assert prepare[prepare.index("--wait") + 1] == f"http://127.0.0.1:{port}/api/health"
    # Another API port moves both.
    other = render(tmp_path, pitwall_api_port=8080)
    assert other.chromium[-1] == "http://127.0.0.1:8080/tv.html"
    assert "http://127.0.0.1:8080/api/health" in other.exec_words("ExecStartPre")


def test_chromium_flags_keep_it_off_the_internet(rendered):
    flags = rendered.chromium[1:-1]
    for flag in REQUIRED_FLAGS:
        assert flag in flags, flag
    # Backstop: no name but the page's own host resolves.
    assert "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" in flags
    # Sandboxing stays on (only the tests add --no-sandbox, as root).
    assert "--no-sandbox" not in flags and "--headless" not in flags


def test_unit_follows_the_kiosk_settings(tmp_path):
    needs_ansible()
    url = "http://pitwall.lan:8080/driver.html?car=3&name=A%20B"
    custom = render(tmp_path, kiosk_url=url, kiosk_rotate=270, kiosk_scale=2, kiosk_vt=2,
                    kiosk_hide_cursor=False, kiosk_chromium_extra_flags=["--disable-gpu"])
    assert custom.cage == ["/usr/bin/cage", "-r", "-r", "-r"]
    assert custom.chromium[-1] == url  # % and & survive systemd's parsing
    assert custom.chromium[-2] == "--disable-gpu"  # extra flags come after the role's
    assert "--force-device-scale-factor=2" in custom.chromium
    assert "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE pitwall.lan" in custom.chromium
    prepare = custom.exec_words("ExecStartPre")
    assert prepare[prepare.index("--wait") + 1] == "http://pitwall.lan:8080/api/health"
    assert "--cursors" not in prepare and "XCURSOR_PATH" not in custom.environment
    assert custom.service("TTYPath") == ["/dev/tty2"]
    assert "getty@tty2.service" in " ".join(custom.sections["Unit"]["Conflicts"])
    upright = render(tmp_path / "upright", kiosk_rotate=90)
    assert upright.cage == ["/usr/bin/cage", "-r"]
    assert upright.environment["XCURSOR_PATH"] == "/run/pitwall-kiosk/icons"


def test_readme_lists_every_variable_in_the_defaults_order():
    defaults = list(yaml.safe_load((ROLE / "defaults/main.yml").read_text()))
    readme = (ROLE / "README.md").read_text()
    assert re.findall(r"^\| `(kiosk_\w+)` \|", readme, re.M) == defaults
    assert defaults[0] == "kiosk_enabled"
    assert yaml.safe_load((ROLE / "defaults/main.yml").read_text())["kiosk_enabled"] is False
    site = yaml.safe_load((ANSIBLE / "site.yml").read_text())
    (kiosk,) = [r for r in site[0]["roles"] if r["role"] == "kiosk"]
    assert kiosk["when"] == "kiosk_enabled | bool"
    assert "make image KIOSK=1" in (REPO / "docs/kiosk.md").read_text()


# ------------------------------------------------------------------ the image's packages
def role_packages(*args: str, roles: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PITWALL_ROLES"}
    if roles is not None:
        env["PITWALL_ROLES"] = roles
    return subprocess.run([sys.executable, str(IMAGE / "role_packages.py"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_kiosk_packages_stay_out_of_the_default_root():
    kiosk = set(yaml.safe_load((ROLE / "defaults/main.yml").read_text())["kiosk_packages"])
    assert {"cage", "chromium", "xwayland"} <= kiosk
    default = set(role_packages().stdout.split())
    assert default and not kiosk & default
    assert {"systemd", "mosquitto", "hostapd", "python3"} <= default
    for asked in (role_packages(roles="kiosk"), role_packages("--role", "kiosk")):
        assert asked.returncode == 0, asked.stderr
        assert set(asked.stdout.split()) == default | kiosk
    extra = role_packages("--role", "kiosk", "linux-image-arm64")
    assert set(extra.stdout.split()) == default | kiosk | {"linux-image-arm64"}
    typo = role_packages(roles="kiosks")
    assert typo.returncode != 0 and "no such role: kiosks" in typo.stderr


