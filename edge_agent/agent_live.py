"""The agent's live side: the venue's talk button and live audio/video sessions.

:class:`AgentLive` is what :class:`edge_agent.agent.Agent` holds for issue 18 (split out
by responsibility): the talk requests (:mod:`edge_agent.talk`), the ``[rtc]`` sessions
(:mod:`edge_agent.rtc.service`), the venue's sign that a request arrived and an officer
answered (:meth:`edge_agent.feedback.Feedback.talk_asked` and after), and the troubles of
a camera, microphone or speaker that fails on the live path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from alarmlink import wire
from edge_agent.config import AgentConfig
from edge_agent.feedback import Feedback
from edge_agent.inputs import AlarmInput, InputChange
from edge_agent.rtc.service import RtcService
from edge_agent.rtc.upload import PublishRec, RecordingUploads
from edge_agent.talk import TalkRequests

logger = logging.getLogger(__name__)

#: raise_event(kind, state, zone, source, detail): the agent's event entry point.
RaiseEvent = Callable[..., Any]


class AgentLive:
    """Talk button, live sessions and their signs of one agent."""

    def __init__(self, config: AgentConfig, feedback: Feedback,
                 publish_rtc: Callable[[wire.RtcSignal], bool],
                 publish_rec: PublishRec, raise_event: RaiseEvent) -> None:
        self.device_id = config.device_id
        self.feedback = feedback
        self.raise_event = raise_event
        #: The venue's talk button (edge_agent/talk.py).
        self.talk = TalkRequests(config.device_id, publish_rtc, on_asked=feedback.talk_asked)
        #: ``talk_received`` answers from central since the agent started.
        self.talk_received = 0
        #: ``[rtc]``: live audio/video sessions with consoles (None: not configured).
        self.rtc: RtcService | None = None
        if config.rtc is not None:
            self.rtc = RtcService(
                config.rtc, publish_rtc,
                RecordingUploads(config.state_dir / "recordings", publish_rec),
                on_media=self._media, on_sessions=self._sessions)

    def wrap(self, item: AlarmInput, on_input: Callable[[InputChange], None]
             ) -> Callable[[InputChange], None]:
        """The input's callback: ``on_input``, unless the input can ask to talk."""
        return self.talk.wrap(item, on_input)

    def start(self) -> None:
        if self.rtc is not None:   # recordings left by a killed agent are salvaged before
            self.rtc.start()       # the link's first connect uploads what is pending

    def stop(self) -> None:
        if self.rtc is not None:
            self.rtc.stop()

    def on_connected(self) -> None:
        """The link (re)connected (paho's thread): send what waited."""
        self.talk.flush()
        if self.rtc is not None and self.rtc.uploads is not None:
            self.rtc.uploads.resume()   # recordings central has not confirmed yet

    def on_signal(self, signal: wire.RtcSignal) -> None:
        """A signal from central on ``rtc`` (paho's thread)."""
        if signal.kind == wire.RtcKind.TALK_RECEIVED:
            logger.info("%s: central has the talk request %s (incident %s)", self.device_id,
                        signal.session_id, signal.incident_id)
            self.talk_received += 1
            self.feedback.talk_received()
        elif self.rtc is not None:
            self.rtc.on_signal(signal)

    def _sessions(self, count: int) -> None:
        self.feedback.talk_answered(count > 0)

    def _media(self, zone: str, failed: bool, detail: str) -> None:
        """A live-path device failed (a trouble) or works again (its restore)."""
        self.raise_event(wire.Kind.TROUBLE, wire.State.TROUBLE if failed else wire.State.RESTORE,
                         zone, wire.Source.SELF,
                         detail={"reason": detail[:200]} if failed else {"reason": "works"})
