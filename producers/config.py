"""The cameras YAML file: parse, validate, and turn into ``CameraConfig`` records.

The file shape is DESIGN.md's (a ``cameras`` list; a ``sensors`` list may sit in the same file
and is left to the stream processors)::

    cameras:
      - id: gate-1
        name: Main gate
        source: rtsp://10.0.0.5/stream1   # or url:; file:///v.mp4?loop=true; synthetic:crossing
        fps: 5
        detector: {kind: motion, min_area: 0.002}
        enabled: true
        credentials: {username: admin, password_env: GATE_1_PASSWORD}
        # or credentials: {username: admin, password_file: /run/secrets/gate-1}
        record: {mode: events, pre_s: 5, post_s: 5, segment_s: 10}   # or continuous; off
        node: edge-a      # the edge node that runs it (or site: hq, shared by the site's nodes)

A password is never written in the file, the topic or a store: ``credentials`` names where
the edge finds it (an environment variable of the edge process, or a file on the edge host),
and the edge resolves it when it opens the source. A source URL that carries a login
(``user:password@``) or a secret query parameter (``password=``, ``token=`` ...) is refused.

Errors name the file, the line and the key, say what was wrong and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from producers.detectors.factory import DETECTOR_KINDS, split_options
from producers.errors import CameraFileError, DetectorError, SourceError
from producers.recording.spec import RECORDING_SOURCES, RecordSpec
from producers.sources.factory import parse_source
from schemas.records import (
    CameraConfig,
    CameraCredentials,
    DetectorKind,
    DetectorSpec,
    OptionValue,
)
from schemas.records.credentials import inline_secrets
from vidsight.redact import redact_url

CAMERA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""Camera ids, matched whole (``fullmatch``: no trailing newline)."""
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
LOGIN_SCHEMES = ("rtsp", "rtsps", "http", "https")
"""Sources that can take a login."""


def _reference_example(camera_id: str) -> str:
    env = re.sub(r"[^A-Za-z0-9]", "_", camera_id).upper() + "_PASSWORD"
    return (
        "write the URL without it and give a reference the edge resolves, e.g.\n"
        "      source: rtsp://10.0.0.5/stream1\n"
        f"      credentials: {{username: admin, password_env: {env}}}"
        f"   # or password_file: /run/secrets/{camera_id}"
    )


class CredentialsBlock(BaseModel):
    """A camera's ``credentials:`` block: a user name and where the edge finds the password."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str | None = Field(None, description="user name of the login")
    password_env: str | None = Field(None, description="environment variable of the edge")
    password_file: str | None = Field(None, description="absolute path of a file on the edge")

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "a password is never written in the file: use password_env (an environment "
                "variable of the edge) or password_file (a file on the edge host)"
            )
        return data

    @model_validator(mode="after")
    def _check(self) -> CredentialsBlock:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("give exactly one of password_env or password_file")
        if self.username is not None and (
            not self.username or ":" in self.username or not self.username.isprintable()
        ):
            raise ValueError("username must be non-empty, printable and without ':'")
        if self.username is not None and len(self.username) > 128:
            raise ValueError("username is longer than 128 characters")
        if self.password_env is not None and not ENV_NAME.fullmatch(self.password_env):
            raise ValueError(
                f"password_env {self.password_env!r} is not an environment variable name "
                "(letters, digits and '_', not starting with a digit)"
            )
        path = self.password_file
        if path is not None and (
            not path.startswith("/") or len(path) > 4096 or not path.isprintable()
        ):
            raise ValueError("password_file must be an absolute path (e.g. /run/secrets/gate-1)")
        return self

    def reference(self) -> CameraCredentials:
        """The reference as it travels on the topic."""
        return CameraCredentials(
            username=self.username,
            password_env=self.password_env,
            password_file=self.password_file,
        )


class DetectorBlock(BaseModel):
    """A camera's ``detector:`` block: ``kind`` plus that plugin's options."""

    model_config = ConfigDict(frozen=True, extra="allow")

    kind: str = Field("motion", description=f"one of {', '.join(DETECTOR_KINDS)}")

    @property
    def options(self) -> dict[str, Any]:
        """Everything but ``kind``."""
        return dict(self.model_extra or {})


class RecordBlock(BaseModel):
    """A camera's ``record:`` block: MP4 segments of its own encoded video, never re-encoded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["off", "events", "continuous"] = Field(
        "off", description="off; events (only around detections); continuous"
    )
    pre_s: float = Field(5.0, ge=0, le=120, description="events: seconds kept before a detection")
    post_s: float = Field(5.0, ge=0, le=600, description="events: seconds kept after the last one")
    segment_s: float = Field(
        10.0, ge=1, le=600, description="target segment length (cut at the next keyframe)"
    )

    def spec(self) -> RecordSpec:
        """The settings as the recorder takes them."""
        return RecordSpec(self.mode, self.pre_s, self.post_s, self.segment_s)


