"""pitwall-firstboot on a root folder: presets from pitwall.txt are used, the rest is
generated once, written back for the owner, and never regenerated."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from .conftest import ANSIBLE

FIRSTBOOT = ANSIBLE / "roles/base/files/pitwall-firstboot"

SETTINGS = """# managed
# >>> device: written by pitwall-firstboot from /etc/pitwall/device.json
director_pin = ""
wifi.ssid = "Pitwall"
wifi.passphrase = ""
wifi.country = ""
lanes = [{lane = 1, pin = 17}, {lane = 2, pin = 27}]
# <<< device

track_name = "Club"

[mqtt]
port = 1883
"""


def make_root(tmp_path: Path, boot_text: str | None) -> Path:
    root = tmp_path / "root"
    (root / "etc/pitwall").mkdir(parents=True)
    (root / "etc/pitwall/pitwall.toml").write_text(SETTINGS)
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n")
    (root / "boot/firmware").mkdir(parents=True)
    if boot_text is not None:
        (root / "boot/firmware/pitwall.txt").write_bytes(boot_text.encode())
    return root


def firstboot(root: Path) -> None:
    subprocess.run([sys.executable, str(FIRSTBOOT), "--root", str(root), "--no-system"],
                   check=True, capture_output=True, text=True, timeout=60)


def boot_values(root: Path) -> dict[str, str]:
    text = (root / "boot/firmware/pitwall.txt").read_text()
    return dict(line.split("=", 1) for line in text.splitlines()
                if line and not line.startswith("#"))


def test_generates_once_and_writes_back(tmp_path):
    root = make_root(tmp_path, None)
    firstboot(root)
    device = json.loads((root / "etc/pitwall/device.json").read_text())
    settings_after_first = (root / "etc/pitwall/pitwall.toml").read_text()
    firstboot(root)
    assert json.loads((root / "etc/pitwall/device.json").read_text()) == device
    assert (root / "etc/pitwall/pitwall.toml").read_text() == settings_after_first

    assert device["hostname"] == f"pitwall-{device['suffix']}"
    assert device["ssid"] == f"Pitwall-{device['suffix'].upper()}"
    assert device["pin"].isdigit() and len(device["pin"]) == 6
    assert 8 <= len(device["passphrase"]) <= 63
    assert (root / "etc/pitwall/device.json").stat().st_mode & 0o077 == 0  # secrets

    settings = tomllib.loads(settings_after_first)
    assert settings["director_pin"] == device["pin"]
    assert settings["wifi"] == {"ssid": device["ssid"], "passphrase": device["passphrase"],
                                "country": ""}
    assert settings["lanes"] == [{"lane": 1, "pin": 17}, {"lane": 2, "pin": 27}]
    assert settings["track_name"] == "Club"  # the rest of the file is left alone
    assert (root / "etc/hostname").read_text() == device["hostname"] + "\n"
    assert f"127.0.1.1\t{device['hostname']}" in (root / "etc/hosts").read_text()

    written = boot_values(root)
    assert written["pin"] == device["pin"]
    assert written["passphrase"] == device["passphrase"]
    assert written["ssid"] == device["ssid"]


def test_two_devices_get_different_secrets(tmp_path):
    one, two = make_root(tmp_path / "a", None), make_root(tmp_path / "b", None)
    firstboot(one)
    firstboot(two)
    a = json.loads((one / "etc/pitwall/device.json").read_text())
    b = json.loads((two / "etc/pitwall/device.json").read_text())
    assert a["passphrase"] != b["passphrase"]
    assert (a["suffix"], a["pin"]) != (b["suffix"], b["pin"])


def test_presets_from_the_boot_partition_win(tmp_path):
    # As a Windows editor saves it: BOM and CRLF.
    boot = ("\ufeff# edited on a laptop\r\ncountry=gb\r\nssid=Club Track\r\n"
            "passphrase=slotcars-rule\r\npin=4242\r\nlanes=4\r\nlane_pins=17, 27, 22, 23\r\n"
            "ssh_key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample owner@laptop\r\n")
    root = make_root(tmp_path, boot)
    firstboot(root)
    settings = tomllib.loads((root / "etc/pitwall/pitwall.toml").read_text())
    assert settings["director_pin"] == "4242"
    assert settings["wifi"] == {"ssid": "Club Track", "passphrase": "slotcars-rule",
                                "country": "GB"}
    assert [lane["pin"] for lane in settings["lanes"]] == [17, 27, 22, 23]
    assert "owner@laptop" in (root / "root/.ssh/authorized_keys").read_text()
    device = json.loads((root / "etc/pitwall/device.json").read_text())
    assert device["generated"] == ["hostname"]
    assert boot_values(root)["pin"] == "4242"


def test_bad_presets_are_replaced_by_generated_values(tmp_path):
    root = make_root(tmp_path, "passphrase=short\npin=\ncountry=Germany\n")
    firstboot(root)
    device = json.loads((root / "etc/pitwall/device.json").read_text())
    assert device["passphrase"] != "short" and len(device["passphrase"]) >= 8
    assert device["country"] == ""
    assert device["pin"].isdigit()


def test_later_edits_of_the_boot_file_do_not_regenerate(tmp_path):
    root = make_root(tmp_path, None)
    firstboot(root)
    device = json.loads((root / "etc/pitwall/device.json").read_text())
    (root / "boot/firmware/pitwall.txt").write_text("pin=\npassphrase=\n")
    firstboot(root)
    assert json.loads((root / "etc/pitwall/device.json").read_text()) == device
    assert boot_values(root)["pin"] == device["pin"]


def test_a_forgotten_country_can_still_be_given_later(tmp_path):
    """Without a country the Wi-Fi stays off, so pitwall.txt may still supply one; the
    secrets it was generated with stay as they were."""
    root = make_root(tmp_path, "pin=4242\n")
    firstboot(root)
    device = json.loads((root / "etc/pitwall/device.json").read_text())
    assert device["country"] == ""
    (root / "boot/firmware/pitwall.txt").write_text("country=de\npin=9999\n")
    firstboot(root)
    later = json.loads((root / "etc/pitwall/device.json").read_text())
    assert later == {**device, "country": "DE"}
    settings = tomllib.loads((root / "etc/pitwall/pitwall.toml").read_text())
    assert settings["wifi"]["country"] == "DE" and settings["director_pin"] == "4242"
    assert boot_values(root)["country"] == "DE"
    # Once set, it is kept like everything else.
    (root / "boot/firmware/pitwall.txt").write_text("country=FR\n")
    firstboot(root)
    assert json.loads((root / "etc/pitwall/device.json").read_text())["country"] == "DE"
