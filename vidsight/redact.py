"""Redaction of secrets in anything printed or logged: URLs, DSNs and free text.

A leaf module of the bottom layer (stdlib only), so every package can redact what it shows.
"""

from __future__ import annotations

import re

MASK = "***"
# Query parameters and libpq keywords that carry a secret.
SECRET_PARAMS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "token",
        "key",
        "api_key",
        "apikey",
        "access_token",
        "auth",
        "sslpassword",
        "sig",
        "signature",
    }
)
_KV_SECRET = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|sslpassword)\s*=\s*('[^']*'|\"[^\"]*\"|[^\s&;,]+)"
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]*):([^/\s@]*)@")


def split_authority(url: str) -> tuple[str, str, str] | None:
    """``(scheme://, authority, rest)`` of a hierarchical URL, None for other strings."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return scheme + sep, rest[:end], rest[end:]


def port_like(authority: str) -> bool:
    """Whether what follows the last ':' of a host is a port (or nothing)."""
    port = authority.rpartition(":")[2]
    return not port or port.isdigit()


def redact_url(url: str) -> str:
    """``url`` with every credential masked: the password of its userinfo (also one holding
    '/' or '@'), a password-like text where the port goes, and secret query parameters.
    User names stay: they name the login, not the key."""
    parts = split_authority(url)
    if parts is None:
        return _redact_query(url)
    scheme, authority, rest = parts
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}:{MASK}@{host}" if colon else f"{user}@{host}"
    elif "@" in rest.partition("?")[0]:
        # A password holding '/' ends the authority early: mask up to the last '@'.
        path, _, after = rest.partition("?")
        rest = f"/{MASK}@{path.rpartition('@')[2]}" + (f"?{after}" if after else "")
        authority = f"{authority.partition(':')[0]}:{MASK}" if ":" in authority else authority
    elif ":" in authority and not authority.endswith("]") and not port_like(authority):
        authority = f"{authority.rpartition(':')[0]}:{MASK}"
    return _redact_query(scheme + authority + rest)


def _redact_query(url: str) -> str:
    """The secret query parameters' values masked; every other parameter kept as it was."""
    head, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = query.partition("#")
    pairs = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        pairs.append(f"{name}={MASK}" if eq and name.lower() in SECRET_PARAMS else item)
    return f"{head}?{'&'.join(pairs)}{hash_sep}{fragment}"


def redact_text(text: str) -> str:
    """Free text with URL passwords and ``password=...`` style values masked."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MASK}@", text)
    return _KV_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)