class CameraEntry(BaseModel):
    """One camera of the YAML file."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(description="camera id: letters, digits, '.', '_', '-' (max 64)")
    name: str | None = Field(None, description="human-readable name (default: the id)")
    source: str | None = Field(None, description="rtsp://, http(s)://, file:// or synthetic:")
    url: str | None = Field(None, description="alias of source")
    fps: float = Field(5.0, gt=0, le=60, description="analysis frames per second")
    detector: DetectorBlock = Field(default_factory=DetectorBlock, description="detector")
    enabled: bool = Field(True, description="false keeps the definition but does not watch")
    credentials: CredentialsBlock | None = Field(
        None, description="login reference: username + password_env or password_file"
    )
    record: RecordBlock = Field(
        default_factory=RecordBlock, description="recording: {mode, pre_s, post_s, segment_s}"
    )
    node: str | None = Field(None, description="id of the edge node that runs the camera")
    site: str | None = Field(None, description="site whose edge nodes run the camera")

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not CAMERA_ID.fullmatch(value):
            raise ValueError(
                "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("node", "site")
    @classmethod
    def _check_assignment(cls, value: str | None) -> str | None:
        if value is not None and not CAMERA_ID.fullmatch(value):
            raise ValueError(
                "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("source", "url")
    @classmethod
    def _no_inline_secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        found = [] if value is None else inline_secrets(value)
        if found:
            camera = info.data.get("id", "?")
            raise ValueError(
                f"camera {camera!r}: the source {redact_url(value or '')} carries credentials "
                f"({', '.join(found)}); {_reference_example(str(camera))}"
            )
        return value

    @model_validator(mode="after")
    def _check_source(self) -> CameraEntry:
        if (self.source is None) == (self.url is None):
            raise ValueError("give exactly one of source or url")
        try:
            spec = parse_source(self.source_url)
        except SourceError as exc:
            raise ValueError(str(exc)) from exc
        if self.credentials is not None and spec.kind not in ("rtsp", "http"):
            raise ValueError(
                f"credentials need an {', '.join(LOGIN_SCHEMES)} source, not {spec.kind}"
            )
        if self.record.mode != "off" and spec.kind not in RECORDING_SOURCES:
            raise ValueError(
                f"record.mode {self.record.mode} needs a source with encoded video "
                f"({' or '.join(RECORDING_SOURCES)}), not {spec.kind}: recording copies the "
                "camera's own packets and never encodes"
            )
        try:
            split_options(self.detector.kind, self.detector.options)
        except DetectorError as exc:
            raise ValueError(str(exc)) from exc
        for key, value in self.detector.options.items():
            if _option_value(value) is _BAD:
                raise ValueError(f"detector option {key} must be a scalar or a list of strings")
        return self

    @property
    def source_url(self) -> str:
        """The source, whichever key gave it."""
        return self.source or self.url or ""


class CamerasFile(BaseModel):
    """The whole file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cameras: list[CameraEntry] = Field(default_factory=list, description="the cameras")
    sensors: list[Any] = Field(default_factory=list, description="(read by stream processors)")

    @model_validator(mode="after")
    def _unique(self) -> CamerasFile:
        seen: set[str] = set()
        for cam in self.cameras:
            if cam.id in seen:
                raise ValueError(f"camera id {cam.id!r} appears twice")
            seen.add(cam.id)
        return self


