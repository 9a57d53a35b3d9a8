"""The console's incident card in headless Chromium: filmstrip with pre-alarm, alarm and
post-alarm frames and their times; "Live view" updates it; nothing leaves the origin."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from camera_testkit import camera_venue
from e2e.harness import CentralProcess
from helpers import wait_for
from playwright.sync_api import expect, sync_playwright

from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def test_filmstrip_shows_the_alarm_frames_and_the_live_view(
        mosquitto: MosquittoBroker, central: CentralProcess, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium)")
    config = camera_venue(mosquitto, tmp_path / "agent")
    with VenueSimulator(config, out=None) as sim, sync_playwright() as playwright:
        camera = sim.agent.camera
        assert camera is not None
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            requested: list[str] = []
            errors: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(10_000)
            page.goto(central.url + "/")
            expect(page.locator("#conn")).to_have_text("live")
            page.fill("#officer", "officer-li")
            wait_for(lambda: sim.agent.connected and camera.frames_captured >= 2,
                     what="agent connected with pre-alarm frames")
            sim.press("gate-button")

            strip = page.locator("li.incident .filmstrip")
            expect(strip.locator(".frame.phase-alarm")).to_have_count(1)
            expect(strip.locator(".frame.phase-pre").first).to_be_visible()
            expect(strip.locator(".frame.phase-post")).to_have_count(2)
            expect(strip.locator("figcaption")).to_contain_text("ALARM")
            expect(strip.locator(".frame.phase-alarm .ftime")).to_have_text(
                re.compile(r"^\d\d:\d\d:\d\d\.\d$"))
            page.wait_for_function(
                "document.querySelector('.filmstrip img.current').naturalWidth === 640")

            strip.get_by_role("button", name="Live view").click()
            expect(strip.locator(".live-state")).to_contain_text("LIVE until")
            expect(strip.locator(".frame.phase-live").first).to_be_visible()
            expect(strip.locator("figcaption")).to_contain_text("live")
            strip.get_by_role("button", name="Snapshot now").click()
            strip.get_by_role("button", name="Stop live").click()
            expect(strip.locator(".live-state")).to_have_count(0)
            expect(page.locator("#error")).to_be_hidden()
            page.screenshot(path=str(tmp_path / "filmstrip.png"))
        finally:
            browser.close()
    assert not errors, errors
    origin = urlsplit(central.url).netloc
    assert {urlsplit(u).netloc for u in requested if u.startswith("http")} == {origin}
