"""The race director's login and the guard on every write. docs/security.md has the
threat model.

- Phones and laptops log in with a challenge (SRP-6a, director_login.py): POST
  /api/auth/challenge, then /api/auth/verify with a proof of the PIN. The PIN never
  crosses the Wi-Fi, and each later request is signed with a key from that exchange
  (``Authorization: Pitwall-Sig …``), so nothing on the air can be copied or replayed.
- The box itself (``api.local_clients``: loopback by default, the TV/kiosk and tools
  on the Pi) may also log in with the plain PIN (POST /api/auth/login) for a token, sent
  as an HttpOnly cookie and in the body (for ``Authorization: Bearer``). Such tokens,
  and the plain login, are refused from anywhere else.
- The PIN comes from the settings (``director_pin``); with none set nobody can log in,
  so nothing can be changed (login answers 503 and says how to set one).
- PINs are compared in constant time. Five wrong PINs from one address within a minute
  lock that address out for the rest of the minute, and twenty from all addresses lock
  out everyone but the box itself (429 with ``Retry-After``); the box has its own
  count, so a phone cannot lock the director out of the TV/kiosk.
- The server keeps only a keyed hash of each token and session id with its expiry (and
  a session's signing key), in memory and in ``<data_dir>/api-tokens.json``, so a
  restart of the API keeps directors logged in, and a new PIN logs everybody out.
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
import ipaddress
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
    PermissionDeniedException,
    ServiceUnavailableException,
    TooManyRequestsException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody
from msgspec import Meta

from pitwall.api import director_login, private_file

log = logging.getLogger(__name__)

COOKIE = "pitwall_director"
MAX_FAILURES = 5
GLOBAL_MAX_FAILURES = 20  # from all addresses but the box's own, per window
FAILURE_WINDOW_S = 60.0
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
LOCAL_CLIENTS = ("127.0.0.0/8", "::1/128")
SESSION_PREFIX = "s:"  # token-file keys of challenge-login sessions


def _expiry(value) -> float:
    return float(value[0] if isinstance(value, list) else value)


class Auth:
    def __init__(self, pin: str, ttl_s: int, path: Path | None, *,
                 local_clients: tuple[str, ...] | list[str] = LOCAL_CLIENTS,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.pin = pin
        self.ttl_s = ttl_s
        self.path = path
        self.clock = clock
        self.monotonic = monotonic
        self.local_networks = [ipaddress.ip_network(n, strict=False) for n in local_clients]
        self._lock = threading.Lock()
        # keyed hash -> expiry (wall clock); for sessions [expiry, signing key hex]
        self._tokens: dict[str, float | list] = {}
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._all_failures: deque[float] = deque()  # every address but the box's own
        self._seen: dict[str, dict[str, float]] = {}  # session -> nonce -> when (wall)
        self._used_challenges: dict[str, float] = {}
        self._stamp: int | None = None  # the token file's mtime when last read
        key_path = path.with_name("api-login.key") if path is not None else None
        self._login_key = director_login.load_key(key_path)
        self._srp = director_login.verifier(self._login_key, pin) if pin else None
        self._sync()

    @property
    def enabled(self) -> bool:
        return bool(self.pin)

    def is_local(self, client: str) -> bool:
        """Is this address the box itself (api.local_clients: the TV/kiosk, tools)?"""
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in net for net in self.local_networks)

    def _require_pin(self) -> None:
        if not self.enabled:
            raise ServiceUnavailableException(
                "no director PIN is set: set director_pin in the settings file "
                "(or PITWALL_DIRECTOR_PIN) and restart the API")

    def _check_lockout(self, client: str) -> None:
        wait = self._locked_out_for(client)
        if wait:
            raise TooManyRequestsException(
                f"too many wrong PINs: try again in {wait} s",
                headers={"Retry-After": str(wait)})

    def _failed(self, client: str) -> None:
        now = self.monotonic()
        self._failures[self._bucket(client)].append(now)
        if not self.is_local(client):
            self._all_failures.append(now)
        log.warning("wrong director PIN from %s", client)

    def login(self, pin: str, client: str) -> str:
        """A new token for the right PIN, from the box itself only; raises 503 / 403 /
        429 / 401 as HTTP exceptions."""
        self._require_pin()
        if not self.is_local(client):
            raise PermissionDeniedException(
                "the plain PIN login is for the box itself: log in with the challenge "
                "(POST /api/auth/challenge, then /api/auth/verify; the web app does), so "
                "the PIN never crosses the Wi-Fi")
        with self._lock:
            self._check_lockout(client)
            if not hmac.compare_digest(pin.encode(), self.pin.encode()):
                self._failed(client)
                raise NotAuthorizedException("wrong PIN")
            self._failures.pop(self._bucket(client), None)
            token = secrets.token_urlsafe(32)
            self._store(self._key(token), None)
        log.info("director logged in from %s", client)
        return token

    def challenge(self, client: str) -> tuple[str, bytes, bytes]:
        """(challenge id, salt, B) for the SRP login's first step."""
        self._require_pin()
        with self._lock:
            self._check_lockout(client)
        salt, v = self._srp
        challenge, B = director_login.new_challenge(self._login_key, salt, v, self.clock())
        return challenge, salt, B

    def verify(self, challenge: str, A: bytes, M: bytes, client: str) -> tuple[str, bytes]:
        """The SRP login's second step: (session id, H_AMK) for a client that proved the
        PIN. A wrong proof counts as a wrong PIN."""
        self._require_pin()
        now = self.clock()
        with self._lock:
            self._check_lockout(client)
            self._used_challenges = {c: t for c, t in self._used_challenges.items()
                                     if t > now - 2 * director_login.CHALLENGE_TTL_S}
            if (not director_login.challenge_fresh(self._login_key, challenge, now)
                    or challenge in self._used_challenges):
                raise NotAuthorizedException("the login challenge has expired: start again")
            self._used_challenges[challenge] = now
        salt, v = self._srp
        proved = director_login.verify(self._login_key, challenge, salt, v, A, M)
        with self._lock:
            if proved is None:
                self._failed(client)
                raise NotAuthorizedException("wrong PIN")
            self._failures.pop(self._bucket(client), None)
            hamk, signing_key = proved
            sid = secrets.token_urlsafe(18)
            self._store(SESSION_PREFIX + self._key(sid), signing_key.hex())
        log.info("director logged in from %s (challenge)", client)
        return sid, hamk

    def _store(self, key: str, signing_key: str | None) -> None:
        with self._file_locked():
            now = self.clock()
            self._tokens = {k: exp for k, exp in self._tokens.items() if _expiry(exp) > now}
            expiry = now + self.ttl_s
            self._tokens[key] = expiry if signing_key is None else [expiry, signing_key]
            self._save()

    def valid(self, token: str | None) -> bool:
        """A plain-login token (bearer or cookie); the caller checks it came from the box."""
        if not token or not self.enabled:
            return False
        with self._lock:
            self._sync()
            expiry = self._tokens.get(self._key(token))
        return isinstance(expiry, float | int) and expiry > self.clock()

    def signed(self, fields: dict[str, str], method: str, target: str, body: bytes) -> bool:
        """Is this a request signed by a live challenge-login session, not seen before?"""
        if not self.enabled:
            return False
        key = SESSION_PREFIX + self._key(fields["sid"])
        now = self.clock()
        if abs(int(fields["ts"]) - now) > director_login.SIGNATURE_SKEW_S:
            return False
        with self._lock:
            self._sync()
            entry = self._tokens.get(key)
            if not isinstance(entry, list) or entry[0] <= now:
                return False
            want = director_login.signature(bytes.fromhex(entry[1]), method, target,
                                            fields["ts"], fields["nonce"], body)
            if not hmac.compare_digest(want, fields["sig"]):
                return False
            seen = self._seen.setdefault(key, {})
            if fields["nonce"] in seen:
                log.warning("a replayed director request was refused")
                return False
            horizon = now - 2 * director_login.SIGNATURE_SKEW_S
            for nonce in [n for n, t in seen.items() if t < horizon]:
                del seen[nonce]
            seen[fields["nonce"]] = now
        return True

    def logout(self, token: str | None, session: str | None = None) -> None:
        keys = [k for k in (self._key(token) if token else None,
                            SESSION_PREFIX + self._key(session) if session else None) if k]
        if not keys:
            return
        with self._lock, self._file_locked():
            if [self._tokens.pop(k, None) for k in keys] != [None] * len(keys):
                self._save()
            for k in keys:
                self._seen.pop(k, None)

    def _bucket(self, client: str) -> str:
        return ("local " if self.is_local(client) else "") + client

    def _locked_out_for(self, client: str) -> int:
        """Seconds until this client may try again (0: now). The box itself is judged by
        its own failures only; everyone else also by everyone's together."""
        now = self.monotonic()
        horizon = now - FAILURE_WINDOW_S
        bucket = self._bucket(client)
        failures = self._failures[bucket]
        while failures and failures[0] <= horizon:
            failures.popleft()
        while self._all_failures and self._all_failures[0] <= horizon:
            self._all_failures.popleft()
        wait = 0.0
        if len(failures) >= MAX_FAILURES:
            wait = failures[-MAX_FAILURES] + FAILURE_WINDOW_S - now
        elif not failures:
            del self._failures[bucket]
        if not self.is_local(client) and len(self._all_failures) >= GLOBAL_MAX_FAILURES:
            wait = max(wait, self._all_failures[-GLOBAL_MAX_FAILURES] + FAILURE_WINDOW_S - now)
        return max(1, math.ceil(wait)) if wait > 0 else 0

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
            self._tokens = {str(k): v if isinstance(v, list) else float(v)
                            for k, v in data.items() if _expiry(v) > now}
        except (OSError, ValueError, AttributeError, TypeError, IndexError) as exc:
            log.warning("ignoring unreadable %s (%s): directors log in again", self.path, exc)

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            private_file.write_json(self.path, self._tokens)
            self._stamp = self.path.stat().st_mtime_ns
        except OSError as exc:  # logins still work; they just won't survive a restart
            log.warning("cannot save logins to %s: %s", self.path, exc)


