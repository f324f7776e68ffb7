"""OpenCV image codecs and resizing used by the adapters (kept out of the pure core)."""

from __future__ import annotations

import cv2
import numpy as np

from producers.errors import EvidenceError
from producers.frames import Image


def encode_jpeg(bgr: Image, quality: int = 85) -> bytes:
    """JPEG bytes of a BGR image."""
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise EvidenceError(f"JPEG encoding failed for a {bgr.shape} image")
    return bytes(buf)


def decode_image(data: bytes) -> Image | None:
    """A BGR image from encoded bytes (JPEG, PNG...), or None when they are not an image."""
    if not data:
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if img is None else np.asarray(img, dtype=np.uint8)
