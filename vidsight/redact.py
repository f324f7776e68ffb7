"""Redaction of secrets in anything printed or logged: URLs, DSNs and free text.

A leaf module of the bottom layer (stdlib only), so every package can redact what it shows.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


def redact_url(url: str) -> str:
    """``url`` with the password of its userinfo and secret query parameters masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if sep else f"{user}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
            query = urlencode(
                [(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="*"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Free text with URL passwords and ``password=...`` style values masked."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MASK}@", text)
    return _KV_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)


def has_inline_password(url: str) -> bool:
    """True when ``url`` carries a password in its userinfo or a secret query parameter."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if "@" in parts.netloc and ":" in parts.netloc.rpartition("@")[0]:
        return True
    return any(k.lower() in SECRET_PARAMS for k, _ in parse_qsl(parts.query))
