"""The console's incident card in headless Chromium: filmstrip with pre-alarm, alarm and
post-alarm frames and their times; "Live view" updates it; new frames come pushed over
the WebSocket (the snapshot list is read once, not polled); nothing leaves the origin."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from camera_testkit import camera_venue
from fixtures.auth import TEST_PASSWORD, TEST_USER
from fixtures.browser import console_login
from fixtures.central import CentralProcess
from helpers import wait_for
from playwright.sync_api import Page, expect

from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

pytestmark = pytest.mark.browser


def test_filmstrip_shows_the_alarm_frames_and_the_live_view(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, chromium_page: Page,
        tmp_path: Path) -> None:
    config = camera_venue(fresh_mosquitto, tmp_path / "agent")
    with VenueSimulator(config, out=None) as sim:
        camera = sim.agent.camera
        assert camera is not None
        page = chromium_page
        page.set_viewport_size({"width": 1280, "height": 1000})
        requested: list[str] = []
        errors: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(10_000)
        console_login(page, central_process.url, TEST_USER, TEST_PASSWORD)
        expect(page.locator("#conn")).to_have_class("conn up")
        page.locator("#lang").click()   # the English labels below
        wait_for(lambda: sim.agent.connected and camera.frames_captured >= 2,
                 what="agent connected with pre-alarm frames")
        sim.press("gate-button")

        page.locator("#queue li.incident").first.click()   # the detail pane holds the strip
        strip = page.locator("#detail .filmstrip")
        expect(strip.locator(".frame.phase-alarm")).to_have_count(1)
        expect(strip.locator(".frame.phase-pre").first).to_be_visible()
        expect(strip.locator(".frame.phase-post")).to_have_count(2)
        expect(strip.locator("figcaption")).to_contain_text("ALARM")
        expect(strip.locator(".frame.phase-alarm .ftime")).to_have_text(
            re.compile(r"^\d\d:\d\d:\d\d\.\d$"))
        # polled from here: wait_for_function's repeated checks run through eval in the
        # page, which the console's CSP (script-src 'self') refuses once a check is false
        wait_for(lambda: page.evaluate(
            "document.querySelector('.filmstrip img.current')?.naturalWidth") == 640,
            timeout=10, what="the current frame loaded at 640 px")

        lists = [u for u in requested if "/snapshots?since_id=" in u]
        strip.get_by_role("button", name="Live view").click()
        expect(strip.locator(".live-state")).to_contain_text("LIVE until")
        expect(strip.locator(".frame.phase-live")).to_have_count(2)   # two pushed frames
        # pushed over the WebSocket: no list request since the card first loaded
        assert [u for u in requested if "/snapshots?since_id=" in u] == lists
        assert len(lists) <= 2, lists
        expect(strip.locator("figcaption")).to_contain_text("live")
        strip.get_by_role("button", name="Snapshot now").click()
        strip.get_by_role("button", name="Stop live").click()
        expect(strip.locator(".live-state")).to_have_count(0)
        expect(page.locator("#error")).to_be_hidden()
        page.screenshot(path=str(tmp_path / "filmstrip.png"))
    assert not errors, errors
    origin = urlsplit(central_process.url).netloc
    assert {urlsplit(u).netloc for u in requested if u.startswith("http")} == {origin}
