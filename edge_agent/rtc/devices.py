"""The venue's live-path devices for :mod:`edge_agent.rtc.service`: the camera (or test
pattern) and microphone (or tone), opened once and forked to every session through one
``MediaRelay``, and the speaker each session's officer voice plays on.

A device that cannot be opened is reported through ``on_media(zone, failed, detail)``
(the agent raises a ``trouble`` in zone :data:`VIDEO_ZONE`, :data:`MIC_ZONE` or
:data:`SPEAKER_ZONE`, and its ``restore`` when it opens again). A camera or microphone
that stops sending while open (unplugged, its driver gone) is reported at once and
forgotten, so the next session opens it afresh. Only a change is reported: a device
that simply works is no event per session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from edge_agent.rtc.config import RtcConfig

logger = logging.getLogger(__name__)

#: Zones of the live path's troubles.
VIDEO_ZONE = "live-camera"
MIC_ZONE = "live-microphone"
SPEAKER_ZONE = "live-speaker"
#: on_media(zone, failed, detail): a live-path device failed (True) or works (False).
MediaReport = Callable[[str, bool, str], None]


class HasConfig(Protocol):
    config: RtcConfig


class LiveDevices:
    """The shared sources and the speaker; ``service.config`` is read at each use (a
    reloaded ``[rtc]`` applies from the next session)."""

    def __init__(self, service: HasConfig, on_media: MediaReport | None = None) -> None:
        self.service = service
        self.on_media = on_media
        #: zone -> whether its device failed, as last reported (absent: not tried yet).
        self.media_failed: dict[str, bool] = {}
        self.relay: Any = None
        self.video: Any = None
        self.audio: Any = None
        #: True once the agent stops: sources ending then are not failures.
        self.stopping = False

    def report(self, zone: str, error: str | None) -> None:
        """Report a live-path device's failure, and its recovery after one (a device that
        simply works is not reported: no event per session)."""
        failed = error is not None
        before = self.media_failed.get(zone)
        self.media_failed[zone] = failed
        if (before is None and not failed) or before == failed:
            return
        if failed:
            logger.warning("live %s failed: %s", zone, error)
        else:
            logger.info("live %s works", zone)
        if self.on_media is not None:
            try:
                self.on_media(zone, failed, error or "")
            except Exception:  # noqa: BLE001 - a report must not break the session
                logger.exception("live %s: report failed", zone)

    def sources(self) -> tuple[Any, Any]:
        """The shared camera and microphone tracks, made once, forked per session. One
        that cannot be opened is None for this session (reported), and tried again next
        session."""
        from aiortc.contrib.media import MediaPlayer, MediaRelay

        from edge_agent.rtc.media import PatternTrack, ToneTrack
        cfg = self.service.config
        before = (self.video, self.audio)
        if self.relay is None:
            self.relay = MediaRelay()
        if self.video is None and cfg.video == "test-pattern":
            self.video = PatternTrack(cfg.width, cfg.height, cfg.fps)
            self.report(VIDEO_ZONE, None)
        elif self.video is None and cfg.video == "v4l2":
            try:
                self.video = MediaPlayer(cfg.video_device, format="v4l2", options={
                    "video_size": f"{cfg.width}x{cfg.height}", "framerate": str(cfg.fps)}).video
            except (OSError, ValueError) as exc:   # av.error.* are OSError/ValueError
                self.report(VIDEO_ZONE, f"cannot open camera {cfg.video_device}: {exc}; "
                                        "check the cable and [rtc] video_device "
                                        "(v4l2-ctl --list-devices)")
            else:
                self.report(VIDEO_ZONE, None)
        if self.audio is None and cfg.capture_device:
            try:
                self.audio = MediaPlayer(cfg.capture_device, format="alsa").audio
            except (OSError, ValueError) as exc:
                self.report(MIC_ZONE, f"cannot open microphone (ALSA {cfg.capture_device}): "
                                      f"{exc}; check [rtc] capture_device (arecord -L)")
            else:
                self.report(MIC_ZONE, None)
        elif self.audio is None:
            self.audio = ToneTrack(cfg.tone_hz)
        if self.video is not None and self.video is not before[0]:
            self._watch(VIDEO_ZONE, self.video, f"camera {cfg.video_device}"
                        if cfg.video == "v4l2" else "test-pattern camera")
        if self.audio is not None and self.audio is not before[1]:
            self._watch(MIC_ZONE, self.audio, f"microphone (ALSA {cfg.capture_device})"
                        if cfg.capture_device else "test tone")
        return self.video, self.audio

    def _watch(self, zone: str, source: Any, what: str) -> None:
        """Notice a source that stops while open: report it, and forget it so the next
        session opens the device again."""
        from aiortc.mediastreams import MediaStreamError
        frames = self.relay.subscribe(source, buffered=False)

        async def watch() -> None:
            try:
                while True:
                    await frames.recv()
            except MediaStreamError:
                pass
            if self.stopping:
                return
            if zone == VIDEO_ZONE and self.video is source:
                self.video = None
            elif zone == MIC_ZONE and self.audio is source:
                self.audio = None
            self.report(zone, f"{what} stopped sending during a live session; check its "
                              "cable and power (it is opened again for the next session)")
        asyncio.ensure_future(watch())

    def sink(self, track: Any) -> Any:
        """The officer's voice to the venue speaker; without it (reported) if it fails."""
        from edge_agent.rtc.media import AudioSink
        device = self.service.config.playback_device
        if not device:
            return AudioSink(track)
        try:
            sink = AudioSink(track, device)
        except (OSError, ValueError) as exc:
            self.report(SPEAKER_ZONE, f"cannot open speaker (ALSA {device}): {exc}; check "
                                      "[rtc] playback_device (aplay -L)")
            return AudioSink(track)
        self.report(SPEAKER_ZONE, None)
        return sink

    def stop(self) -> None:
        """The agent stops: end the sources (their ends are not failures)."""
        self.stopping = True
        for source in (self.video, self.audio):
            if source is not None:
                source.stop()
