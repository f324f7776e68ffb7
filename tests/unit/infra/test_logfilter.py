"""The log filter drops only the lines it is told to and keeps the part's exit status."""

from __future__ import annotations

import subprocess
import sys


def test_drops_matching_lines_keeps_the_rest_and_the_exit_code() -> None:
    script = (
        "import sys\n"
        "print('NOTICE: serving')\n"
        "print('ERROR : serve s3: http: request method or response status code does not '\n"
        "      'allow body')\n"
        "print('ERROR : real trouble', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.stack.logfilter",
            "--drop",
            r"request method or response status code",
            "--",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 3
    assert result.stdout.splitlines() == ["NOTICE: serving", "ERROR : real trouble"]
