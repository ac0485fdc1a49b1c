"""Settings -> the cluster's configuration files: the central Mosquitto, a track's bridge,
HAProxy in front of the API replicas. Rendered from the Jinja2 templates beside this
module; pure, except for reading them.

Each value that ends up in a file is checked first: Mosquitto and HAProxy read one setting
per line, so a newline in a host name would be a second, chosen setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from pitwall import contract
from pitwall.settings import Settings

TEMPLATES = Path(__file__).with_name("templates")
TRACK_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
_SAFE = re.compile(r"^[A-Za-z0-9._:/\[\]@=+-]+$")  # hosts, paths, addresses, passwords


class ClusterError(ValueError):
    """The settings cannot make a working cluster configuration."""


def central_root(track: str) -> str:
    """A track's topic root on the central broker: where its bridge puts its topics."""
    return f"tracks/{track}"


def check_track(track: str) -> str:
    if not TRACK_ID.match(track):
        raise ClusterError(f"track id {track!r}: use 1-31 lower-case letters, digits and "
                           "'-', starting with a letter or digit")
    return track


def _safe(name: str, value: str) -> str:
    if not value or not _SAFE.match(value):
        raise ClusterError(f"{name} {value!r} is empty or has characters a configuration "
                           "file line cannot carry")
    return value


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              autoescape=False)  # noqa: S701 (not HTML)


def bridge_conf(settings: Settings) -> str:
    """The track's Mosquitto bridge (conf.d file), from its ``[cluster]`` settings."""
    c = settings.cluster
    if not c.track:
        raise ClusterError("[cluster] track is not set: this box is not a cluster track")
    return _env().get_template("bridge.conf.j2").render(
        track=check_track(c.track), root=settings.mqtt.topic_root,
        central_host=_safe("[cluster] central_host", c.central_host),
        central_port=c.central_port, cafile=_safe("[cluster] cafile", c.cafile),
        password=_safe("[cluster] password", c.password))


def central_conf(folder: Path, *, local_port: int = 1883, tls_port: int = 8883,
                 tls_bind: str = "0.0.0.0", user: str = "") -> str:
    """The central Mosquitto's configuration; its certificates, password file and ACL
    live in ``folder`` (pitwall cluster init / add-track)."""
    return _env().get_template("central-mosquitto.conf.j2").render(
        dir=_safe("folder", str(folder)), local_port=local_port, tls_port=tls_port,
        tls_bind=_safe("bind address", tls_bind), inflight=contract.INFLIGHT,
        user=_safe("user", user) if user else "")


def acl(tracks: list[str]) -> str:
    """Each track's login may read and write its own topics, and nothing else."""
    lines = ["# Each track's bridge reaches its own topics only (pitwall cluster add-track)."]
    for track in sorted(tracks):
        lines += ["", f"user {check_track(track)}",
                  f"topic readwrite {central_root(track)}/#"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Frontend:
    """One track behind the load balancer: where browsers connect, and its replicas."""

    name: str
    bind: str  # address:port
    replicas: tuple[str, ...]  # address:port of each replica


def haproxy_cfg(frontends: list[Frontend], *, check_ms: int = 1000, maxconn: int = 20000,
                stats_socket: str = "") -> str:
    for f in frontends:
        check_track(f.name)
        _safe("bind", f.bind)
        if not f.replicas:
            raise ClusterError(f"track {f.name} has no API replica")
        for r in f.replicas:
            _safe("replica", r)
    return _env().get_template("haproxy.cfg.j2").render(
        tracks=frontends, check_ms=check_ms, maxconn=maxconn,
        stats_socket=_safe("stats socket", stats_socket) if stats_socket else "")
