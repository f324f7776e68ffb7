"""Camera credentials as references, and source URLs checked and redacted for secrets.

A camera's password never travels: the configuration names where the edge finds it (an
environment variable or a secret file, resolved when the source is opened), and that
reference is what the topic, the stores and the archive hold. These helpers are pure so that
the YAML loader refuses inline secrets, and every reader of the cameras topic redacts what an
older tool may still have written inline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

# One list of the query parameters taken for secrets, shared with every other redaction.
from vidsight.redact import MASK, SECRET_PARAMS


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraCredentials:
    """Where the edge finds a camera's login: a user name and one password reference."""

    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum."""
        return {
            "username": self.username,
            "password_env": self.password_env,
            "password_file": self.password_file,
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> CameraCredentials:
        """Build from an Avro datum."""
        return cls(
            username=data["username"],
            password_env=data["password_env"],
            password_file=data["password_file"],
        )


def _authority(url: str) -> tuple[str, str, str] | None:
    """``(scheme://, authority, rest)`` of a hierarchical URL, None for other strings."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return scheme + sep, rest[:end], rest[end:]


def inline_secrets(url: str) -> list[str]:
    """What in ``url`` is a credential (empty when nothing is): userinfo, secret parameters."""
    found = []
    parts = _authority(url)
    if parts is not None:
        _, authority, rest = parts
        if "@" in authority or "@" in rest.partition("?")[0].partition("#")[0]:
            found.append("a user name or password before '@'")
        else:
            _, _, port = authority.rpartition(":")
            if ":" in authority and not authority.endswith("]") and port and not port.isdigit():
                found.append("a password-like text after ':' where the port goes")
    query = urlsplit(url).query if parts is not None else url.partition("?")[2]
    for name, _ in parse_qsl(query, keep_blank_values=True):
        if name.lower() in SECRET_PARAMS:
            found.append(f"the query parameter {name!r}")
    return found


def redact_url(url: str) -> str:
    """``url`` with every credential masked (user names stay: they name the login, not the key)."""
    parts = _authority(url)
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


def port_like(authority: str) -> bool:
    """Whether what follows the last ':' of a host is a port (or nothing)."""
    port = authority.rpartition(":")[2]
    return not port or port.isdigit()


def _redact_query(url: str) -> str:
    head, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = query.partition("#")
    pairs = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        pairs.append(f"{name}={MASK}" if eq and name.lower() in SECRET_PARAMS else item)
    return f"{head}?{'&'.join(pairs)}{hash_sep}{fragment}"


def with_login(url: str, username: str, password: str) -> str:
    """``url`` with the login as userinfo (percent-encoded): for the edge's memory only."""
    parts = _authority(url)
    if parts is None:
        raise ValueError("a login can only be added to a scheme://host URL")
    scheme, authority, rest = parts
    return f"{scheme}{quote(username, safe='')}:{quote(password, safe='')}@{authority}{rest}"
