"""``[rtc]``: live audio/video sessions with duty consoles (WebRTC, relayed signalling).

Example (every key is optional; these are the defaults)::

    [rtc]
    video = "test-pattern"        # or "v4l2" (+ video_device), or "none"
    video_device = "/dev/video0"
    width = 640
    height = 360
    fps = 15
    max_kbps = 800                # the venue's bandwidth cap for the session's video
    capture_device = ""           # ALSA capture device, e.g. "plughw:1,0"; "" = generated tone
    playback_device = ""          # ALSA playback device (the venue's speaker); "" = none
    tone_hz = 1000                # the generated tone (simulation and self-test)
    max_sessions = 4              # consoles watching at once
    max_s = 900                   # longest session; central may ask for less
    record = true                 # record each session and upload it to central as evidence

    [rtc.rtsp]                    # optional: serve the camera over RTSP (GB/T 28181 gateway)
    port = 8554
    username = "gateway"
    password_file = "rtsp-password"   # first line; mode 0600; relative to this file
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from alarmlink.config_base import FrozenStrictModel, resolve_config_path


class RtspConfig(FrozenStrictModel):
    """``[rtc.rtsp]``: the venue camera served over RTSP (H.264 over RTP, interleaved in
    the RTSP connection), for the station's GB/T 28181 access gateway to pull. Digest
    authentication only: there is no anonymous stream."""

    bind: str = Field("0.0.0.0", max_length=64,
                      description="Address to listen on (the station network's interface; "
                                  "0.0.0.0: all).")
    port: int = Field(8554, ge=1, le=65535, description="RTSP port.")
    path: str = Field("live", pattern=r"^[A-Za-z0-9._-]{1,64}$",
                      description="The stream's path: rtsp://<agent>:<port>/<path>.")
    username: str = Field(min_length=1, max_length=64, pattern=r"^[^:\s\"]+$",
                          description="The user name the gateway gives.")
    password_file: Path = Field(description="File holding the password (first line; mode "
                                            "0600; relative to the config file).")
    max_clients: int = Field(2, ge=1, le=8, description="Gateways pulling at once.")
    max_kbps: int = Field(1000, ge=64, le=8000, description="H.264 bit rate per client.")

    @field_validator("password_file")
    @classmethod
    def _relative(cls, value: Path, info: ValidationInfo) -> Path | None:
        return resolve_config_path(value, info)


class RtcConfig(FrozenStrictModel):
    """``[rtc]``: live audio/video to duty consoles. Leave the table out to disable it."""

    video: Literal["test-pattern", "v4l2", "none"] = Field(
        "test-pattern", description="Video source: generated test pattern with a burnt-in "
                                    "clock, a V4L2 camera (video_device), or none.")
    video_device: str = Field("/dev/video0", max_length=128,
                              description="v4l2 only: the camera device.")
    width: int = Field(640, ge=160, le=1920, description="Video width in pixels.")
    height: int = Field(360, ge=120, le=1080, description="Video height in pixels.")
    fps: int = Field(15, ge=1, le=30, description="Video frame rate.")
    max_kbps: int = Field(800, ge=64, le=8000,
                          description="Video bitrate cap per session (venue bandwidth).")
    capture_device: str = Field(
        "", max_length=128, description="ALSA capture device for the venue microphone "
                                        "(e.g. plughw:1,0); empty: a generated tone.")
    playback_device: str = Field(
        "", max_length=128, description="ALSA playback device for the venue speaker "
                                        "(e.g. plughw:1,0); empty: not played (measured only).")
    tone_hz: float = Field(1000.0, ge=50, le=8000,
                           description="Frequency of the generated tone (simulation, self-test).")
    max_sessions: int = Field(4, ge=1, le=16,
                              description="Consoles that may watch at once.")
    max_s: int = Field(900, ge=10, le=7200,
                       description="Longest session; it ends by itself after this.")
    record: bool = Field(True, description="Record each session (WebM under "
                                           "{state_dir}/recordings) and upload it to central "
                                           "as the incident's evidence.")
    rtsp: RtspConfig | None = Field(None, description="Serve the camera over RTSP for a "
                                                      "GB/T 28181 gateway; off when left out.")
