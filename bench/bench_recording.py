"""Recording cost per camera stream: the edge's per-stream path with continuous recording
against the same path without it, in the same run, on the same file.

Per-stream path: the file source (decoding only what the sampler needs) -> sampler -> motion
gate at 5 fps analysis, as in bench_edge.py. With recording, the source's packet tap also hands
every packet to the recorder, which remuxes 10 s segments into fragmented MP4 files, queues them
in the evidence spool (a real spool on disk) and spools a RecordingSegment reference. The S3
upload happens in the evidence drainer thread later and is not part of these figures (it is
network I/O of the segment's bytes, about the stream's bitrate).

Figures (process CPU time, the process pinned to one core, best of --reps runs, the runs with
and without recording interleaved):
- CPU seconds per second of video, without and with recording, and the overhead in percent;
- camera streams per core with recording on (video seconds handled per CPU second);
- the raw baseline: a plain PyAV demux + remux of the same file (the least a recorder can do),
  and the recorder's cost over the path's as a ratio to it.
Two GOPs: 25 (1 s: the decoder sees every packet at 5 fps) and 5 (keyframe-only decoding, the
cheapest path, so the largest relative overhead).

Usage: ``python bench/bench_recording.py [--seconds 20] [--reps 3] [--width 1280]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from pathlib import Path

import av

from producers.evidence_store import S3EvidenceStore
from producers.metrics import EdgeMetrics
from producers.motion import MotionConfig, MotionGate
from producers.outbox import EventOutbox
from producers.recording.recorder import CameraRecorder
from producers.recording.spec import RecordSpec
from producers.sampling import Sampler
from producers.sources.base import SourceContext
from producers.sources.file import FileOptions, FileSource
from producers.spool import Spool
from producers.synthetic.scene import SceneSpec
from producers.synthetic.video import write_scene_video

FPS = 5.0


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def stream(path: Path, work: Path | None) -> float:
    """CPU seconds of one pass of the per-stream path (recording when ``work`` is given)."""
    recorder = None
    spools: list[Spool] = []
    if work is not None:
        evidence = Spool(work / "evidence", name="evidence")
        events = Spool(work / "events", name="events")
        spools = [evidence, events]
        store = S3EvidenceStore(None, "vidsight", evidence, EdgeMetrics())
        outbox = EventOutbox(events, work / "schemas")
        recorder = CameraRecorder(
            "bench",
            RecordSpec("continuous", segment_s=10),
            work / "parts",
            store,
            outbox.publish_recording,
        )
    ctx = SourceContext(camera_id="bench", fps=FPS, packets=recorder)
    sampler, gate = Sampler(FPS), MotionGate(MotionConfig())
    started = cpu_s()
    for frame in FileSource(FileOptions(path=path), ctx).frames():
        if sampler.keep(frame.pts_s):
            gate.update(frame.luma(), frame.pts_s)
    used = cpu_s() - started
    if recorder is not None:
        assert recorder.stats.segments > 0 and recorder.stats.errors == 0
    for spool in spools:
        spool.close()
    return used


def raw_remux(path: Path, out: Path) -> float:
    """CPU seconds of a plain PyAV demux + mux of every packet into one MP4."""
    started = cpu_s()
    with av.open(str(path)) as src, av.open(str(out), "w", format="mp4") as dst:
        s = src.streams.video[0]
        o = dst.add_stream_from_template(s)
        for packet in src.demux(s):
            if packet.size:
                packet.stream = o
                dst.mux(packet)
    return cpu_s() - started


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--width", type=int, default=1280)
    args = ap.parse_args(argv)
    pin_one_core()
    width, height = args.width, args.width * 9 // 16
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        for gop in (25, 5):
            clip = Path(tmp) / f"gop{gop}.mp4"
            write_scene_video(
                clip, scene=SceneSpec(seed=4), seconds=args.seconds, fps=25, width=width,
                height=height, gop=gop, codec="libx264",
            )  # fmt: skip
            work = iter(Path(tmp) / f"rec-{gop}-{i}" for i in range(args.reps * 2))
            # Interleaved, so both sides see the same machine load (the cores are shared).
            plain_runs, rec_runs = [], []
            for _ in range(args.reps):
                plain_runs.append(stream(clip, None))
                rec_runs.append(stream(clip, next(work)))
            plain, rec = min(plain_runs), min(rec_runs)
            raw = min(raw_remux(clip, Path(tmp) / "raw.mp4") for _ in range(args.reps))
            video = args.seconds
            where = f"{width}x{height} GOP {gop}"
            rows += [
                (f"CPU per video second, no recording ({where})",
                 f"{plain / video * 1000:.1f}", "ms/s"),
                (f"CPU per video second, continuous recording ({where})",
                 f"{rec / video * 1000:.1f}", "ms/s"),
                (f"recording overhead ({where})", f"{(rec - plain) / plain * 100:+.1f}", "%"),
                (f"streams per core, recording on ({where})", f"{video / rec:.1f}", "streams"),
                (f"raw PyAV remux baseline ({where})", f"{raw / video * 1000:.2f}", "ms/s"),
                (f"recorder cost / raw remux ({where})", f"{(rec - plain) / raw:.2f}", "x"),
            ]  # fmt: skip
    width_col = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width_col}}  {'value':>8}  unit")
    for name, value, unit in rows:
        print(f"{name:<{width_col}}  {value:>8}  {unit}")


if __name__ == "__main__":
    main()
