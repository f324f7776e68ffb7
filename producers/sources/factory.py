"""Pick and configure a source from a camera's source URL.

``rtsp://`` and ``rtsps://`` -> RTSP; ``http://`` and ``https://`` -> snapshot polling;
``file://`` or a plain path -> video file; ``synthetic:<scene>`` -> synthetic scene.
``parse_source`` validates a URL without opening anything (used when a cameras file is
applied); ``open_source`` builds the source object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from producers.credentials import Login
from producers.errors import SourceError
from producers.sources.base import Source, SourceContext, redact
from producers.sources.file import FileOptions
from producers.sources.synthetic import SCENES, SyntheticOptions
from producers.synthetic.scene import Flicker, SceneSpec
from schemas.records import BBox

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed source URL: its kind and the options of that kind."""

    kind: str  # rtsp | http | file | synthetic
    url: str
    file: FileOptions | None = None
    synthetic: SyntheticOptions | None = None


def _bool(key: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SourceError(f"option {key}={value!r}: expected true or false")


def _number(key: str, value: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(value)
    except ValueError:
        raise SourceError(f"option {key}={value!r}: expected a {kind.__name__}") from None


def _options(query: str, allowed: set[str], url: str) -> dict[str, str]:
    opts = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(opts) - allowed
    if unknown:
        raise SourceError(
            f"source {url}: unknown option(s) {sorted(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    return opts


def _file_spec(url: str) -> SourceSpec:
    parts = urlsplit(url)
    path = Path(unquote(parts.path)) if parts.scheme == "file" else Path(url.split("?", 1)[0])
    opts = _options(
        parts.query if parts.scheme == "file" else url.partition("?")[2],
        {"loop", "realtime", "start"},
        url,
    )
    return SourceSpec(
        "file",
        url,
        file=FileOptions(
            path=path,
            loop=_bool("loop", opts.get("loop", "false")),
            realtime=_bool("realtime", opts.get("realtime", "false")),
            start_us=int(_number("start", opts["start"], int)) if "start" in opts else None,
        ),
    )


def _flicker(text: str) -> Flicker:
    """``x1,y1,x2,y2[,period[,on[,offset]]]`` (ValueError names what is wrong)."""
    parts = text.split(",")
    if not 4 <= len(parts) <= 7:
        raise ValueError(f"flicker: x1,y1,x2,y2[,period[,on[,offset]]], got {text!r}")
    values = [_number("flicker", p, float) for p in parts]
    return Flicker(BBox(*values[:4]), *values[4:])


def _synthetic_spec(url: str) -> SourceSpec:
    body = url.removeprefix("synthetic:")
    scene, _, query = body.partition("?")
    if (scene or "crossing") not in SCENES:
        raise SourceError(f"source {url}: unknown scene {scene!r}; known: {', '.join(SCENES)}")
    allowed = {
        "seed",
        "lanes",
        "spawn",
        "labels",
        "speed",
        "fps",
        "width",
        "height",
        "duration",
        "realtime",
        "noise",
        "start",
        "flicker",
    }
    o = _options(query, allowed, url)
    try:
        spec = SceneSpec(
            seed=int(_number("seed", o.get("seed", "0"), int)),
            lanes=int(_number("lanes", o.get("lanes", "5"), int)),
            spawn_interval_s=_number("spawn", o.get("spawn", "2"), float),
            labels=tuple(o["labels"].split(",")) if "labels" in o else SceneSpec().labels,
            speed_scale=_number("speed", o.get("speed", "1"), float),
            flicker=_flicker(o["flicker"]) if "flicker" in o else None,
        )
    except ValueError as exc:
        raise SourceError(f"source {url}: {exc}") from exc
    width = int(_number("width", o.get("width", "640"), int))
    height = int(_number("height", o.get("height", "360"), int))
    if not (16 <= width <= 7680 and 16 <= height <= 4320):
        raise SourceError(f"source {url}: width/height must be within 16..7680 x 16..4320")
    fps = _number("fps", o["fps"], float) if "fps" in o else None
    if fps is not None and fps <= 0:
        raise SourceError(f"source {url}: fps must be > 0")
    return SourceSpec(
        "synthetic",
        url,
        synthetic=SyntheticOptions(
            scene=spec,
            fps=fps,
            width=width,
            height=height,
            duration_s=_number("duration", o["duration"], float) if "duration" in o else None,
            realtime=_bool("realtime", o.get("realtime", "false")),
            noise=_number("noise", o.get("noise", "0"), float),
            start_us=int(_number("start", o["start"], int)) if "start" in o else None,
        ),
    )


def parse_source(url: str) -> SourceSpec:
    """Validate a source URL; SourceError says what is wrong and what is allowed."""
    if not url or not url.strip():
        raise SourceError("empty source URL")
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("rtsp", "rtsps"):
        return SourceSpec("rtsp", url)
    if scheme in ("http", "https"):
        return SourceSpec("http", url)
    if url.startswith("synthetic:"):
        return _synthetic_spec(url)
    if scheme in ("file", ""):
        return _file_spec(url)
    raise SourceError(
        f"unsupported source {redact(url)!r}: use rtsp://, http(s):// (snapshots), "
        "file:// or a path, or synthetic:<scene>"
    )


def open_source(spec: SourceSpec, ctx: SourceContext, login: Login | None = None) -> Source:
    """The source object of a parsed URL (nothing is connected until frames() runs).

    ``login`` (resolved on the edge from the camera's credentials reference) is used by the
    network sources only, and only in memory.
    """
    if login is not None and spec.kind not in ("rtsp", "http"):
        raise SourceError(f"a {spec.kind} source takes no credentials")
    if spec.kind == "rtsp":
        from producers.sources.rtsp import RtspSource

        return RtspSource(spec.url, ctx, login)
    if spec.kind == "http":
        from producers.sources.http import HttpSnapshotSource

        return HttpSnapshotSource(spec.url, ctx, login)
    if spec.kind == "file" and spec.file is not None:
        from producers.sources.file import FileSource

        return FileSource(spec.file, ctx)
    if spec.kind == "synthetic" and spec.synthetic is not None:
        from producers.sources.synthetic import SyntheticSource

        return SyntheticSource(spec.synthetic, ctx)
    raise SourceError(f"cannot open source {redact(spec.url)!r}")