@dataclass(frozen=True, slots=True)
class Camera:
    """A validated camera, as the edge runs it."""

    camera_id: str
    name: str
    source: str
    fps: float
    detector_kind: str
    detector_options: Mapping[str, Any]
    enabled: bool = True
    credentials: CameraCredentials | None = None
    """Where the edge finds the login (resolved when the source opens); never the password."""
    record: RecordSpec = field(default_factory=RecordSpec)
    """Recording of the camera's encoded video (off unless the file asks)."""
    node: str | None = None
    """The edge node that runs the camera (``vidsight edge run --node``)."""
    site: str | None = None
    """The site whose edge nodes run the camera when ``node`` is None."""


def _line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def load_cameras_text(text: str, origin: str = "<cameras>") -> list[Camera]:
    """Validate a cameras YAML document; CameraFileError names file, line and key."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise CameraFileError(f"{origin}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CameraFileError(f"{origin}: expected a mapping with a 'cameras' list")
    try:
        parsed = CamerasFile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{origin}: invalid cameras file:"]
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function"))]
            key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc) or "<root>"
            line = _line_of(root, loc)
            where = f"line {line}: " if line else ""
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"  {where}{key}: {msg}")
        raise CameraFileError("\n".join(lines)) from exc
    return [
        Camera(
            camera_id=c.id,
            name=c.name or c.id,
            source=c.source_url,
            fps=c.fps,
            detector_kind=c.detector.kind,
            detector_options=MappingProxyType(_options(c.id, c.detector.options)),
            enabled=c.enabled,
            credentials=None if c.credentials is None else c.credentials.reference(),
            record=c.record.spec(),
            node=c.node,
            site=c.site,
        )
        for c in parsed.cameras
    ]


def load_cameras(path: Path) -> list[Camera]:
    """Read and validate a cameras YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CameraFileError(f"cannot read cameras file {path}: {exc}") from exc
    return load_cameras_text(text, str(path))


_BAD = object()


def _option_value(value: Any) -> OptionValue | object:
    """The value as a CameraConfig option (lists become tuples), or ``_BAD``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return _BAD


def _options(camera_id: str, options: Mapping[str, Any]) -> dict[str, OptionValue]:
    out: dict[str, OptionValue] = {}
    for key, value in options.items():
        converted = _option_value(value)
        if converted is _BAD:
            raise CameraFileError(
                f"camera {camera_id}: detector option {key} must be a scalar or a list of strings"
            )
        out[key] = converted  # type: ignore[assignment]
    return out


def to_record(camera: Camera, updated_ts: int) -> CameraConfig:
    """The ``CameraConfig`` event of a camera.

    A detector kind the Avro enum does not know (a plugin added without a schema symbol) is
    published as ``unknown`` with the plugin name in the ``plugin`` option, so nothing is lost.
    """
    options = _options(camera.camera_id, camera.detector_options)
    try:
        kind = DetectorKind(camera.detector_kind)
    except ValueError:
        kind = DetectorKind.UNKNOWN
        options["plugin"] = camera.detector_kind
    return CameraConfig(
        camera_id=camera.camera_id,
        name=camera.name,
        source=camera.source,
        fps=camera.fps,
        detector=DetectorSpec(kind=kind, options=MappingProxyType(options)),
        enabled=camera.enabled,
        updated_ts=updated_ts,
        credentials=camera.credentials,
        node=camera.node,
        site=camera.site,
        record=camera.record.settings(),
    )


def from_record(record: CameraConfig) -> Camera:
    """The camera a ``CameraConfig`` event describes (inverse of ``to_record``).

    ``unknown`` with a ``plugin`` option is that plugin: how kinds without a symbol are
    published, and how ``ground_truth`` cameras were published before it had one.
    """
    options = dict(record.detector.options)
    kind = str(record.detector.kind)
    if record.detector.kind == DetectorKind.UNKNOWN and isinstance(options.get("plugin"), str):
        kind = str(options.pop("plugin"))
    return Camera(
        camera_id=record.camera_id,
        name=record.name,
        source=record.source,
        fps=record.fps,
        detector_kind=kind,
        detector_options=MappingProxyType(options),
        enabled=record.enabled,
        credentials=record.credentials,
        node=record.node,
        site=record.site,
        record=RecordSpec.of(record.record),
    )
