"""Issue 18: live audio and video from the venue to the duty console (WebRTC, aiortc on
the agent, signalling relayed by central), in a headless Chromium with fake media
devices, against a real central, a real broker and a simulated venue.

Lines of the issue: 1 (the video of a new alarm opens by itself and plays; its 3 s is
measured by ``bench/live_open.py``, not asserted here), 2 (tones both ways,
by frequency), 3 (the session is recorded at central: on the timeline with the officer
who opened it and spoke, the file's SHA-256 equals the recorded hash, the console
verifies the hash and plays it; another station's officer gets 403), 4 (host
candidates on the station network only, no request leaves the origin), 5 (another
station: 403, no signalling), 6 (agent killed: "video lost" and a trouble; restarted:
reopen works).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import numpy as np
import pytest
from av_testkit import (
    HEARD_HZ,
    OFFICER_HZ,
    VENUE_HZ,
    candidate_addresses,
    fake_media_browser,
    on_station_network,
    read_clock,
    tone_wav,
)
from e2e.harness import button_only, write_agent_config
from fixtures.auth import TEST_PASSWORD, TEST_USER, ApiError
from fixtures.browser import console_login
from fixtures.central import ALARMLINK, CentralProcess
from helpers import wait_for
from playwright.sync_api import Browser, Page, Route, expect

from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

pytestmark = pytest.mark.browser

RTC = {"width": 320, "height": 180, "fps": 10, "tone_hz": VENUE_HZ}


@pytest.fixture
def av_page(chromium: Browser, tmp_path: Path) -> Page:
    browser = fake_media_browser(chromium, tone_wav(tmp_path / "officer.wav", OFFICER_HZ))
    try:
        page = browser.new_context().new_page()
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.set_default_timeout(10_000)
        yield page
    finally:
        browser.close()


def frames_moving(page: Page, incident_id: int) -> dict[str, int] | None:
    """Two reads of the burnt-in clock that differ: the video is playing."""
    first = read_clock(page, incident_id)
    if first is None:
        return None
    page.wait_for_timeout(150)
    second = read_clock(page, incident_id)
    return second if second is not None and second["clock"] != first["clock"] else None


def recorded_tones(media: bytes) -> set[float]:
    """The recording has video, and which of the two test tones its audio carries: a
    tone counts when some 0.1 s of the audio has it at 5 % of the loudest tone's level or
    more (the officer's, after the browser's processing, is about 18 % of the venue's;
    without it, below 0.1 %)."""
    with av.open(io.BytesIO(media)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
        rate = container.streams.audio[0].rate
    step = rate // 10   # 0.1 s: 10 Hz bins, both tones on a bin
    frames = samples[:samples.size // step * step].reshape(-1, step)
    spectra = np.abs(np.fft.rfft(frames * np.hanning(step), axis=1))
    level = {hz: spectra[:, round(hz / 10)] for hz in (VENUE_HZ, OFFICER_HZ)}
    loudest = max(float(v.max()) for v in level.values())
    return {hz for hz, v in level.items() if v.max() > 0.05 * loudest}


def missing_recording(av_log: list[dict[str, Any]], rtc: Any, central: CentralProcess,
                      caplog: pytest.LogCaptureFixture) -> str:
    """What each side knows of a recording that never reached the timeline."""
    uploads = rtc.uploads
    said = [line for line in central.log.read_text(errors="replace").splitlines()
            if "recording" in line or "rtc" in line or " av" in line]
    stored = [dict(row) for row in central.rows("SELECT * FROM av_recordings")]
    stored += [dict(row) for row in central.rows("SELECT topic, reason FROM dead_letters")]
    return (f"seen: {sorted(e['action'] for e in av_log)}; agent pending: "
            f"{uploads and uploads.pending()}, chunks sent: {uploads and uploads.sent_chunks}, "
            f"sessions: {list(rtc.sessions)}; at central: {stored}; central said: "
            f"{said[-20:]}; agent said: {[r.getMessage() for r in caplog.records][-30:]}")


def test_live_video_and_talk_on_a_new_alarm(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, av_page: Page,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent.rtc")
    page = av_page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    config = button_only("school", fresh_mosquitto, tmp_path / "agent", rtc=RTC)
    with VenueSimulator(config, out=None) as sim:
        rtc = sim.agent.live.rtc
        assert rtc is not None
        console_login(page, central_process.url, TEST_USER, TEST_PASSWORD)
        expect(page.locator("#conn")).to_have_class("conn up")
        page.locator("#lang").click()
        wait_for(lambda: sim.agent.connected, what="agent connected")

        # 5. Another station's officer: 403, and the agent is never asked.
        central_process.add_user("zhao-b", "duty_officer", "station:dading")
        other = central_process.login("zhao-b")
        sim.press("gate-button")
        pressed = time.monotonic()

        # 1. The new alarm opens by itself and its live video plays, nobody clicking.
        # Liveness only: the 3 s of the issue is a speed figure, measured against a
        # baseline by bench/live_open.py (README "Figures"), not asserted on this shared
        # machine; the generous bound only catches a video that never starts.
        card = page.locator("#detail .av-live")
        incident_id = int(page.locator("#detail").get_attribute("data-incident-id")
                          or wait_for(lambda: page.locator("#detail").get_attribute(
                              "data-incident-id"), timeout=20, what="the alarm opened"))
        moving = wait_for(lambda: frames_moving(page, incident_id), timeout=20,
                          interval=0.05, what="live frames changing")
        print(f"live video playing {time.monotonic() - pressed:.2f} s after the press "
              "(figure: bench/live_open.py)")
        assert moving["width"] == RTC["width"]
        expect(card.locator(".av-state")).to_have_text("LIVE")

        with pytest.raises(ApiError) as refused:
            central_process.api("POST", f"/api/incidents/{incident_id}/av",
                                {"sdp": "v=0\r\n" + "x" * 20}, session=other)
        assert refused.value.code == 403
        assert rtc.answered == 1

        # 2. The venue's tone reaches the browser; the officer's microphone (open line)
        # reaches the venue's speaker.
        heard = wait_for(lambda: abs(page.evaluate(HEARD_HZ, incident_id) - VENUE_HZ) < 30,
                         timeout=10, what=f"the venue's {VENUE_HZ} Hz tone in the browser")
        assert heard
        assert rtc.heard_hz() is None or abs(rtc.heard_hz() - OFFICER_HZ) > 30  # muted
        card.get_by_role("button", name="Open line").click()
        wait_for(lambda: (hz := rtc.heard_hz()) is not None and abs(hz - OFFICER_HZ) < 30,
                 timeout=10, what=f"the officer's {OFFICER_HZ} Hz tone at the venue")
        wait_for(lambda: any(s.recorder is not None and s.recorder.spoke_s > 0.5
                             for s in list(rtc.sessions.values())),
                 timeout=10, what="the officer's voice taken by the session's recorder")

        # 4. Only host candidates on the station network, both ways; no request leaves
        # central's origin.
        session = page.evaluate("(id) => { const s = window.alarmlink.av.get(id); return "
                                "{offer: s.pc.localDescription.sdp, answer: s.answerSdp}; }",
                                incident_id)
        for side in ("offer", "answer"):
            candidates = candidate_addresses(session[side])
            assert candidates, f"no ICE candidates in the {side}"
            assert all(kind == "host" for _, kind in candidates), candidates
            assert all(on_station_network(address) for address, _ in candidates), candidates
        origin = urlsplit(central_process.url).netloc
        assert {urlsplit(u).netloc for u in requested if u.startswith("http")} == {origin}

        # 3. The timeline names the officer who opened it.
        log = central_process.api("GET", f"/api/incidents/{incident_id}")["log"]
        opened = [e for e in log if e["action"] == "av_open"]
        assert opened and opened[0]["actor"] == TEST_USER
        # 3. The close is the officer's: the browser keeps its connection until central
        # has ended the session. (Closed first, the agent would see its peer go and end
        # the session itself, and the officer's close would come too late.) The close
        # request is held here to show it.
        held: list[Route] = []
        page.route("**/api/av/*/close", lambda route: held.append(route))
        card.get_by_role("button", name="Close video").click()
        wait_for(lambda: page.evaluate("1") and held, what="the close request sent")
        page.wait_for_timeout(500)   # a window for a wrong early close to show
        assert rtc.sessions, "the browser closed its connection before central's answer"
        held[0].continue_()
        wait_for(lambda: page.evaluate("1") and not rtc.sessions,
                 what="the agent ended the session")

        def av_log() -> list[dict[str, Any]]:
            return [e for e in central_process.api("GET", f"/api/incidents/{incident_id}")
                    ["log"] if e["action"].startswith("av_")]
        # 3. The agent uploads the recording after the session; central verifies it.
        # (On a timeout the failure says what each side knows of the recording.)
        try:
            wait_for(lambda: {"av_close", "av_recording"} <= {e["action"] for e in av_log()},
                     timeout=60, what="av_close and the session's recording on the timeline")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: " + missing_recording(
                av_log(), rtc, central_process, caplog)) from None
        wait_for(lambda: not rtc.uploads.pending(), what="the agent's copy deleted")
    entries = av_log()
    assert sorted(e["action"] for e in entries) == ["av_close", "av_open", "av_recording"]
    closed = next(e for e in entries if e["action"] == "av_close")
    assert (closed["actor"], closed["detail"]["reason"]) == (TEST_USER,
                                                             f"closed by {TEST_USER}")
    recorded = next(e for e in entries if e["action"] == "av_recording")
    assert recorded["actor"] == TEST_USER
    detail = recorded["detail"]
    assert detail["watched_by"] == TEST_USER and detail["spoke_by"] == TEST_USER
    assert detail["session_id"] == opened[0]["detail"]["session_id"]
    with central_process.open(detail["url"]) as response:
        media = response.read()
        assert response.headers["X-Content-SHA256"] == detail["sha256"]
    assert len(media) == detail["size"] and media[:4] == b"\x1aE\xdf\xa3"   # EBML (WebM)
    assert hashlib.sha256(media).hexdigest() == detail["sha256"]
    assert recorded_tones(media) == {VENUE_HZ, OFFICER_HZ}   # both directions, mixed
    chain = central_process.rows("SELECT detail FROM audit_log WHERE action = 'av.recording'")
    assert len(chain) == 1 and detail["sha256"] in chain[0]["detail"]
    with pytest.raises(ApiError) as refused:
        central_process.api("GET", detail["url"], session=other)
    assert refused.value.code == 403

    # ... and the console checks the hash of the bytes it got, then plays them.
    recordings = page.locator("#detail .av-recordings")
    expect(recordings.locator(".rec-hash")).to_have_text("hash verified", timeout=15_000)
    expect(recordings.locator(".rec-sha")).to_have_text(detail["sha256"])
    player = recordings.locator("video.rec-player")
    player.evaluate("(v) => { v.muted = true; return v.play(); }")
    wait_for(lambda: player.evaluate("(v) => v.currentTime") > 0.3, timeout=10,
             what="the recording playing in the console")
    assert player.evaluate("(v) => v.duration") > 0.5


def test_agent_killed_mid_session_shows_video_lost_and_reopens(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, av_page: Page,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent.rtc")
    page = av_page
    config = button_only("school", fresh_mosquitto, tmp_path / "agent", rtc=RTC,
                         **{"broker.keepalive_s": 5})
    with VenueSimulator(config, out=None) as sim:   # raises the alarm, then goes away
        wait_for(lambda: sim.agent.connected, what="agent connected")
        sim.press("gate-button")
        wait_for(lambda: central_process.api("GET", "/api/incidents?category=alarm"),
                 what="the alarm incident")
    toml = write_agent_config(config, tmp_path / "school.toml")

    def run_agent() -> subprocess.Popen[bytes]:
        log = open(tmp_path / "agent.log", "ab")  # noqa: SIM115 - the child's
        proc = subprocess.Popen([*ALARMLINK, "agent", "run", "--config", str(toml)],
                                env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return proc

    def back_online(boot: str) -> None:
        wait_for(lambda: central_process.rows(
            "SELECT 1 FROM device_state WHERE device_id = 'school-01' AND availability = "
            "'online' AND boot_id != ?", (boot,)), timeout=20, what="the agent online")

    boot = central_process.rows("SELECT boot_id FROM device_state WHERE device_id = "
                                "'school-01'")[0]["boot_id"]
    agent = run_agent()
    try:
        back_online(boot)
        console_login(page, central_process.url, TEST_USER, TEST_PASSWORD)
        page.locator("#lang").click()
        page.locator("#queue li.incident").first.click()
        card = page.locator("#detail .av-live")
        # the alarm is not acknowledged yet: its video opens by itself
        expect(card.locator(".av-state")).to_have_text("LIVE", timeout=15_000)
        incident_id = int(page.locator("#detail").get_attribute("data-incident-id") or 0)
        wait_for(lambda: frames_moving(page, incident_id), what="live frames")

        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        expect(card.locator(".av-state")).to_have_text("video lost", timeout=20_000)
        # within the standard class's bound (60 s from the loss): by the last will after
        # the broker's keepalive, or by silence when the will counts as doubtful
        wait_for(lambda: central_process.api("GET", "/api/incidents?category=trouble"),
                 timeout=60, what="a trouble for the dead agent")

        boot = central_process.rows("SELECT boot_id FROM device_state WHERE device_id = "
                                    "'school-01'")[0]["boot_id"]
        agent = run_agent()
        back_online(boot)
        # 3. The killed session's unfinished recording is kept: uploaded after the restart.
        recorded = wait_for(lambda: [e for e in central_process.api(
            "GET", f"/api/incidents/{incident_id}")["log"] if e["action"] == "av_recording"],
            timeout=20, what="the killed session's recording on the timeline")
        assert recorded[0]["detail"]["watched_by"] == TEST_USER
        with central_process.open(recorded[0]["detail"]["url"]) as response:
            media = response.read()
        assert hashlib.sha256(media).hexdigest() == recorded[0]["detail"]["sha256"]
        card.get_by_role("button", name="Reopen video").click()
        expect(card.locator(".av-state")).to_have_text("LIVE", timeout=15_000)
        wait_for(lambda: frames_moving(page, incident_id), what="live frames again")
        # the lost session is closed on the timeline (the killed agent could not say so)
        closes = wait_for(lambda: [(e["actor"], e["detail"]["session_id"]) for e in (
            central_process.api("GET", f"/api/incidents/{incident_id}")["log"])
            if e["action"] == "av_close"], what="the lost session closed")
        assert closes == [(TEST_USER, recorded[0]["detail"]["session_id"])]
    finally:
        if agent.poll() is None:
            agent.kill()
        agent.wait(10)
