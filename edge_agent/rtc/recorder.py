"""Records a live session on the agent as evidence: one WebM file (VP8 video of the
venue's camera, one Opus audio track mixing the venue microphone and the officer's
voice as the venue speaker got it), written while the session runs.

Each source is a fork of the session's tracks (``MediaRelay``), so the recording
never slows the live stream: the video fork drops frames rather than queue them when
the encoder falls behind. Video is encoded on a worker thread (libvpx in real-time
mode), never on the session's event loop; audio (20 ms Opus frames, cheap) is mixed and
encoded as it arrives, so it never queues behind the video; a lock serialises the
muxing. The officer's voice is mixed into the venue audio sample by sample, aligned on
the venue microphone's clock; ``spoke_s`` counts the seconds in which it was audible.

The file is written to ``<name>.webm.part`` and renamed when the container is closed
(with its duration and cues), so a ``.webm`` on disk is always whole.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import fractions
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from alarmlink import wire
from edge_agent.rtc.media import copy_video_frame

logger = logging.getLogger(__name__)

RATE = 48_000
#: Opus frames of 20 ms.
FRAME_SAMPLES = 960
#: The officer's voice counts as spoken above this RMS (16-bit samples).
SPEECH_RMS = 300.0
#: The officer audio kept waiting for the venue clock (2 s); older samples are dropped.
MAX_PENDING = 2 * RATE


def _mono(frame: AudioFrame) -> np.ndarray:
    """A frame's first channel as float64 samples (s16 packed or planar)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if data.shape[0] == 1 and channels > 1:   # packed: interleaved in one plane
        return data.reshape(-1, channels)[:, 0].astype(np.float64)
    return data[0].astype(np.float64)


class SessionRecorder:
    """Writes one session to ``path`` (``.webm``); :meth:`stop` returns it finished."""

    def __init__(self, path: Path, *, video: Any | None, audio: Any | None,
                 fps: int, kbps: int, width: int, height: int) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.started: datetime = wire.utcnow()
        self.ended: datetime | None = None
        self.spoke_s = 0.0
        self.video_frames = 0
        self._t0 = time.monotonic()
        self._pending: collections.deque[float] = collections.deque(maxlen=MAX_PENDING)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rtc-rec")
        self._mux_lock = threading.Lock()
        # Clusters of at most 2 s, each written out at once: an agent killed during the
        # session leaves a file that plays up to its last 2 s (salvaged at the next start).
        self._container: Any = av.open(str(self.part), mode="w", format="webm", options={
            "cluster_time_limit": "2000", "flush_packets": "1"})
        self._vstream: Any = None
        self._astream: Any = None
        self._samples = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._sources = {"video": video, "audio": audio}
        #: Whether the file has a video track (else it is audio only).
        self.has_video = video is not None
        #: The recorded video's size and bit rate (the session's caps).
        self.video_size, self.kbps = (width, height), kbps
        if video is not None:
            self._vstream = self._container.add_stream("libvpx", rate=fps)
            self._vstream.pix_fmt = "yuv420p"
            # Sized up front: the first packet muxed (audio or video) writes the header.
            self._vstream.width, self._vstream.height = width, height
            self._vstream.bit_rate = kbps * 1000
            self._vstream.options = {"deadline": "realtime", "cpu-used": "8",
                                     "lag-in-frames": "0"}
            self._vstream.codec_context.time_base = fractions.Fraction(1, 1000)
        if audio is not None:
            self._astream = self._container.add_stream("libopus", rate=RATE, layout="mono")
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE,
                                                frame_size=FRAME_SAMPLES)

    def start(self) -> None:
        if self._sources["video"] is not None:
            self._tasks.append(asyncio.ensure_future(self._video_loop(self._sources["video"])))
        if self._sources["audio"] is not None:
            self._tasks.append(asyncio.ensure_future(self._audio_loop(self._sources["audio"])))

    def add_officer(self, track: Any) -> None:
        """The officer's voice (the session's incoming audio, forked)."""
        self._tasks.append(asyncio.ensure_future(self._officer_loop(track)))

    # --- readers (on the session's loop) -------------------------------------------------

    async def _video_loop(self, track: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    ms = int((time.monotonic() - self._t0) * 1000)
                    # never convert the shared frame (see copy_video_frame)
                    await loop.run_in_executor(self._pool, self._encode_video,
                                               copy_video_frame(frame), ms)
        except MediaStreamError:
            logger.debug("recording %s: video ended", self.path.name)

    async def _audio_loop(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, AudioFrame):
                    self._encode_audio(_mono(frame), frame.sample_rate or RATE)
        except MediaStreamError:
            logger.debug("recording %s: venue audio ended", self.path.name)

    async def _officer_loop(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                samples = _mono(frame)
                if samples.size and float(np.sqrt(np.mean(samples ** 2))) > SPEECH_RMS:
                    self.spoke_s += samples.size / (frame.sample_rate or RATE)
                self._pending.extend(samples.tolist())
        except MediaStreamError:
            logger.debug("recording %s: officer audio ended", self.path.name)

    # --- encoder (worker thread) -------------------------------------------------------

    def _encode_video(self, frame: VideoFrame, ms: int) -> None:
        stream = self._vstream
        out = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
        out.pts = ms
        out.time_base = fractions.Fraction(1, 1000)
        packets = stream.encode(out)
        with self._mux_lock:
            for packet in packets:
                self._container.mux(packet)
        self.video_frames += 1

    def _encode_audio(self, venue: np.ndarray, rate: int) -> None:
        take = min(venue.size, len(self._pending))
        officer = np.array([self._pending.popleft() for _ in range(take)])
        mixed = venue.copy()
        mixed[:take] += officer
        data = np.clip(mixed, -32768, 32767).astype(np.int16).reshape(1, -1)
        out = AudioFrame.from_ndarray(data, format="s16", layout="mono")
        out.sample_rate = rate
        for chunk in self._resampler.resample(out):
            self._mux_audio(chunk)

    def _mux_audio(self, chunk: AudioFrame) -> None:
        chunk.pts = self._samples
        chunk.time_base = fractions.Fraction(1, RATE)
        self._samples += chunk.samples
        packets = self._astream.encode(chunk)
        with self._mux_lock:
            for packet in packets:
                self._container.mux(packet)

    def _finish(self) -> None:
        for stream in (self._vstream, self._astream):
            if stream is None:
                continue
            if stream is self._vstream and self.video_frames == 0:
                continue   # an encoder never opened has nothing to flush
            for packet in stream.encode(None):
                self._container.mux(packet)
        self._container.close()
        os.replace(self.part, self.path)

    async def stop(self) -> Path | None:
        """Stop reading, flush and close the file; None when nothing was recorded."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.ended = wire.utcnow()
        if self._astream is not None and self._pending:
            # The officer's last words still wait for the venue's clock: keep them.
            self._encode_audio(np.zeros(len(self._pending)), RATE)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self._finish)
        except (av.FFmpegError, OSError) as exc:
            logger.warning("recording %s could not be finished: %s", self.path.name, exc)
            self.part.unlink(missing_ok=True)
            return None
        finally:
            self._pool.shutdown(wait=False)
        if self.video_frames == 0 and self._samples == 0:
            self.path.unlink(missing_ok=True)
            return None
        return self.path
