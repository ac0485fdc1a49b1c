"""``pitwall up``: the whole stack on one machine, with simulated cars.

Starts a private Mosquitto on a free port (unless a broker already answers at the
configured address), the lap service, the API (the web app) and the simulator as child
processes (logs in ``<data_dir>/logs``), a stand-in race director that sets up and starts
one race after another, and shows the live board in this terminal. Ctrl-C stops
everything it started.

With no ``director_pin`` set, a random PIN is made for this run and printed with the
board's address, so race control in the browser works at once.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pitwall.dev.broker import Mosquitto, free_port, port_open
from pitwall.settings import Settings
from pitwall.signals import stop_on_signals

DRIVERS = ["Ann", "Bob", "Cat", "Dev", "Eve", "Finn", "Gus", "Hal"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cars", type=int, default=6, help="simulated cars (default 6)")
    parser.add_argument("--laps", type=int, default=20, help="laps per race (default 20)")
    parser.add_argument("--lap-s", type=float, default=5.0,
                        help="typical simulated lap time in seconds (default 5)")
    parser.add_argument("--endurance", action="store_true",
                        help="a simulated endurance race: --cars teams of three drivers, "
                             "pit stops and driver changes (docs/endurance.md)")
    parser.add_argument("--minutes", type=int, default=10,
                        help="with --endurance: length of each race (default 10)")
    parser.add_argument("--no-director", action="store_true",
                        help="do not set up and start races automatically")
    parser.add_argument("--no-board", action="store_true",
                        help="do not show the live board in this terminal")


class Stack:
    """The child processes of one ``pitwall up``, started and stopped together."""

    def __init__(self, settings: Settings, config: str | None) -> None:
        self.settings = settings
        self.config = config
        self.logs = Path(settings.data_dir) / "logs"
        self.broker: Mosquitto | None = None
        self.children: list[tuple[str, subprocess.Popen]] = []

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        s = self.settings
        env.update(PITWALL_MQTT_HOST=s.mqtt.host, PITWALL_MQTT_PORT=str(s.mqtt.port),
                   PITWALL_DATA_DIR=str(Path(s.data_dir).resolve()),
                   PITWALL_API_PORT=str(s.api.port))
        return env

    def choose_pin(self) -> str:
        """The configured PIN, or a random one for this run (printed in the banner)."""
        if self.settings.director_pin:
            return "the configured director_pin"
        self.settings.director_pin = f"{secrets.randbelow(10**6):06d}"
        return f"{self.settings.director_pin} (made for this run; set director_pin to keep one)"

    def choose_api_port(self) -> str | None:
        """Keep the configured port if it is free, else take a free one and say so."""
        api = self.settings.api
        if _can_bind(api.host, api.port):
            return None
        busy, api.port = api.port, free_port()
        return f"port {busy} is busy; the web app is on port {api.port} instead"

    def wait_for_api(self, proc: subprocess.Popen, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if port_open("127.0.0.1", self.settings.api.port):
                return True
            time.sleep(0.1)
        return False

    def start_broker(self) -> str:
        mqtt = self.settings.mqtt
        if port_open(mqtt.host, mqtt.port):
            return f"using the broker at {mqtt.host}:{mqtt.port}"
        self.broker = Mosquitto(workdir=Path(self.settings.data_dir) / "mosquitto",
                                persistence=True).start()
        mqtt.host, mqtt.port = "127.0.0.1", self.broker.port
        return f"started a private Mosquitto on 127.0.0.1:{self.broker.port}"

    def spawn(self, name: str, *args: str, foreground: bool = False,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "pitwall"]
        if self.config:
            cmd += ["--config", self.config]
        cmd += list(args)
        if foreground:
            proc = subprocess.Popen(cmd, env={**self.env(), **(env or {})})
        else:
            log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the child)
            proc = subprocess.Popen(cmd, env={**self.env(), **(env or {})}, stdout=log,
                                    stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            log.close()  # the child holds its own descriptor
        self.children.append((name, proc))
        return proc

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(self.children):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                print(f"pitwall up: {name} did not stop in 10 s; killing it", file=sys.stderr)
                proc.kill()
                proc.wait()
        if self.broker:
            self.broker.stop()


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        Path(settings.data_dir, "logs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"pitwall up: cannot use data folder {settings.data_dir} ({exc.strerror}); "
              "set PITWALL_DATA_DIR to a writable folder", file=sys.stderr)
        return 2
    stack = Stack(settings, args.config)
    stopping = stop_on_signals()
    director = None
    try:
        print(f"pitwall up: {stack.start_broker()}")
        pin = stack.choose_pin()
        moved = stack.choose_api_port()
        if moved:
            print(f"pitwall up: {moved}")
        stack.spawn("laps", "laps")
        # Only the API needs the PIN (it checks logins).
        api = stack.spawn("api", "api", env={"PITWALL_DIRECTOR_PIN": settings.director_pin})
        sim_args = ["--cars", str(args.cars), "--lap-s", str(args.lap_s)]
        if args.endurance:  # stints of about a fifth of the race: a few stops each
            sim_args += ["--endurance", "--stint-s", str(args.minutes * 12), "--pit-s", "8"]
        stack.spawn("sim", "sim", *sim_args)
        stack.spawn("lights", "lights", "--mock")  # mock pins: its log shows the lights
        stack.spawn("health", "health")  # the maintainer's page reads it
        if not args.no_director:
            from pitwall.dev.director import Director

            director = Director(settings, cars=args.cars, laps=args.laps, drivers=DRIVERS,
                                endurance_minutes=args.minutes if args.endurance else None)
            director.start()
        if not stack.wait_for_api(api):
            print(f"pitwall up: the API did not start; see {stack.logs / 'api.log'}",
                  file=sys.stderr)
        print(_banner(settings, stack, pin, director=director is not None), flush=True)
        board = None
        if not args.no_board and sys.stdout.isatty():
            time.sleep(1.0)  # let the banner be read
            board = stack.spawn("board", "board", foreground=True)
        while not stopping.is_set():
            for name, proc in stack.children:
                if proc.poll() is not None and proc is not board:
                    print(f"pitwall up: {name} exited with {proc.returncode}; see "
                          f"{stack.logs / (name + '.log')}", file=sys.stderr)
                    stopping.set()
            if board is not None and board.poll() is not None:
                stopping.set()
            stopping.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if director is not None:
            director.stop()
        stack.stop()
        print("pitwall up: stopped")
    return 0


def _can_bind(host: str, port: int) -> bool:
    try:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            s.bind((host, port))
        return True
    except OSError:
        return False


def _lan_address() -> str | None:
    """This machine's address on its local network (a UDP socket's source: nothing is
    sent), or None when it has none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 9))
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def join_qr(settings: Settings) -> list[str]:
    """How racers join, as the TV shows it: the Wi-Fi QR code, or why there is none here
    (and then, if phones on this network can reach the board, a code for its address)."""
    import segno

    from pitwall.api.info import join_wifi_qr, terminal_qr

    wifi = settings.wifi
    if wifi.ssid:
        return [f"  Join the race Wi-Fi \"{wifi.ssid}\" (the TV shows this code):",
                terminal_qr(join_wifi_qr(wifi.ssid, wifi.passphrase))]
    lines = ["  Wi-Fi QR code:          none here: this machine runs no race Wi-Fi ([wifi] "
             "ssid is empty). The Pi's image makes its own network and passphrase at first "
             "boot, and its TV board shows that code."]
    address = _lan_address()
    if address and settings.api.host in ("0.0.0.0", "::", address):
        url = f"http://{address}:{settings.api.port}/"
        lines += [f"  Phones on this network: scan to open {url}", terminal_qr(segno.make(url))]
    return lines


def _banner(settings: Settings, stack: Stack, pin: str, director: bool = True) -> str:
    port = settings.mqtt.port
    exe = Path(sys.executable).parent / "pitwall"
    demo = ["  Demo director:          sets up and starts one race after another; it stops "
            "as soon as you log in to race control or send a command (pitwall up "
            "--no-director: run races yourself)"] if director else []
    return "\n".join([
        "",
        "Pitwall is running with simulated cars.",
        f"  Board (browser):        http://127.0.0.1:{settings.api.port}/",
        f"  Race director's PIN:    {pin}",
        *demo,
        f"  Live board (terminal):  PITWALL_MQTT_PORT={port} {exe} board",
        f"  Race events:            mosquitto_sub -p {port} -t "
        f"'{settings.mqtt.topic_root}/#' -v",
        f"  Data and logs:          {Path(settings.data_dir).resolve()}",
        "  Stop:                   Ctrl-C",
        *join_qr(settings),
        "",
    ])
