"""``pitwall cluster up``: a whole cluster on one machine, each part a real process.

Two simulated tracks (their own Mosquitto, lap service and simulated cars, each bridged
over TLS to the central Mosquitto with its own login), a throwaway PostgreSQL with one
database per track, one archive writer per track, three API replicas per track, and
HAProxy in front: one address per track. The same class runs the cluster tests and the
cluster benchmark, so what they prove is what a developer starts.

Children that die are started again after a second, as systemd's ``Restart=always``
does on a real deployment (``restart=False`` leaves them dead, for tests that kill one).
"""

from __future__ import annotations

import argparse
import getpass
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from pitwall.cluster import credentials, render
from pitwall.dev.broker import Mosquitto, free_port, mosquitto_binary, port_open
from pitwall.dev.postgres import Postgres

HOST = "127.0.0.1"
RESTART_DELAY_S = 1.0


@dataclass
class Child:
    """One process of the cluster, started again from the same command when needed."""

    name: str
    cmd: list[str]
    log: Path
    proc: subprocess.Popen | None = None
    died_at: float | None = None
    starts: int = 0

    def start(self) -> Child:
        with open(self.log, "ab") as log:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PITWALL_")}
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)
        self.died_at, self.starts = None, self.starts + 1
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Track:
    name: str
    pin: str
    password: str = ""  # its login at the central broker
    broker: Mosquitto | None = None
    config: Path | None = None  # the track box's settings
    replica_configs: list[Path] = field(default_factory=list)
    replica_ports: list[int] = field(default_factory=list)
    frontend_port: int = 0
    database_url: str = ""
    laps: Child | None = None
    archive: Child | None = None
    replicas: list[Child] = field(default_factory=list)
    sim: Child | None = None

    @property
    def central_root(self) -> str:
        return render.central_root(self.name)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.frontend_port}"


