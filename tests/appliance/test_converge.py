"""The playbook converges on a Debian root, changes nothing the second time, and leaves a
root whose units, configs, program and accounts are right."""

from __future__ import annotations

import os
import subprocess
import tomllib

import pytest

from .conftest import ANSIBLE, BIN, Converged, in_root, recap_changed

pytestmark = pytest.mark.slow

PITWALL_UNITS = ["pitwall.target", "pitwall-laps.service", "pitwall-api.service",
                 "pitwall-lights.service", "pitwall-health.service", "pitwall-lane@1.service",
                 "pitwall-lane@2.service"]


def test_ansible_lint_is_clean():
    lint = BIN / "ansible-lint"
    if not lint.exists():
        pytest.skip("ansible-lint is not installed in the venv")
    result = subprocess.run([str(lint), "--offline", "--strict", "site.yml"], cwd=ANSIBLE,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_second_run_changes_nothing(converged: Converged):
    assert recap_changed(converged.runs[0].stdout) > 0
    second = converged.runs[1].stdout
    assert recap_changed(second) == 0, changed_tasks(second)


def changed_tasks(output: str) -> list[str]:
    """'TASK [...] -> changed: ...' for every change in a playbook's output."""
    task, found = "", []
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line.rstrip("* ")
        elif line.startswith("changed:"):
            found.append(f"{task} -> {line}")
    return found


def test_units_are_enabled_not_started(converged: Converged):
    wants = converged.root / "etc/systemd/system"
    for unit in PITWALL_UNITS[1:]:
        assert (wants / "pitwall.target.wants" / unit).is_symlink(), unit
    for unit in ["pitwall.target", "mosquitto.service", "pitwall-firstboot.service",
                 "pitwall-hotspot-firewall.service"]:
        assert (wants / "multi-user.target.wants" / unit).is_symlink(), unit
    # The hotspot starts when wlan0 appears: a Pi without Wi-Fi does not wait for it.
    wifi = wants / "sys-subsystem-net-devices-wlan0.device.wants"
    for unit in ["hostapd.service", "dnsmasq.service", "pitwall-hotspot-address.service"]:
        assert (wifi / unit).is_symlink(), unit
        assert (converged.root / str((wifi / unit).readlink()).lstrip("/")).exists(), unit
        assert not (wants / "multi-user.target.wants" / unit).exists(), unit
    # SSH is off by default.
    assert not (wants / "multi-user.target.wants/ssh.service").exists()
    # A live-timing feed is optional: its unit is written, not enabled (docs/feeds.md).
    assert (wants / "pitwall-feed-apex.service").exists()
    assert not (wants / "pitwall.target.wants/pitwall-feed-apex.service").exists()


def test_units_pass_systemd_analyze_verify(converged: Converged):
    units = PITWALL_UNITS + ["pitwall-firstboot.service", "pitwall-hotspot-address.service",
                             "pitwall-hotspot-firewall.service", "pitwall-backup-usb.service",
                             "pitwall-backup-usb.timer", "pitwall-backup-usb@sdb1.service",
                             "pitwall-feed-apex.service"]
    result = subprocess.run(["systemd-analyze", "verify", f"--root={converged.root}",
                             *units], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_units_sandbox_the_services(converged: Converged):
    lane = (converged.root / "etc/systemd/system/pitwall-lane@.service").read_text()
    for line in ["User=pitwall", "SupplementaryGroups=gpio", "ProtectSystem=strict",
                 "PrivateTmp=true", "Restart=on-failure", "PartOf=pitwall.target",
                 "After=mosquitto.service"]:
        assert line in lane
    group = in_root(converged.root, "id", "-nG", "pitwall").stdout.split()
    assert "gpio" in group


def test_a_usb_stick_plugged_in_gets_a_backup(converged: Converged):
    """udev starts the backup unit for a USB partition with a file system; a timer backs
    up to the sticks plugged in when the data changed. The unit mounts, so it runs as
    root, but without a way to gain privileges."""
    etc = converged.root / "etc"
    rule = (etc / "udev/rules.d/70-pitwall-backup-usb.rules").read_text()
    line = next(x for x in rule.splitlines() if x.startswith("ACTION"))
    for match in ['ACTION=="add"', 'SUBSYSTEM=="block"', 'ENV{ID_BUS}=="usb"',
                  'ENV{DEVTYPE}=="partition"', 'ENV{ID_FS_USAGE}=="filesystem"',
                  'TAG+="systemd"', 'ENV{SYSTEMD_WANTS}+="pitwall-backup-usb@%k.service"']:
        assert match in line, match
    unit = (etc / "systemd/system/pitwall-backup-usb@.service").read_text()
    assert "ExecStart=/opt/pitwall/venv/bin/pitwall backup usb --device /dev/%I" in unit
    assert "NoNewPrivileges=true" in unit and "Type=oneshot" in unit
    assert (etc / "systemd/system/timers.target.wants/pitwall-backup-usb.timer").is_symlink()
    timer = (etc / "systemd/system/pitwall-backup-usb.timer").read_text()
    assert "OnCalendar=*:0/15" in timer


def test_dnsmasq_accepts_the_rendered_config(converged: Converged):
    result = in_root(converged.root, "dnsmasq", "--test", "-C", "/etc/dnsmasq.d/pitwall.conf")
    assert "syntax check OK" in result.stdout + result.stderr


def test_nftables_accepts_the_rendered_rules(converged: Converged):
    in_root(converged.root, "nft", "-c", "-f", "/etc/pitwall/hotspot.nft")


def test_mosquitto_listens_on_localhost_only(converged: Converged):
    conf = (converged.root / "etc/mosquitto/conf.d/pitwall.conf").read_text()
    listeners = [line for line in conf.splitlines() if line.startswith("listener")]
    assert listeners == ["listener 1883 127.0.0.1"]
    for line in ["persistence true", "set_tcp_nodelay true", "max_inflight_messages 100"]:
        assert line in conf.splitlines()


def test_mosquitto_has_limits_and_checks_its_persistence_at_start(converged: Converged):
    from pitwall.dev import broker

    conf = (converged.root / "etc/mosquitto/conf.d/pitwall.conf").read_text().splitlines()
    for line in [*broker.LIMITS, "autosave_interval 60"]:  # the same as pitwall up's
        assert line in conf
    dropin = (converged.root / "etc/systemd/system/mosquitto.service.d"
              / "pitwall-persistence.conf").read_text()
    check = "/usr/local/libexec/pitwall-mosquitto-persistence-check"
    assert f"ExecStartPost=-{check} $MAINPID /var/lib/mosquitto/mosquitto.db" in dropin
    assert os.access(converged.root / check.lstrip("/"), os.X_OK)


def test_mosquitto_logs_to_the_journal_not_the_sd_card(converged: Converged):
    confs = [converged.root / "etc/mosquitto/mosquitto.conf",
             *(converged.root / "etc/mosquitto/conf.d").glob("*.conf")]
    log_lines = [line for path in confs for line in path.read_text().splitlines()
                 if line.startswith("log_dest")]
    assert log_lines == ["log_dest stderr"]


def test_venv_imports_pitwall_and_reads_the_settings(converged: Converged):
    in_root(converged.root, "/opt/pitwall/venv/bin/python", "-c",
            "import pitwall, pitwall.api.app, pitwall.laps.main, lgpio")
    result = in_root(converged.root, "/opt/pitwall/venv/bin/pitwall", "--config",
                     "/etc/pitwall/pitwall.toml", "settings")
    assert "/opt/pitwall/webui" in result.stdout


def test_no_default_password_anywhere(converged: Converged):
    for line in (converged.root / "etc/shadow").read_text().splitlines():
        name, hashed = line.split(":")[:2]
        assert hashed.startswith(("!", "*")), f"{name} has a usable or empty password"
    settings = tomllib.loads((converged.root / "etc/pitwall/pitwall.toml").read_text())
    # No PIN and no Wi-Fi passphrase before first boot generates this device's own.
    assert settings["director_pin"] == ""
    assert settings["wifi"]["passphrase"] == ""
    sshd = (converged.root / "etc/ssh/sshd_config.d/pitwall.conf").read_text()
    assert "PasswordAuthentication no" in sshd


def test_no_open_wifi_before_first_boot(converged: Converged):
    """No passphrase and no country yet: hostapd.conf is empty, so Debian's unit
    (ConditionFileNotEmpty) keeps hostapd from starting an open, unregulated network."""
    conf = converged.root / "etc/hostapd/hostapd.conf"
    assert conf.stat().st_size == 0
    assert conf.stat().st_mode & 0o077 == 0
    unit = (converged.root / "usr/lib/systemd/system/hostapd.service").read_text()
    assert "ConditionFileNotEmpty=/etc/hostapd/hostapd.conf" in unit


def test_image_is_generic(converged: Converged):
    """Nothing that must be unique per Pi is baked in: first boot makes it."""
    assert not list((converged.root / "etc/ssh").glob("ssh_host_*"))
    assert (converged.root / "etc/machine-id").read_text() == ""
    assert not (converged.root / "etc/pitwall/device.json").exists()
    assert (converged.root / "boot/firmware/pitwall.txt").exists()


def test_storage_tools_are_installed(converged: Converged):
    """What pitwall-storage runs at first boot is in the root (growpart, sfdisk, ...)."""
    for tool in ["growpart", "resize2fs", "sfdisk", "blkid", "mkfs.ext4", "udevadm",
                 "findmnt"]:
        in_root(converged.root, "sh", "-c", f"command -v {tool}")
    help_text = in_root(converged.root, "/usr/local/sbin/pitwall-storage", "--help").stdout
    assert "readonly" in help_text
    boot = (converged.root / "boot/firmware/pitwall.txt").read_text()
    assert "readonly=no" in boot.splitlines()


def test_journal_is_volatile(converged: Converged):
    conf = (converged.root / "etc/systemd/journald.conf.d/pitwall.conf").read_text()
    assert "Storage=volatile" in conf
