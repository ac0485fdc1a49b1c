"""The ``pitwall`` command: one subcommand per process, plus development tools.

Each subcommand's module is imported only when it runs, so a lane reader does not load
the lap service's database layer and vice versa (memory on a Pi is shared by all).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pitwall import settings as settings_mod
from pitwall.log import setup_logging

# subcommand -> (module with run(settings, args) -> int, help)
COMMANDS = {
    "lane": ("pitwall.lane.main", "read one lane's sensor and publish passes"),
    "laps": ("pitwall.laps.main", "lap service: passes -> laps, race state, storage"),
    "api": ("pitwall.api.main", "web server: REST API, live push, the web app"),
    "lights": ("pitwall.lights.main", "start lights, flags, track power, director's buttons"),
    "health": ("pitwall.health.main", "publish the box's health: temperature, power, disk"),
    "backup": ("pitwall.backup.main", "back up, verify, restore and export the race data"),
    "archive": ("pitwall.cluster.writer", "cluster: mirror one track's races into the central "
                "database"),
    "cluster": ("pitwall.cluster.main", "cluster: central broker, tracks, bridge, load "
                "balancer; `cluster up` for development"),
    "up": ("pitwall.dev.up", "development stack: broker, lap service, simulated cars"),
    "sim": ("pitwall.sim.main", "publish simulated cars' passes"),
    "replay": ("pitwall.sim.replay", "publish a recorded pass log (CSV: t_ms,lane,car)"),
    "feed": ("pitwall.feed.main", "a track's live-timing feed as a pass source (Apex Timing)"),
    "board": ("pitwall.board", "live standings in the terminal"),
    "settings": ("pitwall.settings_cli", "print every setting, its value and description"),
    "hotspot": ("pitwall.hotspot.main", "render the hotspot's hostapd, dnsmasq, nftables files"),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The full parser; only the chosen subcommand's module is imported for its options."""
    parser = argparse.ArgumentParser(prog="pitwall", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="settings file (default: $PITWALL_CONFIG, "
                        "then /etc/pitwall/pitwall.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(module=module)
        if name == chosen:
            mod = importlib.import_module(module)
            if hasattr(mod, "add_arguments"):
                mod.add_arguments(p)
    return parser


def _chosen_command(argv: list[str]) -> str | None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    _, rest = pre.parse_known_args(argv)
    return rest[0] if rest and rest[0] in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_chosen_command(argv)).parse_args(argv)
    try:
        settings = settings_mod.load(args.config)
    except settings_mod.SettingsError as exc:
        print(f"pitwall: settings error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, args.command)
    module = importlib.import_module(args.module)
    try:
        return int(module.run(settings, args) or 0)
    except KeyboardInterrupt:
        return 130
    except settings_mod.SettingsError as exc:
        print(f"pitwall {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception:
        logging.getLogger("pitwall").exception("pitwall %s failed", args.command)
        return 1


if __name__ == "__main__":
    sys.exit(main())
