"""A throwaway PostgreSQL server for development and tests (``pitwall cluster up``, the
cluster tests): initdb in a temporary folder, a free port on 127.0.0.1, trust for local
connections only, stopped and removed at the end. Debian's server binaries
(package postgresql), never a downloaded build."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pitwall.dev.broker import free_port


class PostgresError(RuntimeError):
    pass


def server_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # /usr/local/bin may link only some tools
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


class Postgres:
    """``with Postgres() as pg: pg.create("db")`` -> a URL for ``database_url``."""

    USER = "pitwall"

    def __init__(self, port: int | None = None) -> None:
        self.bin = server_bin()
        if self.bin is None:
            raise PostgresError("no PostgreSQL server binaries (apt-get install postgresql)")
        self.port = port or free_port()
        # Outside any private temp folder the 'postgres' user could not enter.
        self.dir = Path(tempfile.mkdtemp(prefix="pitwall-pg-"))
        # PostgreSQL refuses to run as root: run the throwaway server as 'postgres' then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.dir, "postgres")

    def _run(self, *cmd: str, user: bool = True) -> None:
        try:
            subprocess.run([*(self._as if user else []), *cmd], check=True,
                           capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise PostgresError(f"{Path(cmd[0]).name} failed: {exc.stderr.strip()[-500:]}") \
                from None

    def start(self) -> Postgres:
        data = self.dir / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", self.USER)
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-w", "-l",
                  str(self.dir / "server.log"), "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                  "-c max_connections=200 -c fsync=on", "start")
        return self

    def create(self, name: str) -> str:
        """A new database; its peewee URL."""
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  self.USER, name, user=False)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if (self.dir / "data").exists():
            subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"),
                            "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
