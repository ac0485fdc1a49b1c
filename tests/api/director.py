"""A client of the director's challenge login, for tests: pysrp's own ``srp.User`` does the
client side of SRP-6a (so the server is checked against an independent implementation),
and an httpx ``Auth`` signs every request as webui/js/director.js does."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import httpx
import srp

from pitwall.api import director_login


@dataclass
class SignedSession(httpx.Auth):
    sid: str
    key: bytes
    offset: float  # the box's clock minus ours
    requires_request_body = True

    def auth_flow(self, request: httpx.Request):
        target = request.url.raw_path.decode("ascii")
        ts = str(round(time.time() + self.offset))
        nonce = secrets.token_hex(16)
        sig = director_login.signature(self.key, request.method, target, ts, nonce,
                                       request.content)
        request.headers["Authorization"] = (f"{director_login.SCHEME} sid={self.sid}, "
                                            f"ts={ts}, nonce={nonce}, sig={sig}")
        yield request


def prove(client: httpx.Client, pin: str) -> httpx.Response:
    """Both steps of the challenge login; the last response (200 with a session, or the
    error). The client checks the box's proof (H_AMK) on success."""
    r = client.post("/api/auth/challenge", json={})
    if r.status_code != 200:
        return r
    c = r.json()
    user = srp.User(director_login.USER, pin, hash_alg=srp.SHA256, ng_type=srp.NG_2048)
    _, A = user.start_authentication()
    M = user.process_challenge(bytes.fromhex(c["salt"]), bytes.fromhex(c["B"]))
    r = client.post("/api/auth/verify",
                    json={"challenge": c["challenge"], "A": A.hex(), "M": M.hex()})
    if r.status_code == 200:
        user.verify_session(bytes.fromhex(r.json()["HAMK"]))
        assert user.authenticated(), "the box did not prove it knows the PIN"
        r.extensions["srp_key"] = user.get_session_key()
    return r


def log_in(client: httpx.Client, pin: str) -> SignedSession:
    """Log ``client`` in with the challenge; it signs every request from then on."""
    r = prove(client, pin)
    assert r.status_code == 200, r.text
    body = r.json()
    key = director_login.signing_key(r.extensions["srp_key"])
    session = SignedSession(body["session"], key, body["server_time"] - time.time())
    client.auth = session
    return session