def client_of(connection: ASGIConnection) -> str:
    """The TCP peer's address (X-Forwarded-For counts only from api.trusted_proxies:
    uvicorn applies it, api/main.py)."""
    return connection.client.host if connection.client else "?"


def token_of(connection: ASGIConnection) -> str | None:
    """A plain-login token, if the request carries one and comes from the box itself."""
    if not connection.app.state.auth.is_local(client_of(connection)):
        return None
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.cookies.get(COOKIE)


def _target(connection: ASGIConnection) -> str:
    """The request target as the client sent it (path and query, still encoded)."""
    path = connection.scope.get("raw_path") or connection.scope["path"].encode()
    query = connection.scope.get("query_string") or b""
    return (path + (b"?" + query if query else b"")).decode("latin-1")


async def session_of(connection: ASGIConnection) -> str | None:
    """The challenge-login session id of a correctly signed, fresh request."""
    fields = director_login.parse_signature(connection.headers.get("authorization", ""))
    if fields is None:
        return None
    body = await Request(connection.scope, connection.receive).body() \
        if connection.scope["type"] == "http" else b""
    auth: Auth = connection.app.state.auth
    ok = auth.signed(fields, connection.scope["method"], _target(connection), body)
    return fields["sid"] if ok else None


async def is_director(connection: ASGIConnection) -> bool:
    if await session_of(connection):
        return True
    return connection.app.state.auth.valid(token_of(connection))


