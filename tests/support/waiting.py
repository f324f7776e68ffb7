"""Waiting for something in the tests: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    check: Callable[[], object],
    timeout_s: float,
    what: str,
    *,
    interval_s: float = 0.2,
    retry_on: tuple[type[Exception], ...] = (),
    detail: Callable[[], str] | None = None,
) -> None:
    """Call ``check`` every ``interval_s`` until it returns something true.

    Exceptions of the ``retry_on`` types count as "not yet" (a server still starting); any
    other exception ends the wait. On timeout an AssertionError names ``what`` and adds
    ``detail()`` (a log tail, the last answer) when given.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except retry_on:
            pass
        if time.monotonic() >= deadline:
            break
        time.sleep(interval_s)
    extra = detail() if detail is not None else ""
    raise AssertionError(
        f"timed out after {timeout_s}s waiting for {what}" + (f"\n{extra}" if extra else "")
    )
