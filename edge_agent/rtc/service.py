"""Live sessions on the agent: answer a console's offer relayed by central, stream the
camera (or test pattern) and the venue microphone (or a tone), receive the officer's
voice for the venue speaker, end on ``bye``, on ``max_s`` or when the peer goes away.

aiortc runs on this service's own asyncio loop, in its own thread; signals arrive on
paho's thread and are handed over with ``run_coroutine_threadsafe``. ICE uses host
candidates only (``RTCConfiguration(iceServers=[])``): nothing leaves the station network.

Per-venue caps: an offer may carry central's ``max_kbps`` and ``max_height`` (the
registry's); each session uses the lower of those and this agent's ``[rtc]``, scaling its
video down (aspect kept) when the cap is below the camera's height.

The camera, microphone and speaker, and their troubles, are
:class:`edge_agent.rtc.devices.LiveDevices`; a session goes on with what works, so the
officer can still talk when the camera is broken. Recordings follow the session's caps
too (bit rate and height).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alarmlink import wire
from alarmlink.config_base import ConfigError
from alarmlink.secret_file import SecretFileError, read_secret_line
from edge_agent.rtc.config import RtcConfig, RtspConfig
from edge_agent.rtc.devices import LiveDevices, MediaReport
from edge_agent.rtc.rtsp import RtspServer
from edge_agent.rtc.upload import RecordingUploads

logger = logging.getLogger(__name__)

INSTALL_HINT = "aiortc is not installed: pip install 'alarmlink[agent,rtc]'"
#: on_sessions(count): the number of connected sessions changed.
SessionsReport = Callable[[int], None]


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
    #: The caps this session uses: (video kbit/s, video height).
    caps: tuple[int, int] = (0, 0)
    capping: asyncio.Future[bool] | None = None


class RtcService:
    """Answers ``rtc`` offers; ``publish`` sends a :class:`wire.RtcSignal` to central."""

    def __init__(self, config: RtcConfig, publish: Callable[[wire.RtcSignal], bool],
                 uploads: RecordingUploads | None = None, *,
                 on_media: MediaReport | None = None,
                 on_sessions: SessionsReport | None = None) -> None:
        self.config = config
        self.publish = publish
        self.on_sessions = on_sessions
        #: The camera, microphone and speaker (edge_agent/rtc/devices.py).
        self.devices = LiveDevices(self, on_media)
        #: Where finished recordings wait for central (None: sessions are not recorded).
        self.uploads = uploads if config.record else None
        self.sessions: dict[str, _Session] = {}
        self.answered = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rtc", daemon=True)
        #: ``[rtc.rtsp]``: the camera for a GB/T 28181 gateway (edge_agent/rtc/rtsp.py).
        self.rtsp = None if config.rtsp is None else self._rtsp_server(config.rtsp)

    def _rtsp_server(self, rtsp: RtspConfig) -> RtspServer:
        """Raises :class:`ConfigError` (one line) when the password file is unusable."""
        try:
            password = read_secret_line(rtsp.password_file, "RTSP password")
        except SecretFileError as exc:
            raise ConfigError(f"rtc.rtsp.password_file {exc}") from None

        def video_source() -> Any:
            video, _audio = self.devices.sources()
            return None if video is None else self.devices.relay.subscribe(video,
                                                                           buffered=False)
        return RtspServer(rtsp, password, video_source)

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
        if self.rtsp is not None:
            rtsp = self.rtsp.config
            try:
                asyncio.run_coroutine_threadsafe(self.rtsp.start(), self._loop).result(5)
            except OSError as exc:   # the alarms go on without it
                logger.error("RTSP not served: cannot listen on %s:%d (%s); free the port "
                             "or change [rtc.rtsp] port", rtsp.bind, rtsp.port, exc.strerror)

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

    def _caps(self, signal: wire.RtcSignal) -> tuple[int, int]:
        """(kbit/s, height) for a session: the lower of central's and this agent's."""
        cfg = self.config
        return (min(cfg.max_kbps, signal.max_kbps or cfg.max_kbps),
                min(cfg.height, signal.max_height or cfg.height))

    def _sessions_changed(self) -> None:
        if self.on_sessions is not None:
            try:
                self.on_sessions(len(self.sessions))
            except Exception:  # noqa: BLE001 - a display must not break the session
                logger.exception("sessions report failed")

    async def _offer(self, signal: wire.RtcSignal) -> None:
        try:
            from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
        except ImportError:
            self._reply(signal.session_id, wire.RtcKind.ERROR, reason=INSTALL_HINT)
            return
        from edge_agent.rtc.media import ScaledTrack, hold_bitrate
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
        session = _Session(signal.session_id, signal.incident_id, signal.by, pc,
                           caps=self._caps(signal))
        self.sessions[signal.session_id] = session
        video, audio = self.devices.sources()
        session.recorder = self._recorder(signal, video, audio, session.caps)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                if session.recorder is not None:
                    session.recorder.add_officer(self.devices.relay.subscribe(track))
                    track = self.devices.relay.subscribe(track)
                session.sink = self.devices.sink(track)
                asyncio.ensure_future(session.sink.start())

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            logger.info("rtc session %s: %s", signal.session_id, pc.connectionState)
            if pc.connectionState == "connected":
                self._sessions_changed()
            if pc.connectionState in ("failed", "closed"):
                await self._close(signal.session_id, f"connection {pc.connectionState}")

        await pc.setRemoteDescription(RTCSessionDescription(sdp=signal.sdp, type="offer"))
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video" and video is not None:
                track = self.devices.relay.subscribe(video)
                if session.caps[1] < self.config.height:
                    track = ScaledTrack(track, session.caps[1])
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendonly"
                session.tracks.append(track)
                session.capping = asyncio.ensure_future(hold_bitrate(
                    transceiver.sender, session.caps[0], 1 / self.config.fps))
            elif transceiver.kind == "audio" and audio is not None:
                track = self.devices.relay.subscribe(audio)
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
        logger.info("rtc session %s for incident %s (%s) answered (%d kbit/s, %d px high)",
                    signal.session_id, signal.incident_id, signal.by, *session.caps)
        self._reply(signal.session_id, wire.RtcKind.ANSWER, sdp=pc.localDescription.sdp)

    def _recorder(self, signal: wire.RtcSignal, video: Any, audio: Any,
                  caps: tuple[int, int]) -> Any:
        """The session's recorder (forks of the sources, at the session's caps), or None
        when not recording."""
        if self.uploads is None or signal.incident_id is None:
            return None
        from edge_agent.rtc.media import scaled_size
        from edge_agent.rtc.recorder import SessionRecorder
        self.uploads.root.mkdir(parents=True, exist_ok=True)
        width, height = scaled_size(self.config.width, self.config.height, caps[1])
        recorder = SessionRecorder(
            self.uploads.media(signal.session_id),
            video=None if video is None else self.devices.relay.subscribe(video, buffered=False),
            audio=None if audio is None else self.devices.relay.subscribe(audio),
            fps=self.config.fps, kbps=caps[0], width=width, height=height)
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

    async def _close(self, session_id: str, reason: str, *, tell: bool = True) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        if session.timer is not None:
            session.timer.cancel()
        if session.capping is not None:
            session.capping.cancel()
        if session.sink is not None:
            await session.sink.stop()
        for track in session.tracks:
            track.stop()
        await session.pc.close()
        logger.info("rtc session %s ended: %s", session_id, reason)
        self._sessions_changed()
        if tell:
            self._reply(session_id, wire.RtcKind.BYE, reason=reason[:256])
        try:
            await self._finish_recording(session, reason)
        except OSError as exc:
            logger.warning("recording of session %s not kept: %s", session_id, exc)

    async def _close_all(self, reason: str) -> None:
        self.devices.stopping = True
        if self.rtsp is not None:
            await self.rtsp.stop()
        for session_id in list(self.sessions):
            await self._close(session_id, reason)
        self.devices.stop()
        await asyncio.sleep(0)  # let the relay's readers see the end
