"""Media for live sessions: the test-pattern video with a burnt-in clock, the generated
tone, ALSA/V4L2 sources, and the sink that receives the officer's voice.

The test pattern carries the sender's wall clock (milliseconds, modulo 2**32) as 32
black/white blocks along its top edge, most significant bit first, so a receiver can
measure glass-to-glass latency (``bench/video.py``) and tell frames apart.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import time
from typing import Any

import numpy as np
from aiortc import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

logger = logging.getLogger(__name__)

AUDIO_RATE = 48_000
AUDIO_PTIME_S = 0.02
CLOCK_BITS = 32
#: Height of the clock strip at the top of the test pattern, in pixels.
CLOCK_STRIP = 24


def clock_ms() -> int:
    """The wall clock burnt into the pattern: milliseconds modulo 2**32."""
    return int(time.time() * 1000) % (1 << CLOCK_BITS)


def pattern(width: int, height: int, counter: int, stamp_ms: int) -> np.ndarray:
    """One RGB frame: colour bars, a box that moves with ``counter``, the clock strip."""
    bars = np.array([[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0],
                     [192, 0, 192], [192, 0, 0], [0, 0, 192]], dtype=np.uint8)
    columns = (np.arange(width) * len(bars) // width)
    frame = np.broadcast_to(bars[columns], (height, width, 3)).copy()
    box = max(height // 6, 8)
    x = (counter * 8) % max(width - box, 1)
    frame[height // 2: height // 2 + box, x: x + box] = (255, 255, 255)
    block = width // CLOCK_BITS
    frame[:CLOCK_STRIP] = 0
    for bit in range(CLOCK_BITS):
        if stamp_ms >> (CLOCK_BITS - 1 - bit) & 1:
            frame[:CLOCK_STRIP, bit * block: (bit + 1) * block] = 255
    return frame


def read_clock(frame: np.ndarray) -> int:
    """The clock burnt into an RGB frame by :func:`pattern` (for tests and the bench)."""
    width = frame.shape[1]
    block = width // CLOCK_BITS
    row = frame[CLOCK_STRIP // 2]
    value = 0
    for bit in range(CLOCK_BITS):
        value = value << 1 | int(row[bit * block + block // 2].mean() > 127)
    return value


class PatternTrack(VideoStreamTrack):
    """The test-pattern camera as a WebRTC video track at ``fps``."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.frames = 0
        self._t0: float | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        clock = 90_000
        if self._t0 is None:
            self._t0 = time.monotonic()
        else:
            due = self._t0 + self.frames / self.fps
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = VideoFrame.from_ndarray(
            pattern(self.width, self.height, self.frames, clock_ms()), format="rgb24")
        frame.pts = int(self.frames * clock / self.fps)
        frame.time_base = fractions.Fraction(1, clock)
        self.frames += 1
        return frame


