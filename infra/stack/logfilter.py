"""``python -m infra.stack.logfilter --drop REGEX -- CMD...``: run CMD, keep its log readable.

A part whose server logs harmless lines at ERROR level (rclone's "request method or response
status code does not allow body", written for every HEAD/304 answer it gives the broker's
object store client) would bury real errors in `vidsight logs`. This wrapper runs the part
as its child, copies its output line by line except lines matching a ``--drop`` pattern, and
passes SIGTERM/SIGINT on, so the stack stops it like any part.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack.logfilter")
    parser.add_argument("--drop", action="append", default=[], help="regex of lines to drop")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required after --")
    patterns = [re.compile(p) for p in args.drop]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    assert child.stdout is not None
    out = sys.stdout.buffer
    for raw in child.stdout:
        line = raw.decode(errors="replace")
        if not any(p.search(line) for p in patterns):
            out.write(raw)
            out.flush()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