class Cluster:
    def __init__(self, workdir: Path, tracks: list[str] = ("a", "b"), *, replicas: int = 3,
                 sim_cars: int = 0, lap_s: float = 5.0, restart: bool = True,
                 track_settings: dict[str, Any] | None = None,
                 bridge_ports: dict[str, int] | None = None,
                 frontend_ports: dict[str, int] | None = None) -> None:
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs = self.dir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.central_dir = self.dir / "central"
        self.tracks = [Track(render.check_track(t), f"{secrets.randbelow(10**6):06d}")
                       for t in tracks]
        self.replica_count = replicas
        self.sim_cars, self.lap_s = sim_cars, lap_s
        self.restart = restart
        self.track_settings = track_settings or {}
        self.bridge_ports = bridge_ports or {}  # a track's bridge may go through a relay
        self.frontend_ports = frontend_ports or {}
        self.local_port = free_port()  # the central broker, for central processes
        self.tls_port = free_port()  # the central broker, for the tracks' bridges
        self.central: Child | None = None
        self.postgres: Postgres | None = None
        self.haproxy: Child | None = None
        self.haproxy_socket = self.dir / "haproxy.sock"
        self.children: list[Child] = []

    # ------------------------------------------------------------------ start
    def start(self) -> Cluster:
        try:
            self._start_central()
            for track in self.tracks:
                self._start_track(track)
            self._start_haproxy()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, cmd: list[str]) -> Child:
        child = Child(name, cmd, self.logs / f"{name}.log").start()
        self.children.append(child)
        return child

    def _pitwall(self, name: str, config: Path, *args: str) -> Child:
        return self._spawn(name, [sys.executable, "-m", "pitwall", "--config", str(config),
                                  *args])

    def _start_central(self) -> None:
        if not (self.central_dir / "ca.pem").exists():
            credentials.init(self.central_dir, HOST)
        for track in self.tracks:
            table = credentials.add_track(self.central_dir, track.name, HOST, self.tls_port)
            track.password = table.split('password = "')[1].split('"')[0]
        conf = self.central_dir / "mosquitto.conf"
        conf.write_text(render.central_conf(self.central_dir, local_port=self.local_port,
                                            tls_port=self.tls_port, tls_bind=HOST,
                                            user=getpass.getuser()))
        self.central = self._spawn("central-mosquitto", [mosquitto_binary(), "-c", str(conf)])
        _wait_port(self.local_port, self.central, "the central Mosquitto")
        self.postgres = Postgres().start()

    def _start_track(self, track: Track) -> None:
        folder = self.dir / f"track-{track.name}"
        folder.mkdir(exist_ok=True)
        shutil.copy(self.central_dir / "ca.pem", folder / "cluster-ca.pem")
        port = free_port()
        base = {"track_name": f"Track {track.name.upper()}", "director_pin": track.pin,
                **{k: v for k, v in self.track_settings.items() if not isinstance(v, dict)}}
        sections = {k: v for k, v in self.track_settings.items() if isinstance(v, dict)}
        cluster = {"track": track.name, "central_host": HOST,
                   "central_port": self.bridge_ports.get(track.name, self.tls_port),
                   "cafile": str(folder / "cluster-ca.pem"), "password": track.password}
        track.config = folder / "pitwall.toml"
        track.config.write_text(tomli_w.dumps({
            **base, "data_dir": str(folder / "data"),
            "mqtt": {"port": port}, "cluster": cluster, **sections}))
        from pitwall import settings as settings_mod

        bridge = render.bridge_conf(settings_mod.load(track.config, environ={}))
        track.broker = Mosquitto(port, persistence=True, workdir=folder / "mosquitto",
                                 extra=bridge).start()
        track.laps = self._pitwall(f"{track.name}-laps", track.config, "laps")
        if self.sim_cars:
            track.sim = self._pitwall(f"{track.name}-sim", track.config, "sim", "--cars",
                                      str(self.sim_cars), "--lap-s", str(self.lap_s))
        # The central side of the track: its database, its writer, its replicas.
        track.database_url = self.postgres.create(f"pitwall_{track.name.replace('-', '_')}")
        central = {**base, "database_url": track.database_url,
                   "mqtt": {"port": self.local_port, "topic_root": track.central_root},
                   **{k: v for k, v in sections.items() if k != "mqtt"}}
        archive_cfg = folder / "archive.toml"
        archive_cfg.write_text(
            tomli_w.dumps({**central, "data_dir": str(folder / "archive-data")}))
        track.archive = self._pitwall(f"{track.name}-archive", archive_cfg, "archive")
        _wait_log(track.archive, "archiving", "the archive writer")  # its tables exist
        for i in range(1, self.replica_count + 1):
            api_port = free_port()
            cfg = folder / f"api-{i}.toml"
            # One data folder for the track's replicas: they share the directors' logins.
            # Clients come through HAProxy (X-Forwarded-For believed from it alone), and
            # none is "the box itself": every director logs in with the challenge. Wired
            # replicas spend no CPU or memory compressing frames (api.live_deflate).
            cfg.write_text(tomli_w.dumps({
                **central, "data_dir": str(folder / "api-data"),
                "api": {"host": HOST, "port": api_port, "trusted_proxies": [HOST],
                        "local_clients": [], "live_deflate": False,
                        **sections.get("api", {})}}))
            track.replica_configs.append(cfg)
            track.replica_ports.append(api_port)
            track.replicas.append(self._pitwall(f"{track.name}-api-{i}", cfg, "api"))
        track.frontend_port = self.frontend_ports.get(track.name) or free_port()

    def _start_haproxy(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).exists():
            raise RuntimeError("haproxy is not installed (Debian: apt-get install haproxy)")
        frontends = [render.Frontend(t.name, f"{HOST}:{t.frontend_port}",
                                     tuple(f"{HOST}:{p}" for p in t.replica_ports))
                     for t in self.tracks]
        cfg = self.dir / "haproxy.cfg"
        # Two descriptors per proxied connection: stay within what this user may open.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        maxconn = 10_000 if hard == resource.RLIM_INFINITY else min(10_000, (hard - 200) // 2)
        cfg.write_text(render.haproxy_cfg(frontends, check_ms=1000, maxconn=maxconn,
                                          stats_socket=str(self.haproxy_socket)))
        self.haproxy = self._spawn("haproxy", [haproxy, "-f", str(cfg), "-db"])

    # ------------------------------------------------------------------ run
    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every replica is ready (connected, holding its track's race state),
        every track's address answers through HAProxy and HAProxy counts every replica
        up."""
        import httpx

        deadline = time.monotonic() + timeout
        pending = [(t, p) for t in self.tracks for p in t.replica_ports]
        pending += [(t, t.frontend_port) for t in self.tracks]
        while pending:
            self.check()
            track, port = pending[0]
            try:
                if httpx.get(f"http://{HOST}:{port}/api/ready", timeout=2).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"track {track.name}: port {port} not ready in {timeout} s; "
                                   f"logs in {self.logs}")
            time.sleep(0.2)
        # HAProxy started with the replicas: one slow to start failed its first checks
        # and is out until it passes two; clients arriving now would all go to the others.
        while down := self._haproxy_down():
            if time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy has replicas out: {', '.join(down)}; "
                                   f"logs in {self.logs}")
            time.sleep(0.2)

    def _haproxy_down(self) -> list[str]:
        """The replicas HAProxy does not count as up (its stats socket's ``show stat``)."""
        if self.haproxy is None:
            return []
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(str(self.haproxy_socket))
                sock.sendall(b"show stat\n")
                out = b""
                while chunk := sock.recv(65536):
                    out += chunk
        except OSError:
            return ["(HAProxy's stats socket is not answering yet)"]
        lines = out.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        name, server, status = (header.index(k) for k in ("pxname", "svname", "status"))
        return [f"{row[name]}/{row[server]} {row[status]}" for row in
                (line.split(",") for line in lines[1:] if line)
                if row[server] not in ("FRONTEND", "BACKEND") and row[status] != "UP"]

    def check(self) -> list[str]:
        """Start again the children that died (after RESTART_DELAY_S); what was restarted."""
        restarted = []
        for child in self.children:
            if child.alive() or not self.restart:
                continue
            now = time.monotonic()
            if child.died_at is None:
                child.died_at = now
            elif now - child.died_at >= RESTART_DELAY_S:
                child.start()
                restarted.append(child.name)
        return restarted

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.alive():
                child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            child.stop()
        for track in self.tracks:
            if track.broker:
                track.broker.stop()
        if self.postgres:
            self.postgres.stop()

    def banner(self) -> str:
        lines = ["", "A Pitwall cluster is running (docs/scale-out.md):"]
        for t in self.tracks:
            lines += [f"  Track {t.name}: board {t.url}/   director's PIN {t.pin}",
                      f"    its box: Mosquitto 127.0.0.1:{t.broker.port}, lap service"
                      f"{', simulated cars' if t.sim else ''}; bridged over TLS as "
                      f"{t.central_root}/#",
                      f"    central: archive writer -> {t.database_url}; API replicas on "
                      f"ports {', '.join(map(str, t.replica_ports))}"]
        lines += [f"  Central Mosquitto:  127.0.0.1:{self.local_port} (local), "
                  f"{self.tls_port} (TLS, one login per track)",
                  f"  PostgreSQL:         127.0.0.1:{self.postgres.port}",
                  f"  Logs:               {self.logs}",
                  f"  Everything:         mosquitto_sub -p {self.local_port} -t 'tracks/#' -v",
                  "  Stop:               Ctrl-C", ""]
        return "\n".join(lines)


def _wait_port(port: int, child: Child, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(HOST, port):
        if not child.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {child.output()[-800:]}")
        time.sleep(0.05)


def _wait_log(child: Child, text: str, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in child.output():
        if not child.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {child.output()[-800:]}")
        time.sleep(0.05)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracks", default="a,b", help="track ids (default a,b)")
    parser.add_argument("--replicas", type=int, default=3,
                        help="API replicas per track (default 3)")
    parser.add_argument("--cars", type=int, default=4, help="simulated cars per track")
    parser.add_argument("--dir", default="", help="working folder (default: "
                        "<data_dir>/cluster, emptied first)")
    parser.add_argument("--port", type=int, default=8080,
                        help="the first track's board port; the next tracks take the next "
                        "ports (default 8080)")


def run(settings, args: argparse.Namespace) -> int:
    from pitwall.dev.director import Director
    from pitwall.signals import stop_on_signals

    folder = Path(args.dir or Path(settings.data_dir) / "cluster")
    shutil.rmtree(folder, ignore_errors=True)
    names = [t.strip() for t in args.tracks.split(",") if t.strip()]
    ports = {name: args.port + i for i, name in enumerate(names)
             if not port_open(HOST, args.port + i)}
    cluster = Cluster(folder, names, replicas=args.replicas, sim_cars=args.cars,
                      frontend_ports=ports)
    stopping = stop_on_signals()
    directors = []
    try:
        print("pitwall cluster up: starting (about ten seconds)...", flush=True)
        cluster.start()
        from pitwall import settings as settings_mod

        for track in cluster.tracks:
            director = Director(settings_mod.load(track.config, environ={}),
                                cars=args.cars, laps=20, drivers=["Ann", "Bob", "Cat", "Dev",
                                                                  "Eve", "Finn"])
            director.start()
            directors.append(director)
        print(cluster.banner(), flush=True)
        while not stopping.is_set():
            for name in cluster.check():
                print(f"pitwall cluster up: {name} had died; started it again", flush=True)
            stopping.wait(0.5)
    except RuntimeError as exc:
        print(f"pitwall cluster up: {exc}", file=sys.stderr)
        return 1
    finally:
        for director in directors:
            director.stop()
        cluster.stop()
        print("pitwall cluster up: stopped")
    return 0
