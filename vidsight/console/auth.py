"""Who is asking: password hashes, signed session cookies and CSRF tokens (pure, no I/O).

A session cookie is ``<user>.<expiry>.<nonce>.<mac>`` with an HMAC-SHA256 over the rest under
the console's session secret: nothing is stored server-side, and a cookie cannot be forged or
extended without the key. The CSRF token of a session is an HMAC of its nonce (synchronizer
token derived from the session, so it changes with every login and needs no storage); the
login form, which comes before any session, uses a double-submit cookie instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_PASSWORD_CHARS = 256
"""Longer passwords are refused before hashing: scrypt's cost must not grow with the input."""
MAX_COOKIE_CHARS = 512


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (salt and hash in URL-safe base64)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return "$".join(
        ("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest))
    )


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant-time compare)."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    parts = hashed.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return False
    if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
        return False  # a hash from settings, but its cost must stay bounded all the same
    given = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**27
    )
    return hmac.compare_digest(given, expected)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("bad base64") from exc


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in operator; ``nonce`` ties the CSRF token to this login."""

    user: str
    expires: int
    nonce: str


class Signer:
    """Makes and checks session cookies and CSRF tokens under one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the session key needs at least 16 bytes")
        self._key = key

    def _mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}\n{text}".encode(), hashlib.sha256).digest())

    def issue(self, user: str, now: int, max_age_s: int) -> str:
        """A fresh session cookie value for ``user``."""
        body = f"{user}.{now + max_age_s}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._mac('session', body)}"

    def session(self, cookie: str | None, now: int) -> Session | None:
        """The session a cookie proves, or None (missing, forged, malformed or expired)."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac.encode(), self._mac("session", body).encode()):
            return None
        user, _, rest = body.partition(".")
        expires, _, nonce = rest.partition(".")
        if not expires.isdigit() or int(expires) <= now or not nonce:
            return None
        return Session(user, int(expires), nonce)

    def csrf(self, session: Session) -> str:
        """The CSRF token pages of this session send back in ``X-CSRF-Token``."""
        return self._mac("csrf", session.nonce)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        """Whether ``token`` is this session's CSRF token."""
        if not token or len(token) > 128:
            return False
        return hmac.compare_digest(token.encode(), self.csrf(session).encode())


def check_login(user: str, password: str, accounts: dict[str, str], *, dummy_hash: str) -> bool:
    """Whether the user exists and the password matches; the same work either way.

    An unknown user still costs one scrypt (against ``dummy_hash``), so timing does not say
    which user names exist.
    """
    hashed = accounts.get(user)
    ok = verify_password(password, hashed if hashed is not None else dummy_hash)
    return ok and hashed is not None