class ToneTrack(AudioStreamTrack):
    """A generated sine tone at ``hz`` (the venue microphone in simulation and self-test)."""

    def __init__(self, hz: float, level: float = 0.3) -> None:
        super().__init__()
        self.hz, self.level = hz, level
        self._samples = 0
        self._t0: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        count = int(AUDIO_RATE * AUDIO_PTIME_S)
        if self._t0 is None:
            self._t0 = time.monotonic()
        else:
            due = self._t0 + self._samples / AUDIO_RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = (np.arange(count) + self._samples) / AUDIO_RATE
        data = (self.level * 32767 * np.sin(2 * np.pi * self.hz * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.pts = self._samples
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += count
        return frame


def dominant_hz(samples: np.ndarray, rate: int = AUDIO_RATE) -> float | None:
    """The loudest frequency in ``samples`` (None when silent)."""
    if samples.size < 256 or float(np.abs(samples).max()) < 200:
        return None
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    spectrum[:3] = 0  # no DC
    return float(np.argmax(spectrum) * rate / samples.size)


class AudioSink:
    """Receives the officer's voice: keeps the last second of samples (to measure,
    ``dominant_hz``) and plays it on the venue speaker when an ALSA device is set."""

    def __init__(self, track: MediaStreamTrack, playback_device: str = "") -> None:
        self.track = track
        self.samples: collections.deque[np.ndarray] = collections.deque(maxlen=50)
        self.frames = 0
        self._player: Any = None
        if playback_device:
            from aiortc.contrib.media import MediaRecorder
            self._player = MediaRecorder(playback_device, format="alsa")
            self._player.addTrack(track)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._player is not None:
            await self._player.start()
        else:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                data = frame.to_ndarray()
                channels = len(frame.layout.channels)
                self.samples.append(data.reshape(-1, channels)[:, 0].astype(np.float64))
                self.frames += 1
        except MediaStreamError:
            logger.debug("officer audio ended")

    def heard_hz(self) -> float | None:
        """The dominant frequency of the last second heard from the console."""
        if not self.samples:
            return None
        return dominant_hz(np.concatenate(list(self.samples)))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._player is not None:
            await self._player.stop()


def copy_video_frame(frame: VideoFrame) -> VideoFrame:
    """A private copy of ``frame`` (planes, pts, time base). The relay hands one frame to
    every consumer, and the live encoder converts it on its own thread with the frame's
    one (not thread-safe) scaler: a consumer that encodes elsewhere takes a copy first."""
    copy = VideoFrame(frame.width, frame.height, frame.format.name)
    for plane, source in zip(copy.planes, frame.planes, strict=True):
        plane.update(bytes(source))
    copy.pts, copy.time_base = frame.pts, frame.time_base
    return copy


def scaled_size(width: int, height: int, cap: int) -> tuple[int, int]:
    """``(width, height)`` scaled down to ``cap`` pixels high (aspect kept, even width);
    unchanged when already that small."""
    if height <= cap:
        return width, height
    return max(2, round(width * cap / height / 2) * 2), cap


class ScaledTrack(MediaStreamTrack):
    """A video track scaled down to ``height`` pixels (aspect kept, even width): the
    venue's resolution cap for one session. Frames already that small pass unchanged."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, height: int) -> None:
        super().__init__()
        self.source = source
        self.height = height

    async def recv(self) -> Any:
        frame = await self.source.recv()
        if not isinstance(frame, VideoFrame) or frame.height <= self.height:
            return frame
        width, height = scaled_size(frame.width, frame.height, self.height)
        scaled = frame.reformat(width=width, height=height)
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        return scaled

    def stop(self) -> None:
        super().stop()
        self.source.stop()


class CappedEncoder:
    """Wraps aiortc's video encoder so its bitrate never goes above ``bps``: the
    browser's bandwidth estimate (REMB) sets ``target_bitrate`` later, and is clamped
    here. (aiortc's VP8 encoder itself does not go below 250 kbit/s.)"""

    def __init__(self, inner: Any, bps: int) -> None:
        self._inner = inner
        self.cap_bps = bps
        if hasattr(inner, "target_bitrate"):
            inner.target_bitrate = min(inner.target_bitrate, bps)

    @property
    def target_bitrate(self) -> int:
        return int(self._inner.target_bitrate)

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self._inner.target_bitrate = min(bitrate, self.cap_bps)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


#: aiortc's RTCRtpSender keeps its encoder (made on the first frame) here.
_ENCODER_ATTR = "_RTCRtpSender__encoder"


async def hold_bitrate(sender: Any, kbps: int, frame_s: float, give_up_s: float = 20.0) -> bool:
    """Cap ``sender``'s encoder at ``kbps`` once aiortc has made it (on the first frame):
    checked every frame interval for at most ``give_up_s``. True if capped."""
    loop = asyncio.get_running_loop()
    end = loop.time() + give_up_s
    while loop.time() < end:
        encoder = getattr(sender, _ENCODER_ATTR, None)
        if isinstance(encoder, CappedEncoder):
            return True
        if encoder is not None and hasattr(encoder, "target_bitrate"):
            setattr(sender, _ENCODER_ATTR, CappedEncoder(encoder, kbps * 1000))
            return True
        await asyncio.sleep(frame_s)
    logger.warning("video bitrate cap of %d kbit/s not applied: no encoder after %.0f s",
                   kbps, give_up_s)
    return False
