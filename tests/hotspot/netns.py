"""A hotspot in network namespaces: a "pi" running the real dnsmasq, nftables rules,
Mosquitto and API, "phones" that take a DHCP lease with busybox udhcpc and use curl and
dig, and an "internet" host the Pi must never forward to.

    phone ns (eth0) ─veth─ pN ┐
    phone ns (eth0) ─veth─ pN ┴ br0 (the Pi's wlan0 stand-in)  pi ns  up0 ─veth─ eth0 (net ns)

Every namespace name carries this process's id and a counter, so runs never collide.
``close()`` stops only the processes started here (and anything left inside our own
namespaces), deletes the namespaces and the ``/etc/netns/<name>`` folders created here,
and is safe to call twice. The host's ``/etc/resolv.conf`` is never written:
each namespace gets its own ``/etc/netns/<name>/resolv.conf`` (which ``ip netns exec``
mounts over /etc/resolv.conf inside it only) before anything runs in it, and the DHCP
client's script only sets the address and route.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pitwall.dev.broker import Mosquitto, mosquitto_binary

from ..support import write_config

NETNS_ETC = Path("/etc/netns")
_counter = itertools.count()

UDHCPC_SCRIPT = """#!/bin/sh
# busybox udhcpc event script: record the lease, set address and default route. It never
# writes a resolv.conf (udhcpc's default script would write the host's).
case "$1" in
  bound|renew)
    env > "$PW_LEASE_FILE"
    ip address add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    ;;
esac
exit 0
"""


def run(cmd: list[str], timeout: float = 10, check: bool = True,
        env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


class Namespace:
    def __init__(self, role: str, tag: str) -> None:
        self.name = f"pw-{role}-{tag}"
        self.procs: list[subprocess.Popen] = []
        self.created = False
        self.etc: Path | None = None

    def add(self, nameserver: str = "127.0.0.1") -> Namespace:
        # resolv.conf first: nothing may run in the namespace before it exists.
        self.set_resolver(nameserver)
        run(["ip", "netns", "add", self.name])
        self.created = True
        self.ip("link", "set", "lo", "up")
        return self

    def set_resolver(self, nameserver: str) -> None:
        etc = NETNS_ETC / self.name
        if self.etc is None:
            etc.mkdir(parents=True, exist_ok=False)  # exists: not ours, do not touch
            self.etc = etc
        (etc / "resolv.conf").write_text(f"nameserver {nameserver}\noptions timeout:2\n")

    def ip(self, *args: str) -> str:
        return run(["ip", "-n", self.name, *args]).stdout

    def run(self, *cmd: str, timeout: float = 10, check: bool = False,
            env: dict | None = None) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", self.name, *cmd], timeout=timeout, check=check,
                   env=env)

    def start(self, *cmd: str, log: Path, env: dict | None = None) -> subprocess.Popen:
        """A long-running process in the namespace (``ip netns exec`` execs it: the
        Popen's pid is the process itself)."""
        with open(log, "ab") as out:
            proc = subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], stdout=out,
                                    stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
        self.procs.clear()
        if self.created:
            # Anything still inside our namespace was started from here (a client's
            # script, say): end it by pid before the namespace goes.
            pids = run(["ip", "netns", "pids", self.name], check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            run(["ip", "netns", "delete", self.name], check=False)
            self.created = False
        if self.etc is not None:
            shutil.rmtree(self.etc, ignore_errors=True)
            self.etc = None

    def exists(self) -> bool:
        return self.name in run(["ip", "netns", "list"]).stdout.split()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(3)


class Phone(Namespace):
    def __init__(self, tag: str, number: int, tmp: Path) -> None:
        super().__init__(f"ph{number}", tag)
        self.tmp = tmp
        self.lease: dict[str, str] = {}
        self.mac = ""

    def dhcp(self, timeout: float = 15) -> dict[str, str]:
        """Take a lease from the Pi with busybox udhcpc, asking for option 114."""
        script = self.tmp / "udhcpc.sh"
        script.write_text(UDHCPC_SCRIPT)
        script.chmod(0o755)
        lease_file = self.tmp / f"{self.name}.lease"
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "PW_LEASE_FILE": str(lease_file)}
        proc = self.run("udhcpc", "-f", "-q", "-n", "-t", "8", "-T", "1", "-i", "eth0",
                        "-s", str(script), "-O", "114", timeout=timeout, env=env)
        assert proc.returncode == 0 and lease_file.exists(), (
            f"no DHCP lease for {self.name}: {proc.stdout}{proc.stderr}")
        self.lease = dict(line.split("=", 1) for line in lease_file.read_text().splitlines()
                          if "=" in line)
        return self.lease

    def http(self, url: str, *, method: str = "GET", resolve: str | None = None,
             headers: tuple[str, ...] = ()) -> tuple[int, dict[str, str], bytes]:
        """(status, lower-case headers, body) of one request with curl, no redirects."""
        cmd = ["curl", "-sS", "-i", "--max-time", "5", "-X", method]
        for header in headers:
            cmd += ["-H", header]
        if method == "POST":
            cmd += ["--data", ""]
        proc = subprocess.run(["ip", "netns", "exec", self.name, *cmd, url],
                              capture_output=True, timeout=10)
        assert proc.returncode == 0, f"curl {url} from {self.name}: {proc.stderr!r}"
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        return status, {k.strip().lower(): v.strip() for k, v in fields.items()}, body

    def dig(self, name: str, kind: str = "A", server: str | None = None) -> list[str]:
        cmd = ["dig", "+short", "+time=2", "+tries=1", name, kind]
        if server:
            cmd.insert(1, f"@{server}")
        proc = self.run(*cmd)
        assert proc.returncode == 0, f"dig {name} from {self.name}: {proc.stdout}{proc.stderr}"
        return proc.stdout.split()


