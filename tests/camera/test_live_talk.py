"""Issue 18: the venue's talk button alone (no alarm open) reaches its station, the
officer answers with video (capped by the venue's registry entry) and an open line, and
an answered request asks no more after a page reload. Headless Chromium with fake media,
a real central, a real broker and a simulated venue."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from av_testkit import OFFICER_HZ
from e2e.harness import venue_config
from fixtures.auth import TEST_PASSWORD, TEST_USER
from fixtures.browser import console_login
from fixtures.central import ALARMLINK, CentralProcess
from helpers import wait_for
from playwright.sync_api import Page, expect
from test_live_av import RTC, av_page, frames_moving

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

pytestmark = pytest.mark.browser
__all__ = ["av_page"]   # the fixture, shared with test_live_av.py


VENUE_CAPS = """
[[venues]]
id = "school-01"
name = "Chengxiang Central Primary School"
kind = "school"
station = "chengxiang"
av_max_kbps = 300
av_max_height = 120
"""


def test_talk_button_alone_reaches_the_station_and_the_officer_answers(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, av_page: Page,
        tmp_path: Path) -> None:
    """A separate talk button pressed with no alarm open: an incident in the station's
    queue with "venue requests talk", the venue's talk LED blinking fast once central has
    it, "Answer" opens the video (capped by the venue's registry entry) with the line
    open, and the LED stays on while the officer is connected. A repeated request (QoS 1)
    is logged once."""
    from edge_agent.rtc.media import CappedEncoder

    page = av_page
    caps = tmp_path / "caps.toml"
    caps.write_text(VENUE_CAPS)
    subprocess.run([*ALARMLINK, "central", "registry", "load", str(caps), "--db",
                    str(central_process.db_path)], check=True, capture_output=True)
    button = {"type": "button", "zone": "gate-button", "pin": 5, "kind": "panic"}
    talk_button = {"type": "button", "zone": "gate-talk", "pin": 6, "kind": "talk"}
    config = venue_config("school", fresh_mosquitto, tmp_path / "agent", rtc=RTC,
                          inputs=[button, talk_button],
                          feedback={"led_pin": 23, "buzzer_pin": 24, "talk_led_pin": 25})
    with VenueSimulator(config, out=None) as sim:
        live = sim.agent.live
        rtc, feedback = live.rtc, sim.agent.feedback
        assert rtc is not None and feedback.talk_led is not None
        console_login(page, central_process.url, TEST_USER, TEST_PASSWORD)
        expect(page.locator("#conn")).to_have_class("conn up")
        page.locator("#lang").click()
        wait_for(lambda: sim.agent.connected, what="agent connected")

        sim.ask_to_talk("gate-talk")
        row = page.locator("#queue li.incident.talk")
        expect(row.locator(".flag.talk")).to_have_text("venue requests talk")
        expect(row.locator(".kinds")).to_have_text("talk request")
        row.click()
        card = page.locator("#detail .av-live")
        banner = card.locator(".av-talk-request")
        expect(banner).to_contain_text("venue requests talk")
        expect(card.locator(".av-state")).to_have_text("not connected")   # waits for Answer
        incident_id = int(page.locator("#detail").get_attribute("data-incident-id") or 0)

        # the venue's sign: fast blink once central has it (the LED pin goes on and off)
        wait_for(lambda: feedback.talk_stage == "received", what="talk_received at the venue")
        led = feedback.talk_led
        wait_for(lambda: led.is_lit, interval=0.01, what="talk LED on (blinking)")
        wait_for(lambda: not led.is_lit, interval=0.01, what="talk LED off (blinking)")
        assert rtc.answered == 0

        banner.get_by_role("button", name="Answer (video and open line)").click()
        moving = wait_for(lambda: frames_moving(page, incident_id), timeout=15,
                          interval=0.05, what="live frames after Answer")
        assert (moving["width"], moving["height"]) == (214, 120)   # 320x180 capped at 120
        expect(card.locator(".av-talk-request")).to_have_count(0)
        wait_for(lambda: (hz := rtc.heard_hz()) is not None and abs(hz - OFFICER_HZ) < 30,
                 timeout=10, what="the officer's voice at the venue (line open on Answer)")
        session = next(iter(rtc.sessions.values()))
        assert session.caps == (300, 120)
        # the evidence recording follows the caps too
        assert (session.recorder.video_size, session.recorder.kbps) == ((214, 120), 300)

        def encoder() -> Any:
            sender = next(t.sender for t in session.pc.getTransceivers() if t.kind == "video")
            return getattr(sender, "_RTCRtpSender__encoder", None)
        wait_for(lambda: isinstance(encoder(), CappedEncoder), what="the bitrate cap applied")
        assert encoder().target_bitrate <= 300_000
        wait_for(lambda: feedback.talk_stage == "answered", what="talk LED on: answered")
        assert led.is_lit

        # the request is on the incident, audited; a repeat of it changes nothing
        detail = central_process.api("GET", f"/api/incidents/{incident_id}")
        assert detail["incident"]["kinds"] == ["talk_request"]
        asked = [e for e in detail["log"] if e["action"] == "talk_request"]
        assert len(asked) == 1 and asked[0]["actor"] == "device:school-01"
        repeat = wire.RtcSignal(session_id=asked[0]["detail"]["request_id"],
                                kind=wire.RtcKind.TALK_REQUEST, ts=wire.utcnow(),
                                zone="gate-talk")
        sim.agent.link.publish_rtc(repeat)
        wait_for(lambda: live.talk_received == 2, what="the repeat answered")
        log = central_process.api("GET", f"/api/incidents/{incident_id}")["log"]
        assert len([e for e in log if e["action"] == "talk_request"]) == 1
        assert len(central_process.api("GET", "/api/incidents?category=alarm")) == 1
        assert len(central_process.rows("SELECT 1 FROM audit_log WHERE action = "
                                        "'av.talk_request'")) == 1

        card.get_by_role("button", name="Close video").click()
        wait_for(lambda: not rtc.sessions, what="the agent ended the session")
        wait_for(lambda: feedback.talk_stage == "idle" and not led.is_lit,
                 what="talk LED off after the session")

        # after a reload the answered request asks no more; a new press asks again
        page.reload()
        expect(page.locator("#conn")).to_have_class("conn up")
        page.locator("#queue li.incident.talk").click()
        expect(card.locator(".av-state")).to_have_text("not connected")
        expect(card.locator(".av-talk-request")).to_have_count(0)
        sim.ask_to_talk("gate-talk")
        expect(card.locator(".av-talk-request")).to_contain_text("venue requests talk")
