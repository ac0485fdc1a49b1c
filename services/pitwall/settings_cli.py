"""``pitwall settings``: every setting, its environment name, value and description."""

from __future__ import annotations

from pitwall import settings as settings_mod


def add_arguments(parser) -> None:
    parser.add_argument("--markdown", action="store_true",
                        help="print the reference table for docs/settings.md")


def _lookup(settings, dotted: str):
    value = settings
    for key in dotted.split("."):
        value = getattr(value, key)
    return value


def render_markdown() -> str:
    lines = [
        "| setting | environment | default | description |",
        "|---|---|---|---|",
    ]
    for env, dotted, default, desc in settings_mod.describe():
        lines.append(f"| `{dotted}` | `{env}` | `{default!r}` | {desc} |")
    return "\n".join(lines) + "\n"


def run(settings, args) -> int:
    if args.markdown:
        print(render_markdown(), end="")
        return 0
    for env, dotted, _default, desc in settings_mod.describe():
        print(f"{dotted} = {_lookup(settings, dotted)!r}\n    {env}: {desc}")
    print(f"lanes: {len(settings.lanes)} configured")
    for lane in settings.lanes:
        print(f"    lane {lane.lane}: {lane.mode} on BCM {lane.pin}")
    return 0
