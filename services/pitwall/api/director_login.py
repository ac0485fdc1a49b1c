"""The director's challenge login (SRP-6a) and the signed requests that follow it.

The PIN never crosses the Wi-Fi, and nothing that does lets a listener test PIN guesses
offline: SRP-6a (RFC 2945 / RFC 5054's 2048-bit group, SHA-256) is a PAKE, so a sniffed
exchange is worth nothing without the verifier, which only the box holds. Both ends
then share a session key; every director request is signed with a key derived from it
(HMAC-SHA256 over the method, path, body, a time stamp and a one-time nonce), so there
is no bearer token on the air to copy and a sniffed request cannot be replayed.

The server side is the ``srp`` package (pysrp); the browser's side is
``webui/js/director.js``, the same arithmetic on BigInt with @noble/hashes' SHA-256
(plain HTTP pages have no WebCrypto). Its byte conventions are pysrp's defaults:
numbers as minimal big-endian bytes, no RFC 5054 padding, user name in ``x``.

Challenges are stateless, so API replicas sharing a data folder (docs/scale-out.md) can
answer either step: the server's ephemeral secret ``b`` is derived from the box's
login key (``<data_dir>/api-login.key``) and the challenge id, which carries its issue
time and a MAC. The salt is derived from the same key and the PIN (public, but useless
without the key). See docs/security.md for the threat model.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import srp

USER = "director"
CHALLENGE_TTL_S = 60
# How far a signed request's time stamp may be from the box's clock (the box keeps its
# own time: the client learns the offset at login, so a box without a real-time clock
# is fine), and so how long nonces are remembered.
SIGNATURE_SKEW_S = 300
SCHEME = "Pitwall-Sig"
SIGNING_LABEL = b"pitwall request signing"

# RFC 5054 appendix A, 2048-bit group, generator 2 (srp.NG_2048).
N = int(
    "AC6BDB41324A9A9BF166DE5E1389582FAF72B6651987EE07FC3192943DB56050A37329CBB4A099ED8193E07"
    "57767A13DD52312AB4B03310DCD7F48A9DA04FD50E8083969EDB767B0CF6095179A163AB3661A05FBD5FAAA"
    "E82918A9962F0B93B855F97993EC975EEAA80D740ADBF4FF747359D041D5C33EA71D281E446B14773BCA97B4"
    "3A23FB801676BD207A436C6481F1D2B9078717461A5B9D32E688F87748544523B524B0D57D5EA77A2775D2EC"
    "FA032CFBDBF52FB3786160279004E57AE6AF874E7303CE53299CCC041C7BC308D82A5698F3A8D0C38271AE35"
    "F8E9DBFBB694B5C803D89F7AE435DE236D525F54759B65E372FCD68EF20FA7111F9E4AFF73", 16)
G = 2


def _bytes(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def load_key(path: Path | None) -> bytes:
    """The box's login key: 32 random bytes, made once (mode 0600) and shared by the
    replicas of one data folder; in memory only without a folder."""
    if path is None:
        return secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError:  # a read-only data folder: logins work, in this process
        return secrets.token_bytes(32)
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    try:
        key = path.read_bytes()
    except OSError:
        return secrets.token_bytes(32)
    return key if len(key) >= 32 else secrets.token_bytes(32)


def verifier(key: bytes, pin: str) -> tuple[bytes, bytes]:
    """(salt, verifier) for the PIN: v = g^x, x = H(salt | H("director:" | PIN))."""
    salt = bytearray(hmac.new(key, b"srp salt|" + pin.encode(), hashlib.sha256).digest()[:16])
    # No leading zero byte: pysrp's OpenSSL back end holds the salt as a number and so
    # drops it (its pure-Python one and the browser keep it), and the proofs would differ.
    salt[0] |= 0x80
    salt = bytes(salt)
    inner = hashlib.sha256(f"{USER}:{pin}".encode()).digest()
    x = int.from_bytes(hashlib.sha256(salt + inner).digest(), "big")
    return salt, _bytes(pow(G, x, N))


def _expand(key: bytes, label: str, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(key, f"{label}|{counter}".encode(), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def _srp_verifier(key: bytes, challenge: str, salt: bytes, v: bytes):
    # pysrp's C (OpenSSL) back end wants a 32-byte b, its pure-Python one 256 bytes.
    for length in (32, 256):
        try:
            return srp.Verifier(USER, salt, v, hash_alg=srp.SHA256, ng_type=srp.NG_2048,
                                bytes_b=_expand(key, "b|" + challenge, length))
        except ValueError:
            continue
    raise RuntimeError("the srp package accepts no ephemeral secret length we know")


_CHALLENGE = re.compile(r"^(\d{1,12})\.([0-9a-f]{32})\.([0-9a-f]{32})$")


def new_challenge(key: bytes, salt: bytes, v: bytes, now: float) -> tuple[str, bytes]:
    """(challenge id, B)."""
    issued, nonce = int(now), secrets.token_hex(16)
    mac = hmac.new(key, f"challenge|{issued}|{nonce}".encode(), hashlib.sha256).hexdigest()
    challenge = f"{issued}.{nonce}.{mac[:32]}"
    _, B = _srp_verifier(key, challenge, salt, v).get_challenge()
    return challenge, B


def challenge_fresh(key: bytes, challenge: str, now: float) -> bool:
    match = _CHALLENGE.match(challenge)
    if not match:
        return False
    issued, nonce, mac = match.groups()
    want = hmac.new(key, f"challenge|{issued}|{nonce}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, want[:32]) and 0 <= now - int(issued) <= CHALLENGE_TTL_S


def verify(key: bytes, challenge: str, salt: bytes, v: bytes, A: bytes,
           M: bytes) -> tuple[bytes, bytes] | None:
    """(H_AMK, signing key) when the client proved the PIN; None otherwise."""
    ver = _srp_verifier(key, challenge, salt, v)
    hamk = ver.verify_session(M, A)
    if hamk is None or not ver.authenticated():
        return None
    return hamk, signing_key(ver.get_session_key())


def signing_key(K: bytes) -> bytes:
    """The key requests are signed with, from SRP's session key K."""
    return hmac.new(K, SIGNING_LABEL, hashlib.sha256).digest()


# ---------------------------------------------------------------- signed requests
_FIELD = re.compile(r'(\w+)="?([^",\s]*)"?')


def parse_signature(header: str) -> dict[str, str] | None:
    """``Pitwall-Sig sid=…, ts=…, nonce=…, sig=…`` -> its fields (None if not one)."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != SCHEME.lower():
        return None
    fields = dict(_FIELD.findall(rest))
    if not {"sid", "ts", "nonce", "sig"} <= fields.keys():
        return None
    if not (fields["ts"].isdigit() and re.fullmatch(r"[0-9a-f]{16,64}", fields["nonce"])
            and re.fullmatch(r"[0-9a-f]{64}", fields["sig"])):
        return None
    return fields


def signing_text(method: str, target: str, ts: str, nonce: str, body: bytes) -> bytes:
    """What the client signs: method, path with query (as sent), time, nonce, body hash."""
    return "\n".join([method.upper(), target, ts, nonce,
                      hashlib.sha256(body).hexdigest()]).encode()


def signature(signing_key: bytes, method: str, target: str, ts: str, nonce: str,
              body: bytes) -> str:
    return hmac.new(signing_key, signing_text(method, target, ts, nonce, body),
                    hashlib.sha256).hexdigest()
