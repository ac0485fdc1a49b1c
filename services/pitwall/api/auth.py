"""The race director's login: a PIN for a token, and the guard on every write.

- The PIN comes from the settings (``director_pin``); with none set nobody can log in,
  so nothing can be changed (login answers 503 and says how to set one).
- PINs are compared in constant time; five wrong PINs from one client within a minute
  lock that client out for the rest of the minute (429 with ``Retry-After``).
- Tokens are random (``secrets``), sent as an HttpOnly cookie and in the body (for
  ``Authorization: Bearer``). The server keeps only a keyed hash of each token with its
  expiry, in memory and in ``<data_dir>/api-tokens.json``, so a restart of the API keeps
  directors logged in, and a new PIN logs everybody out (the hash is keyed by the PIN).
- API replicas of one track (docs/scale-out.md) share that file: each change is made
  under a lock on it, after reading what the others wrote, and a token is checked
  against the file as it is now, so a login on one replica is valid on all of them
  and a logout on one ends it everywhere.
- Expiry uses the wall clock, the only clock that survives a reboot; a Pi without a
  real-time clock may start with it wrong, which at worst shortens or lengthens a login.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State
from litestar.exceptions import (
    NotAuthorizedException,
    ServiceUnavailableException,
    TooManyRequestsException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody
from msgspec import Meta

from pitwall.api import private_file

log = logging.getLogger(__name__)

COOKIE = "pitwall_director"
MAX_FAILURES = 5
FAILURE_WINDOW_S = 60.0
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


class Auth:
    def __init__(self, pin: str, ttl_s: int, path: Path | None, *,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.pin = pin
        self.ttl_s = ttl_s
        self.path = path
        self.clock = clock
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # keyed hash -> expiry (wall clock)
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._stamp: int | None = None  # the token file's mtime when last read
        self._sync()

    @property
    def enabled(self) -> bool:
        return bool(self.pin)

    def login(self, pin: str, client: str) -> str:
        """A new token for the right PIN; raises 503 / 429 / 401 as HTTP exceptions."""
        if not self.enabled:
            raise ServiceUnavailableException(
                "no director PIN is set: set director_pin in the settings file "
                "(or PITWALL_DIRECTOR_PIN) and restart the API")
        with self._lock:
            wait = self._locked_out_for(client)
            if wait:
                raise TooManyRequestsException(
                    f"too many wrong PINs: try again in {wait} s",
                    headers={"Retry-After": str(wait)})
            if not hmac.compare_digest(pin.encode(), self.pin.encode()):
                self._failures[client].append(self.monotonic())
                log.warning("wrong director PIN from %s", client)
                raise NotAuthorizedException("wrong PIN")
            self._failures.pop(client, None)
            token = secrets.token_urlsafe(32)
            with self._file_locked():
                now = self.clock()
                self._tokens = {k: exp for k, exp in self._tokens.items() if exp > now}
                self._tokens[self._key(token)] = now + self.ttl_s
                self._save()
        log.info("director logged in from %s", client)
        return token

    def valid(self, token: str | None) -> bool:
        if not token or not self.enabled:
            return False
        with self._lock:
            self._sync()
            expiry = self._tokens.get(self._key(token))
        return expiry is not None and expiry > self.clock()

    def logout(self, token: str | None) -> None:
        if not token:
            return
        with self._lock, self._file_locked():
            if self._tokens.pop(self._key(token), None) is not None:
                self._save()

    def _locked_out_for(self, client: str) -> int:
        """Seconds until this client may try again (0: now)."""
        failures = self._failures[client]
        now = self.monotonic()
        while failures and failures[0] <= now - FAILURE_WINDOW_S:
            failures.popleft()
        if len(failures) < MAX_FAILURES:
            if not failures:
                del self._failures[client]
            return 0
        return max(1, math.ceil(failures[0] + FAILURE_WINDOW_S - now))

    def _key(self, token: str) -> str:
        return hmac.new(self.pin.encode(), token.encode(), hashlib.sha256).hexdigest()

    @contextlib.contextmanager
    def _file_locked(self):
        """Hold the token file's lock (other replicas wait) and start from its content."""
        if self.path is None:
            yield
            return
        try:
            lock = open(self.path.with_suffix(".lock"), "a")  # noqa: SIM115 (closed below)
        except OSError as exc:  # a read-only data folder: logins work, in this process
            log.warning("cannot lock %s: %s", self.path, exc)
            yield
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._sync()
            yield

    def _sync(self) -> None:
        """Read the token file again if another process has changed it since."""
        if self.path is None:
            return
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if stamp != self._stamp:
            self._stamp = stamp
            self._tokens = {}
            self._load()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            now = self.clock()
            self._tokens = {str(k): float(v) for k, v in data.items() if float(v) > now}
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("ignoring unreadable %s (%s): directors log in again", self.path, exc)

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            private_file.write_json(self.path, self._tokens)
            self._stamp = self.path.stat().st_mtime_ns
        except OSError as exc:  # logins still work; they just won't survive a restart
            log.warning("cannot save logins to %s: %s", self.path, exc)


def token_of(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.cookies.get(COOKIE)


def writes_need_director(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """App-wide guard: every request that may change something needs a director's token.

    Applied to the whole app rather than to each write, so a new endpoint cannot forget
    it; the login itself opts out with ``opt={"public_write": True}``. Reads are public,
    except the maintainer's (``opt={"director_read": True}``: the box's clients, logs and
    backups).
    """
    if connection.scope["type"] != "http":
        return
    if connection.scope["method"] in READ_METHODS and not handler.opt.get("director_read"):
        return
    if handler.opt.get("public_write"):
        return
    if not connection.app.state.auth.valid(token_of(connection)):
        raise NotAuthorizedException(
            "the race director must log in: POST /api/auth/login with the PIN")


# ---------------------------------------------------------------- HTTP
class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    pin: Annotated[str, Meta(min_length=1, max_length=64)]


class LoginResponse(msgspec.Struct):
    token: str
    expires_s: int


class Director(msgspec.Struct):
    director: bool


@post("/api/auth/login", operation_id="login", summary="Log in as the race director",
      opt={"public_write": True}, status_code=200, tags=["auth"])
async def login(data: JSONBody[LoginRequest], request: Request,
                state: State) -> Response[LoginResponse]:
    auth: Auth = state.auth
    client = request.client.host if request.client else "?"
    token = auth.login(data.pin, client)
    state.bridge.director_logged_in()
    return Response(
        LoginResponse(token=token, expires_s=auth.ttl_s),
        cookies=[Cookie(key=COOKIE, value=token, httponly=True, samesite="strict", path="/",
                        max_age=auth.ttl_s)])


@post("/api/auth/logout", operation_id="logout", summary="Log out (forget this token)",
      opt={"public_write": True}, status_code=200, tags=["auth"])
async def logout(request: Request, state: State) -> Response[Director]:
    state.auth.logout(token_of(request))
    # An expired cookie (max-age 0) makes the browser forget it.
    return Response(Director(director=False),
                    cookies=[Cookie(key=COOKIE, value="", httponly=True, samesite="strict",
                                    path="/", max_age=0)])


@get("/api/auth/me", operation_id="whoAmI", summary="Is this client logged in as director?",
     tags=["auth"])
async def me(request: Request, state: State) -> Director:
    return Director(director=state.auth.valid(token_of(request)))


route_handlers = [login, logout, me]
