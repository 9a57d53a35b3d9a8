"""Issue 15's remaining console pages, in headless Chromium against a real uvicorn serving
central: villages and their volunteer fire teams (a village assistant sees and edits only
their village), the station's checklists (editing stores a new version; past inspections
keep theirs), inspection plans (overdue counted and listed, a row linking to the phone
inspection form) and a hazard's inspection photos (thumbnails that enlarge)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import both_backends
import httpx
import pytest
from both_backends import sqlite_only
from central_testkit import LiveServer
from fixtures.auth import TEST_PASSWORD, ApiError
from fixtures.browser import console_login
from management_testkit import make_villages
from playwright.sync_api import Page, expect
from test_management_console import as_user, jpeg, relogin  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
M = "/api/management"
# storage on SQLite and PostgreSQL (tests/central/both_backends.py); sqlite_only: why not
backend, db_target = both_backends.backend, both_backends.db_target
central_config = both_backends.central_config


@sqlite_only("villages and teams run on both in test_management_org.py (browser time)")
def test_village_assistant_sees_and_edits_only_their_village_and_team(
        live_server: LiveServer, as_user: Callable[..., Any],  # noqa: F811
        chromium_page: Page) -> None:
    made = make_villages(as_user, live_server.service.config.db_target)
    team, other = made["team"], made["other"]
    # the API refuses the other village and its team to the assistant
    for method, path, body in (("GET", f"{M}/villages/v-02", None),
                               ("POST", f"{M}/teams/{other['id']}/members", {"name": "赵六"}),
                               ("POST", f"{M}/drills", {"kind": "patrol", "team": other["id"],
                                                        "held_at": "2026-03-02T09:00:00Z"})):
        with pytest.raises(ApiError) as refused:
            as_user("va-01", method, path, body)
        assert refused.value.code == 403
    assert [v["id"] for v in as_user("va-01", "GET", f"{M}/villages")] == ["v-01"]

    page = chromium_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "va-01", TEST_PASSWORD)
    expect(page.locator("#user-role")).to_have_text("村警务助理")
    expect(page.locator("[data-tab=mg-villages]")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#mg-village-list tbody tr")).to_have_count(1)   # only their village
    village = page.locator("#mg-village")
    expect(village.locator("h3")).to_have_text("东村")
    school = next(v["name"] for v in as_user("leader", "GET", f"{M}/venues")
                  if v["venue_id"] == "school-01")
    expect(village.locator(".m-chips li")).to_have_text(["一区", "二区", "va-01 13700000001",
                                                         school])
    expect(village.locator("tbody tr", has_text="东村村委会")).to_contain_text("李主任")
    box = village.locator(f".m-team[data-team='{team['id']}']")
    members = box.locator("table").first.locator("tbody tr")
    expect(members).to_have_count(2)
    expect(members.first).to_contain_text("张三")
    expect(box.locator("table").nth(1).locator("tbody tr")).to_contain_text("春季演练")

    add = box.locator("form.member-form")
    add.get_by_label("姓名").fill("赵六")
    add.get_by_label("电话").fill("13900000003")
    add.get_by_label("队内职务").fill("队员")
    add.get_by_role("button", name="添加队员").click()
    expect(members).to_have_count(3)
    row = members.nth(1)
    expect(row).to_contain_text("李四")
    row.get_by_role("button", name="修改").click()
    row.locator("input[name=role]").fill("副队长")
    row.get_by_role("button", name="保存").click()
    expect(members.filter(has_text="李四")).to_contain_text("副队长")
    page.once("dialog", lambda d: d.accept())
    members.filter(has_text="张三").get_by_role("button", name="删除").click()
    expect(members).to_have_count(2)
    drill = box.locator("form.drill-form")
    drill.get_by_label("类型").select_option("patrol")
    drill.get_by_label("参加人数").fill("6")
    drill.get_by_label("备注").fill("夜间防火巡查")
    drill.get_by_role("button", name="记录演练或巡查").click()
    expect(box.locator("table").nth(1).locator("tbody tr")).to_have_count(2)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390

    stored = as_user("leader", "GET", f"{M}/villages/v-01")["teams"][0]
    assert [(m["name"], m["phone"], m["role"]) for m in stored["members"]] == [
        ("李四", "13900000002", "副队长"), ("赵六", "13900000003", "队员")]
    assert [(d["kind"], d["participants"], d["notes"], d["created_by"])
            for d in stored["drills"]][0] == ("patrol", 6, "夜间防火巡查", "va-01")
    assert len(as_user("leader", "GET", f"{M}/villages/v-02")["teams"][0]["members"]) == 1


@sqlite_only("checklist versions run on both in test_management_org.py (browser time)")
def test_editing_a_checklist_stores_a_new_version_and_past_inspections_keep_theirs(
        live_server: LiveServer, as_user: Callable[..., Any],  # noqa: F811
        chromium_page: Page) -> None:
    inspect = lambda code: as_user("insp-a", "POST", f"{M}/inspections", {  # noqa: E731
        "venue": "school-01", "place": "教学楼", "inspectors": ["insp-a", "insp-b"],
        "inspected_at": datetime.now(UTC).isoformat(),
        "results": [{"code": code, "result": "pass"}]})
    before = inspect("exit-clear")
    page = chromium_page
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "leader", TEST_PASSWORD)
    page.locator("[data-tab=mg-checklists]").click()
    form = page.locator("#mg-checklist-form")
    form.get_by_label("场所类别").select_option("school")
    box = page.locator("#mg-checklist")
    expect(box.locator("h3")).to_have_text("第 1 版 · 初始检查表")
    expect(box.locator(".m-facts")).to_contain_text("已用于 1 次检查")
    first = box.locator("tbody tr").first
    expect(first.locator("td.col-rule")).to_have_text("《中华人民共和国消防法》第二十八条")
    box.get_by_role("button", name="修订检查表").click()
    editor = box.locator("form.m-checklist-editor")
    editor.locator(".m-item").first.locator("input.rule").fill("《中华人民共和国消防法》第二十八条、第六十条")
    editor.get_by_role("button", name="添加检查项目").click()
    added = editor.locator(".m-item").last
    added.locator("input.code").fill("kitchen-gas")
    added.locator("input.text").fill("食堂燃气管道无泄漏")
    added.locator("input.rule").fill("GB 50028《城镇燃气设计规范》")
    editor.get_by_role("button", name="保存为新版本").click()
    expect(page.locator("#mg-checklist-msg")).to_have_text(
        "已保存为第 2 版；此前的检查记录仍使用原版本")
    expect(box.locator("h3")).to_have_text("第 2 版 · 本所修订版")
    expect(box.locator(".m-facts")).to_contain_text("已用于 0 次检查")
    expect(box.locator(":scope > table tbody tr").last).to_contain_text("食堂燃气管道无泄漏")
    old = box.locator("details.m-old-version[data-version='1']")
    expect(old.locator("summary")).to_contain_text("已用于 1 次检查")

    after = inspect("kitchen-gas")   # the new item exists only in version 2
    versions = {v["version"]: v["id"] for v in as_user(
        "leader", "GET", f"{M}/checklists/versions?station=chengxiang&category=school")}
    assert as_user("leader", "GET", f"{M}/inspections/{before['id']}")["checklist_id"] == \
        versions[1]
    assert after["checklist_id"] == versions[2]
    page.locator("[data-tab=mg-plans]").click()
    page.locator("[data-tab=mg-checklists]").click()
    expect(box.locator(".m-facts")).to_contain_text("已用于 1 次检查")


def test_overdue_plans_are_counted_and_link_to_the_phone_inspection_form(
        live_server: LiveServer, as_user: Callable[..., Any],  # noqa: F811
        chromium_page: Page) -> None:
    as_user("insp-a", "POST", f"{M}/inspections", {
        "venue": "hotel-01", "place": "大堂", "inspectors": ["insp-a", "insp-b"],
        "inspected_at": (datetime.now(UTC) - timedelta(days=40)).isoformat(),
        "results": [{"code": "exit-clear", "result": "pass"}]})
    page = chromium_page
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "leader", TEST_PASSWORD)
    page.locator("[data-tab=mg-plans]").click()
    expect(page.locator("#mg-plan-count")).to_have_text("逾期未检查：0 处")
    form = page.locator("#mg-plan-form")
    for venue, days in (("hotel-01", "30"), ("school-01", "90")):
        form.get_by_label("场所").select_option(venue)
        form.get_by_label("检查周期").fill(days)
        form.get_by_label("检查民警账号").fill("insp-a，insp-b")
        form.get_by_role("button", name="保存计划").click()
        expect(page.locator(f"#mg-plan-list tbody tr[data-id='{venue}']")).to_be_visible()
    expect(page.locator("#mg-plan-count")).to_have_text("逾期未检查：1 处")
    plans = as_user("leader", "GET", f"{M}/plans")
    assert plans["overdue"] == 1
    assert {(p["venue_id"], p["every_days"], tuple(p["inspectors"]), p["overdue"])
            for p in plans["plans"]} == {("hotel-01", 30, ("insp-a", "insp-b"), True),
                                         ("school-01", 90, ("insp-a", "insp-b"), False)}
    expect(page.locator("#mg-plan-list tbody tr[data-id='hotel-01'] td.col-plan_state")
           ).to_have_text("已逾期")

    relogin(page, live_server.url, "insp-a")     # the inspector, on the phone
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("[data-tab=mg-plans]").click()
    overdue = page.locator("#mg-overdue-plans tbody tr")
    expect(overdue).to_have_count(1)
    expect(overdue.first).to_contain_text("insp-a、insp-b")
    expect(page.locator("#mg-plan-form")).to_be_hidden()    # plans are the leader's
    overdue.first.get_by_role("link", name="去检查").click()
    expect(page.locator("#tab-mg-inspect")).to_be_visible()
    expect(page.locator("#mg-inspect-form select[name=venue]")).to_have_value("hotel-01")
    expect(page.locator("#mg-items .m-item").first).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390


@sqlite_only("photos run on PostgreSQL in test_management_console.py (browser time)")
def test_a_hazard_shows_its_inspection_photos_which_enlarge(
        live_server: LiveServer, as_user: Callable[..., Any],  # noqa: F811
        chromium_page: Page) -> None:
    inspection = as_user("insp-a", "POST", f"{M}/inspections", {
        "venue": "school-01", "place": "宿舍楼", "inspectors": ["insp-a", "insp-b"],
        "inspected_at": datetime.now(UTC).isoformat(),
        "results": [{"code": "exit-clear", "result": "fail", "note": "安全出口上锁"}]})
    data = jpeg()
    headers = {**live_server.headers, "Content-Type": "image/jpeg"}
    photo = httpx.post(f"{live_server.url}{M}/photos?owner=inspection:{inspection['id']}",
                       content=data, headers=headers).json()
    hazard = inspection["hazards"][0]
    page = chromium_page
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "insp-b", TEST_PASSWORD)
    page.goto(f"{live_server.url}/#/hazard/{hazard}")
    thumbs = page.locator("#mg-hazard .m-photos img")
    expect(thumbs).to_have_count(1)
    assert thumbs.first.get_attribute("src") == f"{M}/photos/{photo['id']}"
    assert thumbs.first.evaluate("img => img.decode().then(() => img.naturalWidth)") == 64
    thumbs.first.click()
    big = page.locator("#mg-lightbox img")
    expect(page.locator("#mg-lightbox")).to_be_visible()
    assert big.get_attribute("src") == f"{M}/photos/{photo['id']}"
    page.locator("#mg-lightbox").get_by_role("button", name="关闭").click()
    expect(page.locator("#mg-lightbox")).to_be_hidden()
    # an evidence photo added on the hazard page joins them
    page.locator("#mg-hazard input.hazard-photo").set_input_files(
        {"name": "more.jpg", "mimeType": "image/jpeg", "buffer": data})
    expect(thumbs).to_have_count(2)
    expect(page.locator("#mg-hazard .m-step .m-action")).to_have_text(["发现隐患", "上传照片"])
    stored = as_user("leader", "GET", f"{M}/hazards/{hazard}")["photos"]
    assert [(p["owner"], p["uploaded_by"]) for p in stored] == [
        (f"inspection:{inspection['id']}", "officer-li"), (f"hazard:{hazard}", "insp-b")]
