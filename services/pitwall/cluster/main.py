"""``pitwall cluster``: set up and run the pieces beyond one box (docs/scale-out.md).

On the central box:
  pitwall cluster init --dir D --host central.example   CA, TLS certificate, broker config
  pitwall cluster add-track NAME --dir D --host ...     a track's login; prints its settings
  pitwall cluster haproxy --track a=0.0.0.0:8081 --replica a=127.0.0.1:8101 ...
On a track's box:
  pitwall cluster bridge-conf [--out FILE]              its Mosquitto bridge, from settings
For development:
  pitwall cluster up                                    the whole cluster on this machine
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pitwall.cluster import credentials, render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("init", help="make the cluster's CA, the central broker's TLS "
                       "certificate and its Mosquitto configuration")
    p.add_argument("--dir", required=True, help="folder for the cluster's secrets")
    p.add_argument("--host", required=True, help="the name (or address) tracks connect to")
    p.add_argument("--tls-port", type=int, default=8883)
    p.add_argument("--local-port", type=int, default=1883)
    p.add_argument("--bind", default="0.0.0.0", help="address of the TLS listener")
    p = sub.add_parser("add-track", help="a login for a track; prints its [cluster] table")
    p.add_argument("track")
    p.add_argument("--dir", required=True)
    p.add_argument("--host", required=True, help="the central broker's name, as tracks "
                   "reach it (in its certificate)")
    p.add_argument("--tls-port", type=int, default=8883)
    p = sub.add_parser("bridge-conf", help="this track's Mosquitto bridge configuration")
    p.add_argument("--out", help="write it here (mode 600: it holds the password) instead "
                   "of printing it")
    p = sub.add_parser("haproxy", help="HAProxy's configuration for the API replicas")
    p.add_argument("--track", action="append", default=[], metavar="NAME=ADDRESS:PORT",
                   help="a track's frontend: where its browsers connect")
    p.add_argument("--replica", action="append", default=[], metavar="NAME=ADDRESS:PORT",
                   help="an API replica of that track (repeat)")
    p.add_argument("--out")
    p = sub.add_parser("up", help="development: two tracks, the central broker, "
                       "PostgreSQL, archive writers, API replicas and HAProxy")
    from pitwall.cluster import up

    up.add_arguments(p)


def _write(text: str, out: str | None, private: bool = False) -> None:
    if not out:
        sys.stdout.write(text)
        return
    path = Path(out)
    path.touch(mode=0o600 if private else 0o644)
    path.write_text(text)
    print(f"wrote {path}")


def _pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        name, sep, address = v.partition("=")
        if not sep or not address:
            raise render.ClusterError(f"{what} {v!r}: give NAME=ADDRESS:PORT")
        out.append((name, address))
    return out


def run(settings, args: argparse.Namespace) -> int:
    try:
        if args.action == "init":
            folder = Path(args.dir)
            credentials.init(folder, args.host)
            conf = folder / "mosquitto.conf"
            conf.write_text(render.central_conf(folder, local_port=args.local_port,
                                                tls_port=args.tls_port, tls_bind=args.bind))
            print(f"cluster CA and certificate for {args.host} in {folder}; broker "
                  f"configuration: {conf} (mosquitto -c {conf})")
        elif args.action == "add-track":
            print(credentials.add_track(Path(args.dir), args.track, args.host, args.tls_port),
                  end="")
            print(f"# (also in {Path(args.dir) / 'tracks' / (args.track + '.toml')}; restart "
                  "the central Mosquitto to take up the new login)", file=sys.stderr)
        elif args.action == "bridge-conf":
            _write(render.bridge_conf(settings), args.out, private=True)
        elif args.action == "haproxy":
            replicas: dict[str, list[str]] = {}
            for name, address in _pairs(args.replica, "--replica"):
                replicas.setdefault(name, []).append(address)
            frontends = [render.Frontend(name, bind, tuple(replicas.get(name, ())))
                         for name, bind in _pairs(args.track, "--track")]
            if not frontends:
                raise render.ClusterError("give at least one --track NAME=ADDRESS:PORT")
            _write(render.haproxy_cfg(frontends), args.out)
        elif args.action == "up":
            from pitwall.cluster import up

            return up.run(settings, args)
    except (render.ClusterError, credentials.CredentialsError) as exc:
        print(f"pitwall cluster {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0
