"""The console's duty roster tab (值班表) and the escalation panel of an incident, in
headless Chromium against a real uvicorn serving central."""

from __future__ import annotations

import httpx
import pytest
from central_testkit import LiveServer, event_message, make_event
from fixtures.auth import TEST_PASSWORD, TEST_USER, add_user
from fixtures.browser import console_login
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_roster_tab_adds_shows_and_removes_a_shift(live_server: LiveServer,
                                                   chromium_page: Page) -> None:
    page = chromium_page
    page.set_default_timeout(10_000)
    db_path = live_server.service.config.db_path
    add_user(db_path, "officer-zhang", "duty_officer", "station:chengxiang", mobile="13900000001")
    console_login(page, live_server.url, TEST_USER, TEST_PASSWORD)
    page.locator("#station").select_option("chengxiang")
    page.locator("[data-tab=roster]").click()
    expect(page.locator("#roster-now li.none")).to_have_text(
        "当前无人值班：升级通知将跳过值班民警。")
    form = page.locator("#roster-form")
    form.get_by_label("值班人员账号").fill("officer-zhang")
    start = page.evaluate("(() => { const d = new Date(Date.now() - 3600e3);"
                          " d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
                          " return d.toISOString().slice(0, 16); })()")
    form.locator("input[name=starts]").fill(start)
    form.locator("input[name=hours]").fill("8")
    form.get_by_role("button", name="添加班次").click()
    expect(page.locator("#roster-now li.duty-officer .who")).to_have_text("officer-zhang")
    expect(page.locator("#roster-week .shift").first).to_contain_text("officer-zhang")
    on_duty = httpx.get(f"{live_server.url}/api/roster?station=chengxiang",
                        headers=live_server.headers).json()["on_duty"]
    assert [r["username"] for r in on_duty] == ["officer-zhang"]

    page.locator("#roster-week .shift button.remove").first.click()
    expect(page.locator("#roster-now li.none")).to_be_visible()
    assert httpx.get(f"{live_server.url}/api/roster?station=chengxiang",
                     headers=live_server.headers).json()["shifts"] == []


def test_incident_pane_shows_escalation_and_notify_119_with_the_countdown(
        live_server: LiveServer, chromium_page: Page) -> None:
    page = chromium_page
    page.set_default_timeout(10_000)
    live_server.service.ingestor.handle(*event_message(
        make_event("school-01", zone="gate-button", kind="fire")))
    console_login(page, live_server.url, TEST_USER, TEST_PASSWORD)
    page.locator("#queue li.incident").first.click()
    panel = page.locator("#detail .escalation")
    expect(panel.locator("h3")).to_have_text("升级通知")
    expect(panel.locator(".e-countdown")).to_contain_text("距 119/120 通知目标还剩")
    panel.get_by_role("button", name="通知119").click()
    expect(panel.locator(".e-result")).to_contain_text("已通知119")
    expect(panel.locator(".e-list li.notif .who").first).to_contain_text("119")
    incident = httpx.get(f"{live_server.url}/api/incidents",
                         headers=live_server.headers).json()[0]
    log = httpx.get(f"{live_server.url}/api/incidents/{incident['id']}",
                    headers=live_server.headers).json()["log"]
    entry = next(e for e in log if e["action"] == "notify_119")
    assert entry["actor"] == TEST_USER and 0 < entry["detail"]["countdown_s"] <= 120
    page.locator("#lang").click()
    expect(panel.get_by_role("button", name="Notify 119")).to_be_visible()
