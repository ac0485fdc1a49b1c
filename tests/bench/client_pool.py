"""The live benchmarks' spectators: ``live_clients.py`` processes, started, counted and
stopped together (bench_live.py, bench_cluster_live.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BENCH_DIR


class ClientPool:
    """``n`` clients, ``per_process`` to a ``live_clients.py`` process; ``args`` are that
    script's own (``--mode`` ... without ``--clients``/``--report``). Each process writes
    its report to a file of its own in a temporary folder."""

    def __init__(self, n: int, per_process: int, args: list[str]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="pitwall-bench-clients-")
        self.procs: list[subprocess.Popen] = []
        self.reports: list[Path] = []
        for first in range(0, n, per_process):
            report = Path(self._dir.name) / f"clients-{first}.json"
            cmd = [sys.executable, str(BENCH_DIR / "live_clients.py"), *args,
                   "--clients", str(min(per_process, n - first)), "--report", str(report)]
            self.procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, text=True))
            self.reports.append(report)
        for proc in self.procs:  # one "ready" each, once all its clients had their first frames
            line = proc.stdout.readline().strip()
            if line != "ready":
                self.close()
                raise RuntimeError(f"clients did not get ready (said {line!r})")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def count(self) -> int:
        """Laps received so far, over every client."""
        for proc in self.procs:
            proc.stdin.write("count\n")
            proc.stdin.flush()
        return sum(int(proc.stdout.readline()) for proc in self.procs)

    def wait_delivered(self, frames: int, quiet_s: float = 5.0, limit_s: float = 120.0) -> float:
        """Until the clients have ``frames`` laps between them, or none came for
        ``quiet_s`` (the rest are lost); how long that took."""
        start = last_change = time.monotonic()
        seen = -1
        while time.monotonic() - start < limit_s:
            got = self.count()
            if got >= frames:
                break
            if got != seen:
                seen, last_change = got, time.monotonic()
            elif time.monotonic() - last_change > quiet_s:
                break
            time.sleep(0.2)
        return round(time.monotonic() - start, 2)

    def stop(self) -> list[list[int]]:
        """Stop every client; their arrivals as [client, lap t_ns, arrival ns], the
        clients numbered over all processes. ``messages`` then holds how many messages
        they received in all, after their first."""
        for proc in self.procs:
            proc.stdin.write("stop\n")
            proc.stdin.flush()
        arrivals, offset, self.messages = [], 0, 0
        for proc, report in zip(self.procs, self.reports, strict=True):
            if proc.wait(120) != 0:
                raise RuntimeError(f"a client process failed (exit {proc.returncode})")
            r = json.loads(report.read_text())
            arrivals += [[offset + c, t_ns, at] for c, t_ns, at in r["arrivals"]]
            offset += r["clients"]
            self.messages += r["messages"]
        self.close()
        return arrivals

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()  # our own child, by its handle
                proc.wait(10)
        self._dir.cleanup()
