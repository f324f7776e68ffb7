"""Render synthetic scene frames: a static textured background and flat-coloured objects.

Pure numpy. Objects are solid rectangles whose pixel extents are the ground-truth boxes
rounded to whole pixels, so a detector that finds the rectangles finds the truth within a
pixel. Optional per-frame sensor noise (seeded by frame number) makes the motion gate work
for its living.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from producers.frames import Image
from producers.synthetic.scene import TruthBox
from schemas.records import BBox

LABEL_COLOURS: dict[str, tuple[int, int, int]] = {  # BGR; luma far from the background's
    "person": (20, 20, 110),  # dark red, luma ~45
    "bicycle": (0, 215, 255),  # yellow, luma ~200
    "car": (250, 220, 200),  # pale silver-blue, luma ~220
    "truck": (10, 60, 10),  # dark green, luma ~40
}
_DEFAULT_COLOUR = (235, 235, 235)


def background(width: int, height: int, seed: int = 0) -> Image:
    """A static, mildly textured grey background (luma about 95..140, far from the objects')."""
    rng = np.random.default_rng([seed, 0xBAC])
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    base = 95 + 40 * y + 10 * np.sin(x * 12.0 + y * 3.0)
    texture = rng.normal(0.0, 4.0, size=(height, width)).astype(np.float32)
    grey = np.clip(base + texture, 0, 255)
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[..., 0] = np.clip(grey * 0.95, 0, 255).astype(np.uint8)
    img[..., 1] = np.clip(grey * 1.05, 0, 255).astype(np.uint8)
    img[..., 2] = grey.astype(np.uint8)
    return img


def pixel_box(box: TruthBox, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel extent [x1, x2) x [y1, y2) of a truth box (at least one pixel)."""
    b = box.bbox
    x1, x2 = round(b.x1 * width), round(b.x2 * width)
    y1, y2 = round(b.y1 * height), round(b.y2 * height)
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


LIGHT_COLOUR = (235, 250, 255)
"""BGR of a lit nuisance light (near white, far from the background's luma)."""


def render(
    bg: Image,
    boxes: Sequence[TruthBox],
    *,
    frame_no: int = 0,
    noise: float = 0.0,
    lights: Sequence[BBox] = (),
) -> Image:
    """One frame: the background, lit ``lights``, and every box drawn as a solid rectangle."""
    img = bg.copy()
    height, width = img.shape[:2]
    for light in lights:
        x1, y1, x2, y2 = pixel_box(TruthBox(0, "light", light), width, height)
        img[y1:y2, x1:x2] = np.array(LIGHT_COLOUR, dtype=np.uint8)
    for box in boxes:
        x1, y1, x2, y2 = pixel_box(box, width, height)
        colour = np.array(LABEL_COLOURS.get(box.label, _DEFAULT_COLOUR), dtype=np.uint8)
        img[y1:y2, x1:x2] = colour
    if noise > 0:
        rng = np.random.default_rng([frame_no, 0x5EED])
        jitter = rng.normal(0.0, noise, size=img.shape[:2]).astype(np.int16)
        img = np.clip(img.astype(np.int16) + jitter[..., None], 0, 255).astype(np.uint8)
    return img
