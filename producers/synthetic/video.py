"""Write a synthetic scene to a video file with PyAV (test clips, benchmarks, demos).

H.264 (libx264) when FFmpeg has it, else MPEG-4 part 2; ``gop`` sets the keyframe interval,
which decides whether keyframe-only decoding can serve an analysis rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from producers.synthetic.render import background, render
from producers.synthetic.scene import Scene, SceneSpec


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What was written."""

    path: Path
    codec: str
    frames: int
    fps: int
    width: int
    height: int


def available_codec() -> str:
    """libx264 when this FFmpeg build has it, else mpeg4."""
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_scene_video(
    path: Path,
    *,
    scene: SceneSpec | None = None,
    seconds: float = 10.0,
    fps: int = 25,
    width: int = 640,
    height: int = 360,
    gop: int | None = None,
    codec: str | None = None,
    noise: float = 0.0,
    bitrate: int | None = None,
) -> VideoInfo:
    """Render ``seconds`` of the scene at ``fps`` into ``path`` (container from the suffix)."""
    sc = Scene(scene)
    codec = codec or available_codec()
    bg = background(width, height, sc.spec.seed)
    count = round(seconds * fps)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=fps)
        if not isinstance(stream, av.VideoStream):
            raise TypeError(f"{codec} is not a video codec")
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = gop or fps
        if codec == "libx264":
            # No B-frames and a fixed GOP: every keyframe lands exactly every `gop` frames.
            stream.options = {"preset": "veryfast", "bf": "0", "sc_threshold": "0", "crf": "23"}
        elif bitrate:
            stream.bit_rate = bitrate
        else:
            stream.bit_rate = width * height * fps // 4
        for n in range(count):
            img = render(bg, sc.truth_at(n / fps), frame_no=n, noise=noise)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return VideoInfo(path, codec, count, fps, width, height)
