"""The rules engine of one worker: many cameras, a tiny API the runtime calls.

Pure: no I/O, no clock. The runtime decodes records, calls one ``on_*`` method per record in
topic order and publishes what it returns: SensorEvents to vidsight.sensor-events and
Alerts to vidsight.alerts, keyed by camera_id, in the order returned. Feeding the same records
in the same order gives the same outputs (ids, values, order); duplicates of already
processed Detections are skipped. After a batch the runtime writes ``snapshot_dirty()`` to
the changelog (key camera_id) once the outputs of that batch are produced, and on
assignment calls ``restore`` with the changelog's latest value per camera.

Sensor definitions are keyed by sensor id, not camera, so every worker reads the whole
sensors topic; definitions are cheap and only cameras that show up on this worker's
partitions get compiled rules and state.
"""

from __future__ import annotations

from schemas.records import Detections, Feedback, FrameRef, SensorConfig
from stream_processors.errors import SensorConfigError
from stream_processors.rules.camera import Camera
from stream_processors.rules.grouping import Output
from stream_processors.rules.options import EngineOptions, SuppressionCounters
from stream_processors.rules.snapshot import dump_camera, load_camera
from stream_processors.rules.validate import check_sensor

__all__ = ["Engine", "Output"]


class Engine:
    """Rules, tracks, alert groups and false-positive memory of the cameras of one worker."""

    def __init__(self, options: EngineOptions | None = None) -> None:
        self.options = options if options is not None else EngineOptions()
        self.counters = SuppressionCounters()
        self._configs: dict[str, dict[str, SensorConfig]] = {}  # camera -> sensor -> def
        self._sensor_camera: dict[str, str] = {}
        self._cameras: dict[str, Camera] = {}
        self._dirty: set[str] = set()

    @property
    def camera_ids(self) -> tuple[str, ...]:
        """Cameras this engine holds state for."""
        return tuple(self._cameras)

    def sensors(self, camera_id: str) -> tuple[SensorConfig, ...]:
        """The live definitions of a camera's sensors, by sensor id."""
        configs = self._configs.get(camera_id, {})
        return tuple(configs[k] for k in sorted(configs))

    def on_sensor(self, sensor_id: str, config: SensorConfig | None) -> list[Output]:
        """Apply one record of the sensors topic (``None`` = tombstone: delete the sensor).

        Raises :class:`SensorConfigError` for an invalid definition (the runtime sends the
        record to the DLQ); the engine then keeps the previous definition. Returns the ``end``
        messages of alerts the change closed (a deleted, disabled or re-drawn sensor).
        """
        if config is not None:
            if config.sensor_id != sensor_id:
                raise SensorConfigError(
                    sensor_id, "id", f"record key differs from sensor_id {config.sensor_id!r}"
                )
            check_sensor(config)
        out: list[Output] = []
        previous = self._sensor_camera.get(sensor_id)
        if previous is not None and (config is None or config.camera_id != previous):
            configs = self._configs[previous]
            del configs[sensor_id]
            if not configs:
                del self._configs[previous]
            del self._sensor_camera[sensor_id]
            self._apply(previous, sensor_id, None, out)
        if config is not None:
            self._configs.setdefault(config.camera_id, {})[sensor_id] = config
            self._sensor_camera[sensor_id] = config.camera_id
            self._apply(config.camera_id, sensor_id, config, out)
        return out

    def _apply(
        self, camera_id: str, sensor_id: str, config: SensorConfig | None, out: list[Output]
    ) -> None:
        cam = self._cameras.get(camera_id)
        if cam is not None:
            cam.set_rule(sensor_id, config, out)
            self._dirty.add(camera_id)

    def _camera(self, camera_id: str) -> Camera:
        cam = self._cameras.get(camera_id)
        if cam is None:
            cam = Camera(camera_id, self.options, self.counters)
            discard: list[Output] = []
            for cfg in self.sensors(camera_id):
                cam.set_rule(cfg.sensor_id, cfg, discard)
            self._cameras[camera_id] = cam
        return cam

    def on_detections(self, detections: Detections) -> list[Output]:
        """Run one Detections message through its camera's rules."""
        camera_id = detections.camera_id
        cam = self._cameras.get(camera_id)
        if cam is None:
            if camera_id not in self._configs:
                return []  # no sensors: nothing to evaluate, nothing to keep
            cam = self._camera(camera_id)
        self._dirty.add(camera_id)
        return cam.on_detections(detections)

    def on_frame(self, frame: FrameRef) -> list[Output]:
        """Advance a camera's event time with a FrameRef heartbeat."""
        cam = self._cameras.get(frame.camera_id)
        if cam is None:
            if frame.camera_id not in self._configs:
                return []
            cam = self._camera(frame.camera_id)
        self._dirty.add(frame.camera_id)
        return cam.on_frame(frame)

    def advance(self, camera_id: str, ts_us: int) -> list[Output]:
        """Move a camera's event time to ``ts_us`` (no lag): end quiet alerts, fire loiters."""
        cam = self._cameras.get(camera_id)
        if cam is None:
            return []
        self._dirty.add(camera_id)
        return cam.advance(ts_us)

    def on_feedback(self, feedback: Feedback) -> None:
        """Learn from an operator's verdict (false positives suppress similar boxes)."""
        self._camera(feedback.camera_id).on_feedback(feedback)
        self._dirty.add(feedback.camera_id)

    def snapshot(self, camera_id: str) -> bytes | None:
        """State of one camera for the changelog, or None when the engine holds none."""
        cam = self._cameras.get(camera_id)
        return None if cam is None else dump_camera(cam)

    def snapshot_dirty(self) -> dict[str, bytes]:
        """State of every camera changed since the last call, by camera id (sorted)."""
        dirty = sorted(self._dirty)
        self._dirty.clear()
        return {cid: dump_camera(self._cameras[cid]) for cid in dirty if cid in self._cameras}

    def restore(self, camera_id: str, data: bytes | None) -> None:
        """Replace a camera's state with changelog bytes (``None``: forget the camera).

        Raises :class:`SnapshotError` on bytes it cannot read; the camera then starts fresh.
        """
        if data is None:
            self.forget(camera_id)
            return
        cam = self._camera(camera_id)
        try:
            load_camera(cam, data)
        except Exception:
            self.forget(camera_id)
            raise

    def forget(self, camera_id: str) -> None:
        """Drop a camera's state (its partition was revoked)."""
        self._cameras.pop(camera_id, None)
        self._dirty.discard(camera_id)
