"""Issue 18, the agent's live side (edge_agent/agent_live.py), on gpiozero mock pins with
a real aiortc peer standing in for the console (no broker: signals are handed to the
agent as central would relay them):

- a camera that cannot be opened for a live session raises a ``trouble`` in zone
  ``live-camera`` naming the device and the fix; the session still answers (the officer
  can talk); when the camera opens again the ``restore`` follows;
- a camera that stops sending during a session raises that trouble at once, and is
  opened afresh for the next session (its ``restore``);
- the talk LED: slow blink when the venue asks, fast blink and two beeps when central
  answers ``talk_received``, on while an officer's session is connected, off after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_testkit import make_config
from aiortc import RTCPeerConnection
from gpiozero.pins.mock import MockFactory
from helpers import wait_for

from alarmlink import wire
from edge_agent.agent import Agent
from edge_agent.rtc.config import RtcConfig
from edge_agent.rtc.devices import VIDEO_ZONE

TALK = {"type": "button", "zone": "gate-talk", "pin": 6, "kind": "talk"}
MISSING_CAMERA = "/dev/video-alarmlink-missing"


async def _offer() -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def offer(incident_id: int = 1) -> wire.RtcSignal:
    return wire.RtcSignal(session_id=wire.new_id(), kind=wire.RtcKind.OFFER, ts=wire.utcnow(),
                          sdp=asyncio.run(_offer()), incident_id=incident_id, by="officer-li",
                          max_s=60)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    config = make_config(tmp_path, inputs=[TALK], feedback={"buzzer_pin": 24,
                                                            "talk_led_pin": 25},
                         rtc={"video": "v4l2", "video_device": MISSING_CAMERA,
                              "width": 160, "height": 120, "record": False})
    factory = MockFactory()
    agent = Agent(config, pin_factory=factory)
    agent.start()
    yield agent
    agent.stop()
    factory.reset()


def test_a_camera_that_cannot_open_raises_a_trouble_then_its_restore(agent: Agent) -> None:
    events: list[wire.Event] = []
    agent.event_listeners.append(events.append)
    rtc = agent.live.rtc
    assert rtc is not None
    agent.live.on_signal(offer())
    wait_for(lambda: rtc.answered == 1, timeout=20, what="the session answered without video")
    troubles = [e for e in events if e.zone == VIDEO_ZONE]
    assert [(e.kind, e.state) for e in troubles] == [(wire.Kind.TROUBLE, wire.State.TROUBLE)]
    reason = str(troubles[0].detail["reason"])
    assert MISSING_CAMERA in reason and "[rtc] video_device" in reason
    assert agent.outbox.contains(troubles[0].event_id)   # committed, sent when connected

    agent.live.on_signal(offer())   # still broken: no second trouble
    wait_for(lambda: rtc.answered == 2, timeout=20, what="the second session")
    assert len([e for e in events if e.zone == VIDEO_ZONE]) == 1

    # the camera works again (here: the test pattern stands in for it)
    rtc.config = RtcConfig(video="test-pattern", width=160, height=120, record=False)
    agent.live.on_signal(offer())
    wait_for(lambda: rtc.answered == 3, timeout=20, what="the third session")
    assert [e.state for e in events if e.zone == VIDEO_ZONE] == [wire.State.TROUBLE,
                                                                  wire.State.RESTORE]


def test_a_camera_that_stops_during_a_session_raises_a_trouble_at_once(agent: Agent) -> None:
    events: list[wire.Event] = []
    agent.event_listeners.append(events.append)
    rtc = agent.live.rtc
    assert rtc is not None
    rtc.config = RtcConfig(video="test-pattern", width=160, height=120, record=False)
    agent.live.on_signal(offer())
    wait_for(lambda: rtc.answered == 1, timeout=20, what="the session answered")
    camera = rtc.devices.video
    assert camera is not None
    rtc._loop.call_soon_threadsafe(camera.stop)   # unplugged while the officer watches
    wait_for(lambda: [e.state for e in events if e.zone == VIDEO_ZONE] == [
        wire.State.TROUBLE], timeout=10, what="a live-camera trouble")
    reason = str(next(e for e in events if e.zone == VIDEO_ZONE).detail["reason"])
    assert "stopped sending during a live session" in reason
    agent.live.on_signal(offer())   # the next session opens the camera afresh
    wait_for(lambda: rtc.answered == 2, timeout=20, what="the second session")
    assert rtc.devices.video is not None and rtc.devices.video is not camera
    assert [e.state for e in events if e.zone == VIDEO_ZONE] == [wire.State.TROUBLE,
                                                                  wire.State.RESTORE]


def test_the_talk_led_shows_asked_received_answered(agent: Agent) -> None:
    feedback = agent.feedback
    led, buzzer = feedback.talk_led, feedback.buzzer
    assert led is not None and buzzer is not None

    def blinks() -> None:
        wait_for(lambda: led.is_lit, interval=0.01, what="talk LED on")
        wait_for(lambda: not led.is_lit, interval=0.01, what="talk LED off")

    agent.live.talk.request("gate-talk")   # not connected: kept, and the venue sees it
    assert feedback.talk_stage == "asked"
    blinks()
    agent.live.on_signal(wire.RtcSignal(session_id=wire.new_id(),
                                        kind=wire.RtcKind.TALK_RECEIVED, ts=wire.utcnow(),
                                        incident_id=3))
    assert feedback.talk_stage == "received"
    wait_for(lambda: buzzer.is_active, interval=0.01, what="the confirmation beep")
    blinks()
    feedback.talk_answered(True)
    assert feedback.talk_stage == "answered" and led.is_lit
    feedback.talk_received()   # a late answer from central does not start blinking again
    assert feedback.talk_stage == "answered" and led.is_lit
    feedback.talk_answered(False)
    assert feedback.talk_stage == "idle" and not led.is_lit
