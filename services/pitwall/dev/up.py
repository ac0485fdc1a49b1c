"""``pitwall up``: the whole stack on one machine, with simulated cars.

Starts a private Mosquitto on a free port (unless a broker already answers at the
configured address), the lap service and the simulator as child processes (logs in
``<data_dir>/logs``), a stand-in race director that sets up and starts one race after
another, and shows the live board in this terminal. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pitwall.dev.broker import Mosquitto, port_open
from pitwall.settings import Settings
from pitwall.signals import stop_on_signals

DRIVERS = ["Ann", "Bob", "Cat", "Dev", "Eve", "Finn", "Gus", "Hal"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cars", type=int, default=6, help="simulated cars (default 6)")
    parser.add_argument("--laps", type=int, default=20, help="laps per race (default 20)")
    parser.add_argument("--lap-s", type=float, default=5.0,
                        help="typical simulated lap time in seconds (default 5)")
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
        env.update(PITWALL_MQTT_HOST=self.settings.mqtt.host,
                   PITWALL_MQTT_PORT=str(self.settings.mqtt.port),
                   PITWALL_DATA_DIR=str(Path(self.settings.data_dir).resolve()))
        return env

    def start_broker(self) -> str:
        mqtt = self.settings.mqtt
        if port_open(mqtt.host, mqtt.port):
            return f"using the broker at {mqtt.host}:{mqtt.port}"
        self.broker = Mosquitto(workdir=Path(self.settings.data_dir) / "mosquitto",
                                persistence=True).start()
        mqtt.host, mqtt.port = "127.0.0.1", self.broker.port
        return f"started a private Mosquitto on 127.0.0.1:{self.broker.port}"

    def spawn(self, name: str, *args: str, foreground: bool = False) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "pitwall"]
        if self.config:
            cmd += ["--config", self.config]
        cmd += list(args)
        if foreground:
            proc = subprocess.Popen(cmd, env=self.env())
        else:
            log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the child)
            proc = subprocess.Popen(cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
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
        stack.spawn("laps", "laps")
        stack.spawn("sim", "sim", "--cars", str(args.cars), "--lap-s", str(args.lap_s))
        if not args.no_director:
            from pitwall.dev.director import Director

            director = Director(settings, cars=args.cars, laps=args.laps, drivers=DRIVERS)
            director.start()
        print(_banner(settings, stack), flush=True)
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


def _banner(settings: Settings, stack: Stack) -> str:
    port = settings.mqtt.port
    exe = Path(sys.executable).parent / "pitwall"
    return "\n".join([
        "",
        "Pitwall is running with simulated cars.",
        f"  Live board (terminal):  PITWALL_MQTT_PORT={port} {exe} board",
        f"  Race events:            mosquitto_sub -p {port} -t "
        f"'{settings.mqtt.topic_root}/#' -v",
        f"  Data and logs:          {Path(settings.data_dir).resolve()}",
        "  Stop:                   Ctrl-C",
        "",
    ])
