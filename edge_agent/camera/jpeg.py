"""Fit a JPEG under a byte cap: recompress first, then scale down."""

from __future__ import annotations

import io
import logging

from edge_agent.camera.sources import CameraError, Frame

logger = logging.getLogger(__name__)

QUALITY_STEPS = (70, 55, 40, 30)
SCALE_STEP = 0.75
MIN_WIDTH = 160


def fit_jpeg(frame: Frame, max_bytes: int) -> Frame:
    """``frame`` if its JPEG fits ``max_bytes``, else a smaller re-encoding of it.

    Lower quality is tried first (keeps the detail officers need to read a
    scene), then the picture is scaled by 3/4 per step. Raises
    :class:`CameraError` if even the smallest version does not fit.
    """
    if len(frame.jpeg) <= max_bytes:
        return frame
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(frame.jpeg)) as opened:
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise CameraError(f"cannot decode a {len(frame.jpeg)}-byte frame: {exc}") from None
    width, height = image.size
    while True:
        for quality in QUALITY_STEPS:
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=quality, optimize=True)
            if out.tell() <= max_bytes:
                logger.debug("frame %dx%d recompressed to %d bytes (quality %d)", width,
                             height, out.tell(), quality)
                return Frame(out.getvalue(), frame.ts, frame.mono, image.width, image.height)
        new_width = int(image.width * SCALE_STEP)
        if new_width < MIN_WIDTH:
            raise CameraError(f"cannot fit a {width}x{height} frame under {max_bytes} bytes")
        image = image.resize((new_width, max(1, int(image.height * SCALE_STEP))))