class HotspotLab:
    """The Pi, its phones and an "internet" host, built from a settings dict."""

    INTERNET_PI = "198.51.100.1"
    INTERNET_HOST = "198.51.100.2"
    INTERNET_PORT = 9000

    def __init__(self, tmp: Path, settings: dict, phones: int = 2) -> None:
        tag = f"{os.getpid()}-{next(_counter)}"
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.pi = Namespace("pi", tag)
        self.net = Namespace("net", tag)
        self.phones = [Phone(tag, n, tmp) for n in range(1, phones + 1)]
        self.settings_data = settings
        self.config: Path | None = None
        self.files: dict[str, Path] = {}
        self.broker: Mosquitto | None = None
        self.dnsmasq: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None

    # ------------------------------------------------------------ build
    def __enter__(self) -> HotspotLab:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def namespaces(self) -> list[Namespace]:
        return [self.pi, self.net, *self.phones]

    def build_network(self, address: str, prefix: int, interface: str) -> None:
        for ns in self.namespaces():
            ns.add()
        self.pi.ip("link", "add", interface, "type", "bridge")
        for number, phone in enumerate(self.phones, 1):
            port = f"p{number}"
            run(["ip", "link", "add", port, "netns", self.pi.name, "type", "veth",
                 "peer", "name", "eth0", "netns", phone.name])
            self.pi.ip("link", "set", port, "master", interface, "up")
            phone.ip("link", "set", "eth0", "up")
            phone.mac = phone.ip("-br", "link", "show", "eth0").split()[2]
        # What pitwall-hotspot-address.service does on the Pi.
        self.pi.ip("address", "replace", f"{address}/{prefix}", "dev", interface)
        self.pi.ip("link", "set", interface, "up")
        run(["ip", "link", "add", "up0", "netns", self.pi.name, "type", "veth",
             "peer", "name", "eth0", "netns", self.net.name])
        self.pi.ip("address", "add", f"{self.INTERNET_PI}/24", "dev", "up0")
        self.pi.ip("link", "set", "up0", "up")
        self.net.ip("address", "add", f"{self.INTERNET_HOST}/24", "dev", "eth0")
        self.net.ip("link", "set", "eth0", "up")
        self.net.ip("route", "add", "default", "via", self.INTERNET_PI)

    def render(self) -> Path:
        from pitwall import settings as settings_mod
        from pitwall.hotspot import render as hotspot

        self.config = write_config(self.tmp / "pitwall.toml", self.settings_data)
        settings = settings_mod.load(self.config, environ={})
        out = self.tmp / "rendered"
        for path in hotspot.write(hotspot.render(settings), out):
            self.files[str(path.relative_to(out))] = path
        return out

    def load_firewall(self) -> None:
        run(["ip", "netns", "exec", self.pi.name, "nft", "-f", str(self.files["nftables.conf"])])

    def start_dnsmasq(self) -> subprocess.Popen:
        # The rendered file as is; only where the pid and log go is the test's choice.
        self.dnsmasq = self.pi.start(
            "dnsmasq", "--keep-in-foreground", f"--conf-file={self.files['dnsmasq.conf']}",
            f"--pid-file={self.tmp / 'dnsmasq.pid'}",
            f"--log-facility={self.tmp / 'dnsmasq.log'}", "--log-dhcp",
            log=self.tmp / "dnsmasq.out")
        return self.dnsmasq

    def start_api(self, mqtt_port: int) -> subprocess.Popen:
        # A private Mosquitto inside the pi namespace: the session broker's 127.0.0.1 is
        # another namespace's loopback. The Mosquitto helper writes the config; it is
        # started here so that it runs inside the namespace.
        self.broker = Mosquitto(mqtt_port, workdir=self.tmp / "mqtt")
        self.pi.start(mosquitto_binary(), "-c", str(self.broker.config),
                      log=self.tmp / "mosquitto.out")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PITWALL_")}
        self.api = self.pi.start(sys.executable, "-m", "pitwall", "--config",
                                 str(self.config), "api", log=self.tmp / "api.log", env=env)
        return self.api

    def start_internet_host(self) -> None:
        (self.tmp / "www").mkdir(exist_ok=True)
        (self.tmp / "www" / "index.html").write_text("the internet\n")
        self.net.start(sys.executable, "-m", "http.server", str(self.INTERNET_PORT),
                       "--bind", self.INTERNET_HOST, "--directory", str(self.tmp / "www"),
                       log=self.tmp / "internet.log")

    def wait_http(self, url: str, timeout: float = 20) -> None:
        """Until the Pi answers ``url`` from inside its own namespace."""
        deadline = time.monotonic() + timeout
        while True:
            proc = self.pi.run("curl", "-s", "-o", "/dev/null", "--max-time", "1", url)
            if proc.returncode == 0:
                return
            for name, p in (("api", self.api), ("dnsmasq", self.dnsmasq)):
                if p is not None and p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}: {self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout} s: {self.logs()}")
            time.sleep(0.1)

    def logs(self) -> str:
        parts = []
        for name in ("api.log", "dnsmasq.out", "dnsmasq.log", "mosquitto.out"):
            path = self.tmp / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------ tear down
    def close(self) -> None:
        errors = []
        for ns in reversed(self.namespaces()):
            try:
                ns.close()
            except Exception as exc:  # keep cleaning the others
                errors.append(f"{ns.name}: {exc}")
        if self.broker is not None:
            self.broker.close()
            self.broker = None
        if errors:
            raise RuntimeError("hotspot lab clean-up: " + "; ".join(errors))
