"""Camera sources: one interface, three implementations, chosen by ``[camera] type``.

- ``picamera2``: the Raspberry Pi camera through Picamera2, imported lazily. It
  is NOT a pip dependency: on Raspberry Pi OS install it with
  ``sudo apt install python3-picamera2`` and make the agent's venv with
  ``python3 -m venv --system-site-packages``.
- ``test-pattern``: real JPEGs rendered with Pillow, showing the venue, the
  camera name, the UTC time and a frame counter, so frames can be told apart.
- ``directory``: replays the ``*.jpg``/``*.jpeg`` files of a folder in name
  order, looping (hardware testers drop recorded frames there). The folder is
  re-read every cycle; an empty folder is a failing camera.

A USB/V4L2 camera through OpenCV is not implemented.

:func:`open_camera` raises :class:`CameraUnavailable` when the selected type
cannot work on this machine at all (an installation problem). A camera that is
installed but fails to open or capture raises :class:`CameraError` from
:meth:`Camera.open` / :meth:`Camera.capture`; the agent keeps running and
reports "camera offline" instead, because the alarm inputs must work without it.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from alarmlink import wire
from edge_agent.camera.config import CameraConfig

logger = logging.getLogger(__name__)

PICAMERA2_HINT = ("picamera2 is not importable: on Raspberry Pi OS run `sudo apt install "
                  "python3-picamera2` and create the agent's venv with `python3 -m venv "
                  "--system-site-packages` (it is not installable from PyPI)")


class CameraUnavailable(RuntimeError):
    """The configured camera type cannot be used on this machine (install or config)."""


class CameraError(RuntimeError):
    """Opening the camera or capturing a frame failed (the camera is offline)."""


@dataclass(frozen=True)
class Frame:
    """One captured frame: JPEG bytes, capture time (UTC and monotonic), size."""

    jpeg: bytes
    ts: datetime
    mono: float
    width: int
    height: int


class Camera(Protocol):
    name: str
    description: str

    def open(self) -> None: ...

    def capture(self) -> Frame: ...

    def close(self) -> None: ...


def _now() -> tuple[datetime, float]:
    return datetime.now(UTC), time.monotonic()


class TestPatternCamera:
    """Generated frames: colour bars, venue, camera, UTC time, frame counter, a moving box."""

    __test__ = False  # not a pytest test class

    def __init__(self, config: CameraConfig, venue: str) -> None:
        from PIL import Image, ImageDraw, ImageFont  # the agent extra installs Pillow

        self.name = config.name
        self.description = f"test-pattern {config.width}x{config.height}"
        self.config = config
        self.venue = venue
        self.count = 0
        self._image = Image
        self._draw = ImageDraw
        size = max(12, config.height // 16)
        self._font = ImageFont.load_default(size=size)
        self._small = ImageFont.load_default(size=max(10, size * 2 // 3))
        self._background = self._render_background()

    def _render_background(self) -> Any:
        width, height = self.config.width, self.config.height
        bars = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
                (192, 0, 192), (192, 0, 0), (0, 0, 192)]
        image = self._image.new("RGB", (width, height), (16, 16, 24))
        draw = self._draw.Draw(image)
        bar_w = width / len(bars)
        for index, colour in enumerate(bars):
            draw.rectangle((int(index * bar_w), 0, int((index + 1) * bar_w), height // 2),
                           fill=colour)
        gradient = self._image.linear_gradient("L").rotate(90).resize((width, height // 4))
        image.paste(self._image.merge("RGB", (gradient, gradient, gradient)),
                    (0, height // 2))
        return image

    def open(self) -> None:
        return None

    def capture(self) -> Frame:
        if self.config.frame_delay_s:
            time.sleep(self.config.frame_delay_s)  # simulating a slow camera, on purpose
        self.count += 1
        ts, mono = _now()
        image = self._background.copy()
        draw = self._draw.Draw(image)
        width, height = image.size
        box = max(8, height // 12)
        x = (self.count * box) % max(width - box, 1)
        draw.rectangle((x, height // 2 - box, x + box, height // 2), fill=(255, 255, 255))
        top = height * 3 // 4 + 4
        line = self._font.size + 4 if hasattr(self._font, "size") else 20
        draw.text((12, top), self.venue[:60], font=self._font, fill=(255, 255, 255))
        draw.text((12, top + line), f"camera {self.name}   frame {self.count}",
                  font=self._font, fill=(255, 255, 0))
        draw.text((12, top + 2 * line), ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC",
                  font=self._small, fill=(200, 255, 200))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=self.config.jpeg_quality)
        return Frame(out.getvalue(), ts, mono, width, height)

    def close(self) -> None:
        return None


class DirectoryCamera:
    """Replays JPEG files from a folder, in name order, looping."""

    def __init__(self, config: CameraConfig) -> None:
        assert config.directory is not None
        self.name = config.name
        self.directory = config.directory
        self.description = f"directory {self.directory}"
        self._index = 0
        if not self.directory.is_dir():
            raise CameraUnavailable(f"camera.directory {self.directory} is not a directory")

    def open(self) -> None:
        if not self.directory.is_dir():
            raise CameraError(f"{self.directory} is not a directory")

    def files(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir()
                          if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
        except OSError as exc:
            raise CameraError(f"cannot list {self.directory}: {exc.strerror}") from None

    def capture(self) -> Frame:
        from PIL import Image, UnidentifiedImageError

        files = self.files()
        if not files:
            raise CameraError(f"no *.jpg files in {self.directory}")
        path = files[self._index % len(files)]
        self._index += 1
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CameraError(f"cannot read {path}: {exc.strerror}") from None
        if not data.startswith(wire.JPEG_MAGIC):
            raise CameraError(f"{path} is not a JPEG")
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError) as exc:
            raise CameraError(f"{path} is not a readable JPEG: {exc}") from None
        ts, mono = _now()
        return Frame(data, ts, mono, width, height)

    def close(self) -> None:
        return None


class Picamera2Camera:
    """The Raspberry Pi camera (libcamera) through Picamera2. Untested off a Pi."""

    def __init__(self, config: CameraConfig) -> None:
        if importlib.util.find_spec("picamera2") is None:
            raise CameraUnavailable(PICAMERA2_HINT)
        self.name = config.name
        self.config = config
        self.description = f"picamera2 {config.width}x{config.height}"
        self._camera: Any = None
        self._lock = threading.Lock()

    def open(self) -> None:
        try:
            module = importlib.import_module("picamera2")
            camera = module.Picamera2()
            still = camera.create_still_configuration(
                main={"size": (self.config.width, self.config.height)}, buffer_count=2)
            camera.configure(still)
            camera.options["quality"] = self.config.jpeg_quality
            camera.start()
        except (ImportError, RuntimeError, IndexError, OSError, ValueError) as exc:
            raise CameraError(f"cannot open the Pi camera: {type(exc).__name__}: {exc}") from None
        with self._lock:
            self._camera = camera

    def capture(self) -> Frame:
        with self._lock:
            camera = self._camera
        if camera is None:
            raise CameraError("the Pi camera is not open")
        out = io.BytesIO()
        try:
            camera.capture_file(out, format="jpeg")
        except (RuntimeError, OSError, ValueError) as exc:
            raise CameraError(f"Pi camera capture failed: {exc}") from None
        ts, mono = _now()
        return Frame(out.getvalue(), ts, mono, self.config.width, self.config.height)

    def close(self) -> None:
        with self._lock:
            camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
                camera.close()
            except (RuntimeError, OSError) as exc:
                logger.warning("closing the Pi camera: %s", exc)


def open_camera(config: CameraConfig, venue: str) -> Camera:
    """The camera ``config`` selects. Raises :class:`CameraUnavailable` with the fix."""
    if config.type == "test-pattern":
        try:
            return TestPatternCamera(config, venue)
        except ImportError:
            raise CameraUnavailable("the test-pattern camera needs Pillow: "
                                    "pip install 'alarmlink[agent]'") from None
    if config.type == "directory":
        return DirectoryCamera(config)
    return Picamera2Camera(config)


def check_camera(config: CameraConfig, venue: str) -> tuple[bool, str]:
    """Open the camera and take one frame, for ``alarmlink agent self-test``."""
    try:
        camera = open_camera(config, venue)
    except CameraUnavailable as exc:
        return False, f"{config.type}: {exc}"
    started = time.monotonic()
    try:
        camera.open()
        frame = camera.capture()
    except Exception as exc:  # drivers raise anything; report it, never crash the self-test
        hint = " (a running agent holds the Pi camera: stop it to test)" \
            if config.type == "picamera2" else ""
        return False, f"{camera.description}: cannot capture: {exc}{hint}"
    finally:
        camera.close()
    took_ms = (time.monotonic() - started) * 1000
    return True, (f"{camera.description}: captured a {frame.width}x{frame.height} frame, "
                  f"{len(frame.jpeg)} bytes, in {took_ms:.0f} ms")
