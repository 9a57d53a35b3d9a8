"""The duty console in headless Chromium: self-contained, live, and actionable."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from central_testkit import LiveServer, event_message, make_event
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_console_shows_a_new_alarm_live_and_acknowledges_it(
        live_server: LiveServer, chromium_page: Page) -> None:
    page = chromium_page
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda ws: requested.append(ws.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/")
    expect(page.locator("#conn")).to_have_text("live")
    expect(page.locator("#station option")).to_have_count(3)  # all + two stations
    page.fill("#officer", "officer-li")
    page.get_by_role("button", name="Enable sound").click()  # browsers need a click for audio
    expect(page.locator("#sound")).to_have_text("Sound on")

    event = make_event("hotel-01", zone="corridor-3f-smoke", kind="smoke")
    live_server.service.ingestor.handle(*event_message(event))
    card = page.locator("li.incident").first
    expect(card).to_contain_text("Riverside Hotel")
    expect(card).to_contain_text("corridor-3f-smoke")
    expect(card.locator(".status")).to_have_text("new")

    card.get_by_role("button", name="Acknowledge").click()
    expect(card.locator(".status")).to_have_text("acknowledged")
    expect(card).to_contain_text("acknowledged by officer-li")
    incident = live_server.service.db.execute(
        "SELECT status, acknowledged_by FROM incidents").fetchone()
    assert incident == ("acknowledged", "officer-li")

    card.locator("select.outcome").select_option("false_alarm")
    card.get_by_role("button", name="Resolve").click()
    expect(page.locator("li.incident")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()

    assert errors == []
    hosts = {urlsplit(url).hostname for url in requested}
    assert hosts == {"127.0.0.1"}, f"requests left the machine: {requested}"
    assert any(url.startswith("ws://127.0.0.1") for url in requested)
    assert page.evaluate("localStorage.getItem('alarmlink.officer')") == "officer-li"
