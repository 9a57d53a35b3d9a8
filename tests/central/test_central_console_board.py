"""The console in headless Chromium: device troubles in their own list with their own
sound, apart from alarms, and the device board (state, class, clock skew)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from central_testkit import DEMO_REGISTRY, TOPICS, LiveServer, event_message, make_event
from fixtures.auth import TEST_PASSWORD, TEST_USER
from fixtures.browser import console_login
from playwright.sync_api import Page, expect

from alarmlink.wire import Heartbeat, Status, encode, utcnow
from central.config import CentralConfig
from central.supervision_config import SupervisionConfig

pytestmark = pytest.mark.browser
#: A class with no grace, so the trouble follows the last will within one check.
QUICK = {"bound_s": 60, "heartbeat_s": 15, "silence_s": 31, "grace_s": 0}


@pytest.fixture
def central_config(db_path: Path) -> CentralConfig:
    """The demo registry with every device in the QUICK class, checked twice a second."""
    supervision = SupervisionConfig.model_validate(
        {"check_interval_s": 0.5, "default_class": "quick", "classes": {"quick": QUICK}})
    return CentralConfig(db=db_path, registry=DEMO_REGISTRY, supervision=supervision)


def test_device_trouble_has_its_own_list_and_sound_and_the_board_shows_devices(
        live_server: LiveServer, chromium_page: Page) -> None:
    ingest = live_server.service.ingestor.handle
    page = chromium_page
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(10_000)
    console_login(page, live_server.url, TEST_USER, TEST_PASSWORD)
    expect(page.locator("#conn")).to_have_class("conn up")
    page.locator("#sound").click()

    for device in ("school-01", "hotel-01"):
        ingest(TOPICS.status(device), encode(Status(state="online", ts=utcnow())))
    skew = utcnow() + timedelta(minutes=5)  # school-01's clock runs 5 minutes ahead
    ingest(TOPICS.heartbeat("school-01"), encode(Heartbeat(ts=skew, uptime_s=1, outbox_depth=0)))
    ingest(TOPICS.heartbeat("hotel-01"),
           encode(Heartbeat(ts=utcnow(), uptime_s=1, outbox_depth=0)))
    page.reload()  # the board loads at once (then every 5 s)
    page.locator("[data-tab=devices]").click()
    school = page.locator("#devices tr[data-device-id='school-01']")
    expect(school).to_contain_text("在线")
    expect(school.locator(".clock-skewed")).to_contain_text("时钟偏差")
    expect(page.locator("#devices tr[data-device-id='village-01']")).to_contain_text(
        "从未连接")
    page.locator("#sound").click()

    ingest(TOPICS.status("hotel-01"), encode(Status(state="offline", ts=utcnow())))
    trouble = page.locator("#troubles li.incident")
    expect(trouble).to_contain_text("device:hotel-01 (离线)")
    expect(trouble).to_contain_text("设备离线")
    expect(page.locator("#queue li.incident")).to_have_count(0)  # troubles apart from alarms
    expect(page.locator("body")).to_have_attribute("data-last-sound", "trouble")
    hotel = page.locator("#devices tr[data-device-id='hotel-01']")
    expect(hotel).to_contain_text("离线")

    ingest(*event_message(make_event("school-01", zone="gate-button")))
    expect(page.locator("#queue li.incident")).to_contain_text("gate-button (报警)")
    expect(page.locator("body")).to_have_attribute("data-last-sound", "alarm")
    expect(page.locator("#troubles li.incident")).to_have_count(1)

    ingest(TOPICS.status("hotel-01"), encode(Status(state="online", ts=utcnow())))
    expect(trouble).to_contain_text("device:hotel-01 (已恢复)")
    expect(hotel).to_contain_text("在线")

    assert errors == []
    assert {urlsplit(url).hostname for url in requested} == {"127.0.0.1"}
