"""Redaction: no password of a URL, DSN or key=value text survives into what is printed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vidsight.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("rtsp://admin:hunter2@10.0.0.5/stream1", "rtsp://admin:***@10.0.0.5/stream1"),
        ("http://h/snap.jpg?user=a&password=hunter2", "http://h/snap.jpg?user=a&password=***"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        # a password holding '/' or '@', a password where the port goes, other parameters as given
        ("rtsp://admin:pa/ss@cam/s", "rtsp://admin:***/***@cam/s"),
        ("rtsp://admin:p@ss@cam/s", "rtsp://admin:***@cam/s"),
        ("http://cam:hunter2/snap.jpg", "http://cam:***/snap.jpg"),
        ("http://h/x?a=1%202&token=t#f", "http://h/x?a=1%202&token=***#f"),
        ("host:9092?sslpassword=x", "host:9092?sslpassword=***"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


_secret = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_", min_size=6)


@given(password=_secret)
def test_no_password_survives_a_url_or_text(password: str) -> None:
    url = f"postgresql://postgres:{password}@127.0.0.1:5433/vidsight"
    assert password not in redact_url(url)
    assert password not in redact_text(f"connect failed for {url} (password={password})")