async def writes_need_director(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """App-wide guard: every request that may change something needs the director.

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
    if not await is_director(connection):
        raise NotAuthorizedException(
            "the race director must log in: POST /api/auth/challenge and /api/auth/verify "
            "(docs/security.md), then sign each request")


def needs_director(handler: BaseRouteHandler) -> bool:
    """Does the guard above ask this handler for the director (for the OpenAPI 401s)?"""
    methods = getattr(handler, "http_methods", set())
    if handler.opt.get("public_write"):
        return False
    return bool(handler.opt.get("director_read") or set(methods) - READ_METHODS)


# ---------------------------------------------------------------- HTTP
class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    pin: Annotated[str, Meta(min_length=1, max_length=64)]


class LoginResponse(msgspec.Struct):
    token: str
    expires_s: int


class Director(msgspec.Struct):
    director: bool


class ChallengeRequest(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Challenge(msgspec.Struct):
    challenge: str
    salt: str  # hex
    B: str  # hex
    user: str = director_login.USER
    group: str = "rfc5054-2048"
    hash: str = "sha256"


_HEX = r"^[0-9a-fA-F]+$"


class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    challenge: Annotated[str, Meta(max_length=100)]
    A: Annotated[str, Meta(min_length=2, max_length=1024, pattern=_HEX)]
    M: Annotated[str, Meta(min_length=64, max_length=64, pattern=_HEX)]


class Session(msgspec.Struct):
    session: str
    HAMK: str  # hex: the box's proof that it knows the PIN too
    expires_s: int
    server_time: float  # the box's wall clock: signed requests carry a time on it


@post("/api/auth/login", operation_id="login",
      summary="Log in as the race director with the plain PIN (from the box itself only)",
      opt={"public_write": True}, status_code=200, tags=["auth"])
async def login(data: JSONBody[LoginRequest], request: Request,
                state: State) -> Response[LoginResponse]:
    auth: Auth = state.auth
    token = auth.login(data.pin, client_of(request))
    state.bridge.director_logged_in()
    return Response(
        LoginResponse(token=token, expires_s=auth.ttl_s),
        cookies=[Cookie(key=COOKIE, value=token, httponly=True, samesite="strict", path="/",
                        max_age=auth.ttl_s)])


@post("/api/auth/challenge", operation_id="loginChallenge",
      summary="Start the director's challenge login (SRP-6a): the salt and B",
      opt={"public_write": True}, status_code=200, tags=["auth"])
async def challenge(data: JSONBody[ChallengeRequest], request: Request,
                    state: State) -> Challenge:
    challenge_id, salt, B = state.auth.challenge(client_of(request))
    return Challenge(challenge=challenge_id, salt=salt.hex(), B=B.hex())


@post("/api/auth/verify", operation_id="loginVerify",
      summary="Finish the challenge login with A and the proof M: a signing session",
      opt={"public_write": True}, status_code=200, tags=["auth"])
async def verify(data: JSONBody[VerifyRequest], request: Request, state: State) -> Session:
    auth: Auth = state.auth
    A, M = bytes.fromhex(data.A.zfill(len(data.A) + len(data.A) % 2)), bytes.fromhex(data.M)
    sid, hamk = auth.verify(data.challenge, A, M, client_of(request))
    state.bridge.director_logged_in()
    return Session(session=sid, HAMK=hamk.hex(), expires_s=auth.ttl_s,
                   server_time=auth.clock())


@post("/api/auth/logout", operation_id="logout", summary="Log out (forget this token)",
      opt={"public_write": True}, status_code=200, tags=["auth"])
async def logout(request: Request, state: State) -> Response[Director]:
    state.auth.logout(token_of(request), await session_of(request))
    # An expired cookie (max-age 0) makes the browser forget it.
    return Response(Director(director=False),
                    cookies=[Cookie(key=COOKIE, value="", httponly=True, samesite="strict",
                                    path="/", max_age=0)])


@get("/api/auth/me", operation_id="whoAmI", summary="Is this client logged in as director?",
     tags=["auth"])
async def me(request: Request) -> Director:
    return Director(director=await is_director(request))


route_handlers = [login, challenge, verify, logout, me]


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str


def document_responses(handlers: list) -> None:
    """Say in the OpenAPI document what the guard answers: 401 on every operation that
    needs the director (and the ``director`` security scheme), 429 (and 403 for the plain
    login) on the logins. Idempotent: the handlers are module-level objects."""
    from litestar.handlers import HTTPRouteHandler
    from litestar.openapi.datastructures import ResponseSpec

    def add(handler, code: int, description: str) -> None:
        handler.responses = {**(handler.responses or {}),
                             code: ResponseSpec(data_container=ErrorBody, description=description,
                                                generate_examples=False)}

    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler):
            continue
        if needs_director(handler):
            add(handler, 401, "The race director is not logged in (or the request's "
                "signature is wrong, stale or replayed)")
            handler.security = handler.security or [{"director": []}]
        elif handler in (login, challenge, verify):
            add(handler, 429, "Too many wrong PINs: try again after Retry-After seconds")
            if handler is not challenge:
                add(handler, 401, "Wrong PIN, or the challenge has expired")
            if handler is login:
                add(handler, 403, "The plain PIN login is for the box itself")
