"""Camera credentials as references, and source URLs checked and redacted for secrets.

A camera's password never travels: the configuration names where the edge finds it (an
environment variable or a secret file, resolved when the source is opened), and that
reference is what the topic, the stores and the archive hold. These helpers are pure so that
the YAML loader refuses inline secrets; every reader of the cameras topic redacts what an
older tool may still have written inline with ``vidsight.redact.redact_url``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

# One list of the query parameters taken for secrets and one redact_url, shared with every
# other redaction (vidsight/redact.py).
from vidsight.redact import SECRET_PARAMS, split_authority


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraCredentials:
    """Where the edge finds a camera's login: a user name and one password reference."""

    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None


def inline_secrets(url: str) -> list[str]:
    """What in ``url`` is a credential (empty when nothing is): userinfo, secret parameters."""
    found = []
    parts = split_authority(url)
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


def with_login(url: str, username: str, password: str) -> str:
    """``url`` with the login as userinfo (percent-encoded): for the edge's memory only."""
    parts = split_authority(url)
    if parts is None:
        raise ValueError("a login can only be added to a scheme://host URL")
    scheme, authority, rest = parts
    return f"{scheme}{quote(username, safe='')}:{quote(password, safe='')}@{authority}{rest}"
