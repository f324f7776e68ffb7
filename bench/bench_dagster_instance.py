"""Memory of the idle Dagster instance: the webserver and the daemon (with their code servers).

RSS of each part's process and its children (each runs a gRPC code server for the code
location), sampled ``--samples`` times after ``--settle`` seconds of idling; the median is
printed. With ``--data-dir`` of a running stack (``vidsight up``) it measures that stack's
parts; without, it starts PostgreSQL + the two Dagster parts in a temp dir and stops them after.

Usage: ``python bench/bench_dagster_instance.py [--data-dir .vidsight] [--settle 30]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from infra.stack import Stack
from infra.stack.process import PidFile, free_port
from infra.stack.settings import Ports, StackSettings
from vidsight.settings import load

PARTS = ("dagster", "dagster-daemon")


def own_stack() -> tuple[Stack, Path]:
    base = Path(tempfile.mkdtemp(prefix="vidsight-bench-dagster-"))
    base.chmod(0o711)  # run as root, the embedded PostgreSQL's user must enter it
    ports = Ports(**{name: free_port() for name in Ports.model_fields})
    settings = StackSettings(data_dir=base / "stack", ports=ports, start_timeout_s=180.0)
    return Stack(settings, ["postgres", *PARTS]), base


def sample(stack: Stack, samples: int, every_s: float) -> dict[str, list[int]]:
    rss: dict[str, list[int]] = {name: [] for name in PARTS}
    for _ in range(samples):
        for name in PARTS:
            record = PidFile(stack.run_dir, name).running()
            if record is None:
                sys.exit(f"{name} is not running in {stack.data}")
            rss[name].append(record.rss_bytes())
        time.sleep(every_s)
    return rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=None, help="a running stack's data dir")
    ap.add_argument("--settle", type=float, default=30.0, help="idle seconds before sampling")
    ap.add_argument("--samples", type=int, default=5)
    args = ap.parse_args()
    base = None
    if args.data_dir is not None:
        stack = Stack(load(StackSettings, data_dir=args.data_dir))
    else:
        stack, base = own_stack()
        started = time.monotonic()
        stack.up()
        print(f"started postgres + dagster + dagster-daemon in {time.monotonic() - started:.1f}s")
    try:
        time.sleep(args.settle)
        rss = sample(stack, args.samples, 2.0)
        total = 0.0
        for name in PARTS:
            mib = statistics.median(rss[name]) / 2**20
            total += mib
            print(f"{name:<16} RSS {mib:7.0f} MiB (process + children, median of {args.samples})")
        print(f"{'idle instance':<16} RSS {total:7.0f} MiB (webserver + daemon)")
    finally:
        if base is not None:
            stack.down()
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
