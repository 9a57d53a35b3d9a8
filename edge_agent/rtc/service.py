"""Live sessions on the agent: answer a console's offer relayed by central, stream the
camera (or test pattern) and the venue microphone (or a tone), receive the officer's
voice for the venue speaker, end on ``bye``, on ``max_s`` or when the peer goes away.

aiortc runs on this service's own asyncio loop, in its own thread; signals arrive on
paho's thread and are handed over with ``run_coroutine_threadsafe``. ICE uses host
candidates only (``RTCConfiguration(iceServers=[])``): nothing leaves the station network.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alarmlink import wire
from edge_agent.rtc.config import RtcConfig
from edge_agent.rtc.upload import RecordingUploads

logger = logging.getLogger(__name__)

INSTALL_HINT = "aiortc is not installed: pip install 'alarmlink[agent,rtc]'"


@dataclass
class _Session:
    session_id: str
    incident_id: int | None
    by: str | None
    pc: Any
    sink: Any = None
    recorder: Any = None
    timer: asyncio.TimerHandle | None = None
    tracks: list[Any] = field(default_factory=list)


class RtcService:
    """Answers ``rtc`` offers; ``publish`` sends a :class:`wire.RtcSignal` to central."""

    def __init__(self, config: RtcConfig, publish: Callable[[wire.RtcSignal], bool],
                 uploads: RecordingUploads | None = None) -> None:
        self.config = config
        self.publish = publish
        #: Where finished recordings wait for central (None: sessions are not recorded).
        self.uploads = uploads if config.record else None
        self.sessions: dict[str, _Session] = {}
        self.answered = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rtc", daemon=True)
        self._relay: Any = None
        self._video: Any = None
        self._audio: Any = None

    def start(self) -> None:
        if self.uploads is not None:
            try:
                salvaged = self.uploads.salvage()   # no session runs yet
            except OSError as exc:
                logger.warning("recordings in %s not checked: %s", self.uploads.root, exc)
            else:
                if salvaged:
                    logger.info("%d recording(s) left by a stopped agent will be uploaded",
                                len(salvaged))
        self._thread.start()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._close_all("agent stopping"), self._loop)
        try:
            future.result(5)
        except (TimeoutError, RuntimeError) as exc:
            logger.warning("rtc sessions did not close cleanly: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if self.uploads is not None:
            self.uploads.stop()

    # --- from paho's thread ------------------------------------------------------------

    def on_signal(self, signal: wire.RtcSignal) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._handle(signal), self._loop)

    # --- status (any thread) -------------------------------------------------------------

    def heard_hz(self) -> float | None:
        """The dominant frequency the venue speaker received last (any session)."""
        for session in list(self.sessions.values()):
            if session.sink is not None and (hz := session.sink.heard_hz()) is not None:
                return float(hz)
        return None

    def status(self) -> dict[str, Any]:
        return {"sessions": len(self.sessions), "answered": self.answered}

    # --- on the rtc loop ----------------------------------------------------------------

    async def _handle(self, signal: wire.RtcSignal) -> None:
        try:
            if signal.kind == wire.RtcKind.OFFER:
                await self._offer(signal)
            elif signal.kind == wire.RtcKind.BYE:
                await self._close(signal.session_id, signal.reason or "closed by central",
                                  tell=False)
            elif signal.kind == wire.RtcKind.REC_STORED and self.uploads is not None:
                self.uploads.stored(signal.session_id)
            elif signal.kind == wire.RtcKind.REC_REJECTED and self.uploads is not None:
                self.uploads.rejected(signal.session_id, signal.reason or "")
        except Exception as exc:  # noqa: BLE001 - a media failure must not kill the agent
            logger.exception("rtc session %s failed", signal.session_id)
            self._reply(signal.session_id, wire.RtcKind.ERROR,
                        reason=f"{type(exc).__name__}: {exc}"[:256])
            await self._close(signal.session_id, "failed", tell=False)

    def _reply(self, session_id: str, kind: wire.RtcKind, *, sdp: str | None = None,
               reason: str | None = None) -> None:
        self.publish(wire.RtcSignal(session_id=session_id, kind=kind, ts=wire.utcnow(),
                                    sdp=sdp, reason=reason))

    def _sources(self) -> tuple[Any, Any]:
        """The shared camera and microphone tracks, made once, forked per session."""
        from aiortc.contrib.media import MediaPlayer, MediaRelay

        from edge_agent.rtc.media import PatternTrack, ToneTrack
        cfg = self.config
        if self._relay is None:
            self._relay = MediaRelay()
        if self._video is None and cfg.video == "test-pattern":
            self._video = PatternTrack(cfg.width, cfg.height, cfg.fps)
        elif self._video is None and cfg.video == "v4l2":
            self._video = MediaPlayer(cfg.video_device, format="v4l2", options={
                "video_size": f"{cfg.width}x{cfg.height}", "framerate": str(cfg.fps)}).video
        if self._audio is None:
            self._audio = (MediaPlayer(cfg.capture_device, format="alsa").audio
                           if cfg.capture_device else ToneTrack(cfg.tone_hz))
        return self._video, self._audio

    async def _offer(self, signal: wire.RtcSignal) -> None:
        try:
            from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
        except ImportError:
            self._reply(signal.session_id, wire.RtcKind.ERROR, reason=INSTALL_HINT)
            return
        from edge_agent.rtc.media import AudioSink
        if signal.session_id in self.sessions:
            return  # a QoS 1 redelivery of an offer already answered
        if len(self.sessions) >= self.config.max_sessions:
            self._reply(signal.session_id, wire.RtcKind.ERROR,
                        reason=f"too many sessions (max_sessions = {self.config.max_sessions})")
            return
        if not signal.sdp:
            self._reply(signal.session_id, wire.RtcKind.ERROR, reason="offer without sdp")
            return
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        session = _Session(signal.session_id, signal.incident_id, signal.by, pc)
        self.sessions[signal.session_id] = session
        video, audio = self._sources()
        session.recorder = self._recorder(signal, video, audio)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                if session.recorder is not None:
                    session.recorder.add_officer(self._relay.subscribe(track))
                    track = self._relay.subscribe(track)
                session.sink = AudioSink(track, self.config.playback_device)
                asyncio.ensure_future(session.sink.start())

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            logger.info("rtc session %s: %s", signal.session_id, pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                await self._close(signal.session_id, f"connection {pc.connectionState}")

        await pc.setRemoteDescription(RTCSessionDescription(sdp=signal.sdp, type="offer"))
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video" and video is not None:
                track = self._relay.subscribe(video)
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendonly"
                session.tracks.append(track)
                self._cap_bitrate(transceiver)
            elif transceiver.kind == "audio" and audio is not None:
                track = self._relay.subscribe(audio)
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendrecv"
                session.tracks.append(track)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)   # gathers the host candidates
        max_s = min(signal.max_s or self.config.max_s, self.config.max_s)
        session.timer = asyncio.get_running_loop().call_later(
            max_s, lambda: asyncio.ensure_future(
                self._close(signal.session_id, f"time limit ({max_s} s)")))
        self.answered += 1
        logger.info("rtc session %s for incident %s (%s) answered", signal.session_id,
                    signal.incident_id, signal.by)
        self._reply(signal.session_id, wire.RtcKind.ANSWER, sdp=pc.localDescription.sdp)

    def _recorder(self, signal: wire.RtcSignal, video: Any, audio: Any) -> Any:
        """The session's recorder (forks of the sources), or None when not recording."""
        if self.uploads is None or signal.incident_id is None:
            return None
        from edge_agent.rtc.recorder import SessionRecorder
        self.uploads.root.mkdir(parents=True, exist_ok=True)
        recorder = SessionRecorder(
            self.uploads.media(signal.session_id),
            video=None if video is None else self._relay.subscribe(video, buffered=False),
            audio=None if audio is None else self._relay.subscribe(audio),
            fps=self.config.fps, kbps=self.config.max_kbps, width=self.config.width,
            height=self.config.height)
        recorder.start()
        self.uploads.begin(signal.session_id, self._header(signal.session_id,
                                                           signal.incident_id, signal.by,
                                                           recorder, "recording"))
        return recorder

    @staticmethod
    def _header(session_id: str, incident_id: int, by: str | None, recorder: Any,
                reason: str) -> dict[str, Any]:
        return {"v": 1, "session_id": session_id, "incident_id": incident_id,
                "media_type": "video/webm" if recorder.has_video else "audio/webm",
                "started": recorder.started.isoformat(),
                "ended": (recorder.ended or wire.utcnow()).isoformat(),
                "by": by, "spoke_s": round(recorder.spoke_s, 2), "reason": reason[:256]}

    async def _finish_recording(self, session: _Session, reason: str) -> None:
        recorder, uploads = session.recorder, self.uploads
        if recorder is None or uploads is None:
            return
        path = await recorder.stop()
        if path is None or session.incident_id is None:
            return
        header = self._header(session.session_id, session.incident_id, session.by, recorder,
                              reason)
        await asyncio.get_running_loop().run_in_executor(None, uploads.add, path, header)

    def _cap_bitrate(self, transceiver: Any) -> None:
        """Cap the VP8 encoder of this sender at ``max_kbps`` (aiortc's encoder attribute)."""
        encoder = getattr(transceiver.sender, "_RTCRtpSender__encoder", None)
        if encoder is not None and hasattr(encoder, "target_bitrate"):
            encoder.target_bitrate = self.config.max_kbps * 1000

    async def _close(self, session_id: str, reason: str, *, tell: bool = True) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        if session.timer is not None:
            session.timer.cancel()
        if session.sink is not None:
            await session.sink.stop()
        for track in session.tracks:
            track.stop()
        await session.pc.close()
        logger.info("rtc session %s ended: %s", session_id, reason)
        if tell:
            self._reply(session_id, wire.RtcKind.BYE, reason=reason[:256])
        try:
            await self._finish_recording(session, reason)
        except OSError as exc:
            logger.warning("recording of session %s not kept: %s", session_id, exc)

    async def _close_all(self, reason: str) -> None:
        for session_id in list(self.sessions):
            await self._close(session_id, reason)
        for source in (self._video, self._audio):
            if source is not None:
                source.stop()
        await asyncio.sleep(0)  # let the relay's readers see the end
