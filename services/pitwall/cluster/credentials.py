"""The cluster's secrets, made on the central box: a CA and the central broker's TLS
certificate (Debian's openssl), and one broker login per track (mosquitto_passwd, which
stores only a salted hash). Nothing has a default: every password is random.

The folder (``pitwall cluster init --dir``) holds ca.pem/ca.key, server.pem/server.key,
passwd, acl, mosquitto.conf, and tracks/<track>.toml: the ``[cluster]`` table to put in
that track's settings (with its password: hand it over like a key).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from pitwall.cluster import render


class CredentialsError(RuntimeError):
    pass


def _run(*cmd: str) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise CredentialsError(f"{cmd[0]} is not installed") from None
    except subprocess.CalledProcessError as exc:
        raise CredentialsError(f"{cmd[0]} failed: {exc.stderr.strip()[-300:]}") from None


def _subject_alt_name(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return f"subjectAltName=IP:{host}"
    except ValueError:
        return f"subjectAltName=DNS:{host}"


def init(folder: Path, host: str, *, days: int = 3650) -> None:
    """A new CA and a server certificate for ``host`` (the name tracks connect to)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    if (folder / "ca.key").exists():
        raise CredentialsError(f"{folder} already holds a cluster CA: keep it (every track "
                               "trusts it) or use a new folder")
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _run("openssl", "req", "-x509", *key, "-keyout", str(folder / "ca.key"),
         "-out", str(folder / "ca.pem"), "-days", str(days), "-subj", "/CN=Pitwall cluster CA")
    _run("openssl", "req", *key, "-keyout", str(folder / "server.key"),
         "-out", str(folder / "server.csr"), "-subj", f"/CN={host}")
    ext = folder / "server.ext"
    ext.write_text(_subject_alt_name(host) + "\n")
    _run("openssl", "x509", "-req", "-in", str(folder / "server.csr"), "-CA",
         str(folder / "ca.pem"), "-CAkey", str(folder / "ca.key"), "-CAcreateserial",
         "-out", str(folder / "server.pem"), "-days", str(days), "-extfile", str(ext))
    for name in ("server.csr", "server.ext"):
        (folder / name).unlink()
    for name in ("ca.key", "server.key"):
        os.chmod(folder / name, 0o600)
    (folder / "passwd").touch(mode=0o600)
    (folder / "acl").write_text(render.acl([]))


def tracks(folder: Path) -> list[str]:
    passwd = folder / "passwd"
    if not passwd.exists():
        return []
    return [line.split(":", 1)[0] for line in passwd.read_text().splitlines() if ":" in line]


def add_track(folder: Path, track: str, host: str, port: int = 8883) -> str:
    """A login for ``track`` (a new password if it had one), the ACL rewritten; returns
    the track's ``[cluster]`` table, also written to tracks/<track>.toml."""
    render.check_track(track)
    if not (folder / "ca.pem").exists():
        raise CredentialsError(f"{folder} has no cluster CA: run pitwall cluster init first")
    password = secrets.token_urlsafe(24)
    if shutil.which("mosquitto_passwd") is None:
        raise CredentialsError("mosquitto_passwd is not installed (Debian: mosquitto)")
    _run("mosquitto_passwd", "-b", str(folder / "passwd"), track, password)
    (folder / "acl").write_text(render.acl(tracks(folder)))
    table = "\n".join([
        "# Put this in the track's /etc/pitwall/pitwall.toml, and the cluster's ca.pem at",
        "# the cafile path; then: pitwall cluster bridge-conf --out "
        "/etc/mosquitto/conf.d/pitwall-bridge.conf",
        "[cluster]",
        f'track = "{track}"',
        f'central_host = "{host}"',
        f"central_port = {port}",
        'cafile = "/etc/pitwall/cluster-ca.pem"',
        f'password = "{password}"',
        "",
    ])
    out = folder / "tracks" / f"{track}.toml"
    out.parent.mkdir(exist_ok=True)
    out.touch(mode=0o600)
    out.write_text(table)
    return table
