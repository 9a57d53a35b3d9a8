"""The duty console shows a banner for a venue in a walk test (headless Chromium)."""

from __future__ import annotations

import httpx
import pytest
from central_testkit import LiveServer
from fixtures.auth import TEST_PASSWORD, TEST_USER
from fixtures.browser import console_login
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_banner_appears_for_a_running_walk_test(live_server: LiveServer,
                                                chromium_page: Page) -> None:
    page = chromium_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith(("/favicon.ico", "/api/me"))
            else None)  # (the first /api/me before login is the login form's 401)
    page.set_default_timeout(10_000)
    resp = httpx.post(f"{live_server.url}/api/devices/hotel-01/commissioning",
                      json={"action": "start", "reason": "更换三楼烟感", "duration_s": 1800},
                      headers=live_server.headers)
    assert resp.status_code == 200, resp.text
    console_login(page, live_server.url, TEST_USER, TEST_PASSWORD)
    banner = page.locator("#walktests .walktest")
    expect(banner).to_have_count(1)
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-venue", "hotel-01")
    (active,) = httpx.get(f"{live_server.url}/api/commissioning/active",
                         headers=live_server.headers).json()
    expect(banner.locator(".walktest-text")).to_have_text(
        f"调试测试中：报警记为测试。原因：更换三楼烟感，至 {active['ends_at_local']}"
        f"（设备 hotel-01，{active['started_by']} 发起）")
    page.locator("#lang").click()
    expect(banner.locator(".walktest-text")).to_contain_text("Walk test running")
    page.locator("#lang").click()
    expect(banner).to_contain_text("Riverside Hotel")
    # a banner styled by the stylesheet walktest.js loads (no inline styles)
    assert page.evaluate("getComputedStyle(document.querySelector('.walktest'))"
                         ".borderTopStyle") == "solid"

    # stopping the walk test removes the banner (on the next poll or a station change)
    httpx.post(f"{live_server.url}/api/devices/hotel-01/commissioning",
               json={"action": "stop"}, headers=live_server.headers).raise_for_status()
    page.reload()
    expect(page.locator("#walktests")).to_be_hidden()
    assert errors == []
