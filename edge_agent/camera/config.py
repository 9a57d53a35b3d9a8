"""``[camera]``: the venue camera, its pre-alarm buffer, live view and snapshot outbox.

Example (every key but ``type`` is optional; these are the defaults)::

    [camera]
    type = "picamera2"          # or "test-pattern", or "directory" (+ directory = "...")
    name = "main"               # trouble zone "main camera"
    width = 1280
    height = 720
    jpeg_quality = 80
    max_bytes = 262144          # per snapshot; scaled down / recompressed to fit
    buffer_s = 10               # pre-alarm ring buffer: the last 10 s ...
    buffer_fps = 1              # ... at 1 frame a second
    post_frames = 5             # after an alarm: 5 more frames ...
    post_fps = 1                # ... at 1 a second
    live_max_s = 120            # longest live view central may ask for
    live_max_fps = 2            # live view / snapshot-now rate limit
    offline_after_s = 10        # no frame for this long = "camera offline" trouble
    outbox_max_bytes = 67108864 # snapshot outbox budget on the SD card ...
    outbox_max_frames = 1000    # ... and in frames; oldest live frames are dropped first
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from alarmlink import wire
from alarmlink.config_base import FrozenStrictModel

CameraType = Literal["picamera2", "test-pattern", "directory"]
#: Room left under ``wire.MAX_SNAPSHOT_BYTES`` for the metadata segment.
META_ROOM_BYTES = 2048


class CameraConfig(FrozenStrictModel):
    """``[camera]``: one camera per device. Leave the table out for a device without one."""


    type: CameraType = Field(
        description="picamera2 (Raspberry Pi camera; apt install python3-picamera2), "
                    "test-pattern (generated JPEGs) or directory (replays JPEGs from a folder).")
    name: str = Field("main", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,24}$",
                      description="Camera name; its trouble zone is '<name> camera'.")
    width: int = Field(1280, ge=160, le=4608, description="Frame width in pixels.")
    height: int = Field(720, ge=120, le=3456, description="Frame height in pixels.")
    directory: Path | None = Field(
        None, description="directory camera: folder of *.jpg/*.jpeg replayed in name order, "
                          "looping (relative to the config file).")
    frame_delay_s: float = Field(
        0.0, ge=0, le=60, description="test-pattern only: extra seconds per frame, to "
                                      "simulate a slow camera.")
    jpeg_quality: int = Field(80, ge=20, le=95, description="JPEG quality of encoded frames.")
    max_bytes: int = Field(
        256 * 1024, ge=16 * 1024, le=wire.MAX_SNAPSHOT_BYTES - META_ROOM_BYTES,
        description="Largest snapshot sent; bigger frames are recompressed, then scaled down.")
    buffer_s: float = Field(10.0, ge=0, le=120,
                            description="Pre-alarm ring buffer length in seconds (0: none).")
    buffer_fps: float = Field(1.0, gt=0, le=10, description="Pre-alarm buffer frame rate.")
    post_frames: int = Field(5, ge=0, le=120, description="Frames sent after the alarm frame.")
    post_fps: float = Field(1.0, gt=0, le=10, description="Rate of the post-alarm frames.")
    live_max_s: int = Field(120, ge=1, le=3600,
                            description="Longest live view central may request.")
    live_max_fps: float = Field(2.0, gt=0, le=10,
                                description="Live view and snapshot-now rate limit.")
    offline_after_s: float = Field(
        10.0, ge=1, le=600, description="No frame for this long (a hung or failing camera) "
                                        "raises a 'camera offline' trouble event.")
    outbox_max_bytes: int = Field(
        64 * 1024 * 1024, ge=64 * 1024, le=4 * 1024**3,
        description="Snapshot outbox budget in bytes (separate from the event outbox).")
    outbox_max_frames: int = Field(1000, ge=4, le=100_000,
                                   description="Snapshot outbox budget in frames.")

    @field_validator("directory")
    @classmethod
    def _relative_directory(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        base = (info.context or {}).get("base_dir")
        return Path(base) / value if not value.is_absolute() and base is not None else value

    @model_validator(mode="after")
    def _check(self) -> CameraConfig:
        if self.type == "directory" and self.directory is None:
            raise ValueError("type 'directory' needs directory = \"/path/to/jpegs\"")
        if self.type != "directory" and self.directory is not None:
            raise ValueError(f"directory is only for type 'directory', not {self.type!r}")
        if self.frame_delay_s and self.type != "test-pattern":
            raise ValueError("frame_delay_s is only for type 'test-pattern'")
        if self.outbox_max_bytes < self.max_bytes * 2:
            raise ValueError(f"outbox_max_bytes ({self.outbox_max_bytes}) must hold at least "
                             f"two snapshots of max_bytes ({self.max_bytes})")
        return self

    @property
    def zone(self) -> str:
        """The zone of this camera's trouble events."""
        return f"{self.name} camera"

    @property
    def buffer_frames(self) -> int:
        """Frames the pre-alarm ring buffer holds."""
        return int(round(self.buffer_s * self.buffer_fps))
