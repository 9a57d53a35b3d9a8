"""The duty console in headless Chromium: login, self-contained, live, actionable, logout."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from central_testkit import LiveServer, event_message, make_event
from fixtures.auth import TEST_PASSWORD, add_user
from fixtures.browser import console_login
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_console_logs_in_shows_a_new_alarm_live_acknowledges_it_and_logs_out(
        live_server: LiveServer, chromium_page: Page) -> None:
    page = chromium_page
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda ws: requested.append(ws.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/")
    expect(page.locator("#login")).to_be_visible()  # nobody logged in: the form only
    expect(page.locator("#app")).to_be_hidden()
    console_login(page, live_server.url, "officer-li", TEST_PASSWORD)
    expect(page.locator("#user-role")).to_have_text("系统管理员")
    expect(page.locator("#conn")).to_have_class("conn up")
    expect(page.locator("#station option")).to_have_count(3)  # all + two stations
    page.get_by_role("button", name="开启声音").click()  # browsers need a click for audio
    expect(page.locator("#sound")).to_have_text("声音已开")

    event = make_event("hotel-01", zone="corridor-3f-smoke", kind="smoke")
    live_server.service.ingestor.handle(*event_message(event))
    row = page.locator("#queue li.incident").first
    expect(row).to_contain_text("Riverside Hotel")
    expect(row).to_contain_text("corridor-3f-smoke")
    expect(row.locator(".status")).to_have_text("未确认")
    row.click()
    card = page.locator("#detail")

    card.get_by_role("button", name="确认").click()
    expect(row.locator(".status")).to_have_text("已确认")
    expect(card).to_contain_text("确认: officer-li")
    incident = live_server.service.db.execute(
        "SELECT status, acknowledged_by FROM incidents").fetchone()
    assert incident == ("acknowledged", "officer-li")

    # the incident's audit on its card: who acknowledged it, allowed
    card.locator(".incident-audit summary").click()
    acked = card.locator(".incident-audit li", has_text="incident.acknowledge")
    expect(acked).to_contain_text("officer-li (系统管理员)")
    expect(acked).to_contain_text("允许")

    card.locator("select.outcome").select_option("false_alarm")
    card.get_by_role("button", name="处置完毕").click()
    expect(page.locator("#queue li.incident")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()

    # the next alarm opens by itself: the resolved incident no longer holds the pane
    second = make_event("hotel-01", zone="corridor-3f-smoke", kind="smoke")
    live_server.service.ingestor.handle(*event_message(second))
    expect(page.locator("#queue li.incident")).to_have_count(1)
    newest = live_server.service.db.execute("SELECT max(id) FROM incidents").fetchone()[0]
    expect(card).to_have_attribute("data-incident-id", str(newest))

    assert errors == []
    hosts = {urlsplit(url).hostname for url in requested}
    assert hosts == {"127.0.0.1"}, f"requests left the machine: {requested}"
    assert any(url.startswith("ws://127.0.0.1") for url in requested)

    page.get_by_role("button", name="退出登录").click()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    ended = live_server.service.db.execute(
        "SELECT ended_reason FROM sessions WHERE ended_at IS NOT NULL").fetchall()
    assert ("logout",) in ended
    assert page.request.get(live_server.url + "/api/me").status == 401


def test_a_wrong_password_shows_the_chinese_error(live_server: LiveServer,
                                                  chromium_page: Page) -> None:
    page = chromium_page
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/")
    page.get_by_label("用户名").fill("officer-li")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    error = page.locator("#login-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("用户名或密码错误")
    expect(error).to_have_text("用户名或密码错误")
    expect(error).to_have_attribute("title", "wrong user name or password")
    expect(page.locator("#app")).to_be_hidden()


def test_a_duty_officer_sees_only_their_station_and_their_name(
        live_server: LiveServer, chromium_page: Page) -> None:
    add_user(live_server.service.config.db_path, "wang", "duty_officer", "station:dading",
             display_name="王警官")
    page = chromium_page
    page.set_default_timeout(10_000)
    console_login(page, live_server.url, "wang", TEST_PASSWORD)
    expect(page.locator("#user-name")).to_have_text("王警官")
    expect(page.locator("#user-role")).to_have_text("值班民警")
    expect(page.locator("#station option")).to_have_count(2)  # all + dading
    live_server.service.ingestor.handle(*event_message(make_event("hotel-01")))
    live_server.service.ingestor.handle(*event_message(make_event("village-01",
                                                                  zone="square-button")))
    expect(page.locator("#queue li.incident")).to_have_count(1)
    expect(page.locator("#queue li.incident").first).to_contain_text("square-button")
