"""Issue 15 in the console, in headless Chromium against a real uvicorn serving central:
the dashboard after the scenario script (line 1), the inspection form on a phone-sized
viewport with a camera photo (line 7), the venue manager's proof and the inspector's
re-inspection with the hazard's timeline (line 3), and every management page in zh-CN
by default (line 8)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import management_scenario
import pytest
from central_testkit import LiveServer
from fixtures.auth import TEST_PASSWORD, Session, add_user, api, login
from fixtures.browser import console_login
from PIL import Image
from playwright.sync_api import Page, expect
from test_console_language import ENGLISH_WORD, ID_LIKE, TEXTS

pytestmark = pytest.mark.browser
M = "/api/management"
USERS = {**management_scenario.USERS, "mgr-school": ("venue_manager", "venue:school-01")}


@pytest.fixture
def as_user(live_server: LiveServer) -> Callable[..., Any]:
    """``as_user(user, method, path, body)``: the JSON answer, as that user (logged in once)."""
    for username, (role, node) in USERS.items():
        add_user(live_server.service.config.db_path, username, role, node)
    sessions: dict[str, Session] = {}

    def call(user: str, method: str, path: str, body: Any = None) -> Any:
        if user not in sessions:
            sessions[user] = login(live_server.url, user)
        return api(live_server.url, sessions[user], method, path, body)
    return call


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def test_dashboard_shows_the_scenarios_figures_and_each_links_its_records(
        live_server: LiveServer, as_user: Callable[..., Any], chromium_page: Page) -> None:
    done = management_scenario.run(as_user, datetime.now(UTC) - timedelta(hours=5))
    page = chromium_page
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "leader", TEST_PASSWORD)
    page.locator("[data-tab=mg-dash]").click()
    form = page.locator("#mg-dash-form")
    day = "(d) => new Date(Date.now() + d * 864e5).toLocaleDateString('sv-SE')"
    form.locator("input[name=since]").fill(page.evaluate(day, -2))
    form.locator("input[name=until]").fill(page.evaluate(day, 1))
    form.get_by_role("button", name="统计").click()
    for figure, count in management_scenario.FIGURES.items():
        expect(page.locator(f".m-figure[data-figure={figure}] .n")).to_have_text(str(count))
    assert page.locator(".m-figure[data-figure=hazards_found] .l").inner_text() == "发现火灾隐患"

    page.locator(".m-figure[data-figure=hazards_found]").click()
    rows = page.locator("#mg-records tbody tr")
    expect(rows).to_have_count(112)
    listed = sorted(int(i) for i in rows.evaluate_all("rs => rs.map(r => r.dataset.id)"))
    assert listed == sorted(done.hazards)
    page.locator(".m-figure[data-figure=penalty_cases]").click()
    expect(rows).to_have_count(12)
    expect(page.locator("#mg-records-title")).to_contain_text("行政处罚案件")
    csv = httpx.get(live_server.url + page.locator("#mg-records-csv").get_attribute("href"),
                    headers=live_server.headers)
    assert len(csv.text.strip().splitlines()) == 13
    # a record of a figure opens: a notice, with its PDF link
    page.locator(".m-figure[data-figure=notices_issued]").click()
    expect(rows).to_have_count(109)
    rows.first.click()
    expect(page.locator("#mg-notice h3")).to_contain_text(done.notices[0]["number"])
    pdf = page.locator("#mg-notice a.m-pdf").get_attribute("href")
    assert pdf == f"{M}/notices/{done.notices[0]['id']}/pdf"


def test_inspection_form_on_a_phone_with_a_camera_photo_and_two_signatures(
        live_server: LiveServer, as_user: Callable[..., Any], chromium_page: Page) -> None:
    page = chromium_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_default_timeout(15_000)
    width = "document.scrollingElement.scrollWidth"
    console_login(page, live_server.url, "insp-a", TEST_PASSWORD)
    expect(page.locator("[data-tab=queue]")).to_be_hidden()   # no alarm queue for inspectors
    page.locator("[data-tab=mg-inspect]").click()
    form = page.locator("#mg-inspect-form")
    form.get_by_label("检查场所").select_option("school-01")
    items = form.locator(".m-item")
    expect(items.first).to_be_visible()
    assert page.evaluate(width) <= 390
    first = items.first
    code = first.get_attribute("data-code")
    first.locator("select.result").select_option("fail")
    first.locator("select.severity").select_option("major")
    first.locator("input.note").fill("疏散通道堆放杂物")
    form.get_by_label("同行检查人账号").fill("insp-b")
    form.get_by_label("检查记录").fill("现场责令清理")
    photo = form.locator("input[type=file]")
    assert photo.get_attribute("accept") == "image/*"
    assert photo.get_attribute("capture") == "environment"
    data = jpeg()
    photo.set_input_files({"name": "site.jpg", "mimeType": "image/jpeg", "buffer": data})
    form.get_by_role("button", name="提交检查记录").click()
    msg = page.locator("#mg-inspect-msg")
    expect(msg).to_contain_text("检查记录已保存")
    expect(msg).to_contain_text("照片 1 张")
    assert page.evaluate(width) <= 390
    inspection_id = int(msg.get_attribute("data-inspection-id") or 0)

    record = as_user("leader", "GET", f"{M}/inspections/{inspection_id}")
    assert record["venue_id"] == "school-01" and record["inspectors"] == ["insp-a", "insp-b"]
    assert record["notes"] == "现场责令清理"
    failed = [r for r in record["results"] if r["result"] == "fail"]
    assert failed == [{"code": code, "result": "fail", "note": "疏散通道堆放杂物",
                       "severity": "major", "location": ""}]
    assert [s["username"] for s in record["signatures"]] == ["insp-a"]
    assert len(record["photos"]) == 1
    stored = httpx.get(f"{live_server.url}{M}/photos/{record['photos'][0]}",
                       headers=live_server.headers)
    assert stored.content == data and stored.headers["content-type"] == "image/jpeg"
    hazards = as_user("leader", "GET", f"{M}/hazards")
    assert [(h["severity"], h["description"]) for h in hazards
            if h["inspection_id"] == inspection_id] == [("major", "疏散通道堆放杂物")]

    # the second inspector signs on their phone
    page.locator("#logout").click()
    console_login(page, live_server.url, "insp-b", TEST_PASSWORD)
    page.locator("[data-tab=mg-inspect]").click()
    waiting = page.locator(f"#mg-waiting li[data-id='{inspection_id}']")
    waiting.get_by_role("button", name="确认签名").click()
    expect(waiting).to_have_count(0)
    assert page.evaluate(width) <= 390
    signed = as_user("leader", "GET", f"{M}/inspections/{inspection_id}")["signatures"]
    assert sorted(s["username"] for s in signed) == ["insp-a", "insp-b"]
