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

import both_backends
import httpx
import management_scenario
import pytest
from both_backends import sqlite_only
from central_testkit import LiveServer, event_message, make_event
from fixtures.auth import TEST_PASSWORD, Session, add_user, api, login
from fixtures.browser import console_login
from management_testkit import make_villages
from PIL import Image
from playwright.sync_api import Page, expect
from test_console_language import ENGLISH_WORD, ID_LIKE, TEXTS

pytestmark = pytest.mark.browser
# storage on SQLite and PostgreSQL (tests/central/both_backends.py); sqlite_only: why not
backend, db_target = both_backends.backend, both_backends.db_target
central_config = both_backends.central_config
M = "/api/management"
USERS = {**management_scenario.USERS, "mgr-school": ("venue_manager", "venue:school-01")}


@pytest.fixture
def as_user(live_server: LiveServer) -> Callable[..., Any]:
    """``as_user(user, method, path, body)``: the JSON answer, as that user (logged in once)."""
    for username, (role, node) in USERS.items():
        add_user(live_server.service.config.db_target, username, role, node)
    sessions: dict[str, Session] = {}

    def call(user: str, method: str, path: str, body: Any = None) -> Any:
        if user not in sessions:
            sessions[user] = login(live_server.url, user)
        return api(live_server.url, sessions[user], method, path, body)
    return call


def relogin(page: Page, url: str, username: str) -> None:
    """Another user on the same phone: the session cookie gone, the login form again."""
    page.context.clear_cookies()
    console_login(page, url, username, TEST_PASSWORD)


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


@sqlite_only("the figures' storage runs on both in test_management_figures.py (browser time)")
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
    expect(page.locator("#central-health")).to_be_hidden()
    expect(page.locator("#user-role")).to_have_text("检查民警")
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
    relogin(page, live_server.url, "insp-b")
    page.locator("[data-tab=mg-inspect]").click()
    waiting = page.locator(f"#mg-waiting li[data-id='{inspection_id}']")
    waiting.get_by_role("button", name="确认签名").click()
    expect(waiting).to_have_count(0)
    assert page.evaluate(width) <= 390
    signed = as_user("leader", "GET", f"{M}/inspections/{inspection_id}")["signatures"]
    assert sorted(s["username"] for s in signed) == ["insp-a", "insp-b"]


def _school_notice(as_user: Callable[..., Any], venue: str = "school-01") -> dict[str, Any]:
    inspection = as_user("insp-a", "POST", f"{M}/inspections", {
        "venue": venue, "place": "宿舍楼", "inspectors": ["insp-a", "insp-b"],
        "inspected_at": datetime.now(UTC).isoformat(),
        "results": [{"code": "exit-clear", "result": "fail", "note": "安全出口上锁"}]})
    return dict(as_user("insp-a", "POST", f"{M}/notices", {
        "hazards": inspection["hazards"], "kind": "deadline",
        "deadline": (datetime.now(UTC) + timedelta(days=7)).isoformat()}))


def test_venue_manager_uploads_proof_and_the_reinspection_closes_the_hazard(
        live_server: LiveServer, as_user: Callable[..., Any], chromium_page: Page) -> None:
    school = _school_notice(as_user)
    hotel = _school_notice(as_user, "hotel-01")
    hazard = school["hazards"][0]["id"]
    page = chromium_page
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "mgr-school", TEST_PASSWORD)
    expect(page.locator("[data-tab=queue]")).to_be_hidden()
    expect(page.locator("[data-tab=mg-inspect]")).to_be_hidden()
    page.locator("[data-tab=mg-notices]").click()
    rows = page.locator("#mg-notice-list tbody tr")
    expect(rows).to_have_count(1)        # only venue A's notice
    expect(rows.first).to_contain_text(school["number"])
    rows.first.click()
    proof = page.locator("#mg-notice form.proof-form")
    proof.get_by_label("整改情况说明").fill("已拆除门锁，出口畅通")
    data = jpeg()
    proof.locator("input[type=file]").set_input_files(
        {"name": "fixed.jpg", "mimeType": "image/jpeg", "buffer": data})
    proof.get_by_role("button", name="提交整改材料并申请复查").click()
    expect(page.locator("#mg-notice .m-proofs img")).to_have_count(1)
    stored = as_user("leader", "GET", f"{M}/notices/{school['id']}")
    assert stored["status"] == "proof_submitted"
    assert [p["text"] for p in stored["proofs"]] == ["已拆除门锁，出口畅通"]
    photo = httpx.get(f"{live_server.url}{M}/photos/{stored['proofs'][0]['photos'][0]}",
                      headers=live_server.headers)
    assert photo.content == data
    # venue B's notice, opened by its link, is refused with one line
    page.goto(f"{live_server.url}/#/notice/{hotel['id']}")
    expect(page.locator("#mg-notice-error")).to_contain_text("操作失败")

    # the inspector opens the notice from its QR link and re-inspects
    relogin(page, live_server.url, "insp-b")
    page.goto(f"{live_server.url}/#/notice/{school['id']}")
    again = page.locator("#mg-notice form.reinspect-form")
    again.get_by_label("同行检查人账号").fill("insp-a")
    again.get_by_label("复查情况").fill("复查合格")
    again.get_by_role("button", name="复查合格").click()
    expect(page.locator("#mg-notice .m-facts")).to_contain_text("已关闭")
    page.locator(f"#mg-notice tbody tr[data-id='{hazard}']").click()
    steps = page.locator("#mg-hazard .m-step")
    expect(steps).to_have_count(6)
    seen = [(s.locator(".m-action").inner_text(), s.locator(".m-actor").inner_text())
            for s in steps.all()]
    assert seen == [("发现隐患", "insp-a"), ("下发整改通知书", "insp-a"),
                    ("提交整改材料", "mgr-school"), ("申请复查", "mgr-school"),
                    ("复查合格", "insp-b"), ("隐患关闭", "insp-b")]
    assert all(re.search(r"\d{2}:\d{2}:\d{2}", s.locator("time").inner_text())
               for s in steps.all())
    assert as_user("leader", "GET", f"{M}/hazards/{hazard}")["status"] == "closed"


@sqlite_only("penalty storage runs on both in test_management_notices.py (browser time)")
def test_penalty_case_waits_for_the_leaders_approval_in_the_console(
        live_server: LiveServer, as_user: Callable[..., Any], chromium_page: Page) -> None:
    notice = _school_notice(as_user, "hotel-01")
    page = chromium_page
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "insp-a", TEST_PASSWORD)
    page.goto(f"{live_server.url}/#/notice/{notice['id']}")
    case = page.locator("#mg-notice form.penalty-form")
    case.get_by_label("立案理由").fill("逾期未改正，拟罚款200元")
    case.get_by_role("button", name="对该场所立案").click()
    expect(page.locator("#mg-notice .m-msg")).to_have_text("已保存")
    page.locator("[data-tab=mg-penalties]").click()
    row = page.locator("#mg-penalty-list tbody tr").first
    expect(row).to_contain_text("待领导审批")
    expect(row.locator("button.decide")).to_have_count(0)   # no decision before approval

    relogin(page, live_server.url, "leader")
    page.locator("[data-tab=mg-leader]").click()
    pending = page.locator("#mg-pending tbody tr")
    expect(pending).to_have_count(1)
    pending.get_by_role("button", name="批准", exact=True).click()
    expect(page.locator("#mg-pending tbody tr")).to_have_count(0)

    relogin(page, live_server.url, "insp-a")
    page.locator("[data-tab=mg-penalties]").click()
    row = page.locator("#mg-penalty-list tbody tr").first
    row.locator("select[name=decision]").select_option("fine")
    row.locator("input[name=amount]").fill("200")
    row.get_by_role("button", name="作出决定").click()
    expect(page.locator("#mg-penalty-list tbody tr").first).to_contain_text("已决定")
    case_row = as_user("leader", "GET", f"{M}/penalties")[0]
    assert (case_row["approved_by"], case_row["decided_by"], case_row["amount_yuan"]) == (
        "leader", "insp-a", 200)


@sqlite_only("page language, no storage semantics")
def test_every_management_page_is_chinese_by_default(
        live_server: LiveServer, as_user: Callable[..., Any], chromium_page: Page) -> None:
    notice = _school_notice(as_user)
    as_user("insp-b", "POST", f"{M}/penalties", {"venue": "school-01", "notice": notice["id"],
                                                  "proposal": "拒不改正"})
    make_villages(as_user, live_server.service.config.db_target)
    as_user("insp-a", "POST", f"{M}/inspections", {   # an overdue plan of the hotel
        "venue": "hotel-01", "place": "大堂", "inspectors": ["insp-a", "insp-b"],
        "inspected_at": (datetime.now(UTC) - timedelta(days=40)).isoformat(), "results": []})
    as_user("leader", "PUT", f"{M}/plans", {"venue": "hotel-01", "every_days": 30,
                                            "inspectors": ["insp-a"]})
    get = lambda path: httpx.get(live_server.url + path, headers=live_server.headers).json()  # noqa: E731
    nouns = ["alarmlink", "English", "中文", "CSV", "PDF", *USERS, "officer-li", "va-01"]
    for station in get("/api/stations"):
        nouns += [station["name"], station["county_name"], station["id"]]
    for venue in get("/api/venues"):
        nouns += [venue["name"], venue["id"]]
    nouns = sorted(set(nouns), key=len, reverse=True)
    page = chromium_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "officer-li", TEST_PASSWORD)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    seen: dict[str, list[str]] = {}
    for tab, ready in (("mg-dash", ".m-figure"), ("mg-leader", "#mg-pending tbody tr"),
                       ("mg-hazards", "#mg-hazard-list tbody tr"),
                       ("mg-notices", "#mg-notice-list tbody tr"),
                       ("mg-penalties", "#mg-penalty-list tbody tr"),
                       ("mg-inspect", "#mg-inspect-form select option"),
                       ("mg-villages", "#mg-village-list tbody tr"),
                       ("mg-plans", "#mg-overdue-plans tbody tr"),
                       ("mg-checklists", "#mg-checklist tbody tr")):
        page.locator(f"[data-tab={tab}]").click()
        expect(page.locator(ready).first).to_be_attached()
        if tab == "mg-dash":
            page.locator(".m-figure[data-figure=hazards_found]").click()
            expect(page.locator("#mg-records tbody tr")).to_have_count(1)
        if tab == "mg-hazards":
            page.locator("#mg-hazard-list tbody tr").first.click()
            expect(page.locator("#mg-hazard .m-step").first).to_be_visible()
        if tab == "mg-notices":
            page.locator("#mg-notice-list tbody tr").first.click()
            expect(page.locator("#mg-notice form.reinspect-form")).to_be_visible()
        if tab == "mg-inspect":
            page.locator("#mg-inspect-form select[name=venue]").select_option("school-01")
            expect(page.locator("#mg-items .m-item").first).to_be_visible()
        if tab == "mg-villages":
            page.locator("#mg-village-list tbody tr").first.click()
            expect(page.locator("#mg-village form.drill-form")).to_be_visible()
        seen[tab] = page.evaluate(TEXTS, nouns)
    assert all(len(texts) > 3 for texts in seen.values()), seen
    # the checklist's rules cite standards by their codes (GB 50140, GB 35181-2017)
    standard = re.compile(r"\b(?:GB|XF)(?:/T)?\s*[\d.]+(?:-\d{4})?")
    keys = re.compile(r"\b(?:mg|m|c|f|i|ha|hs|ns|nk|ps|sev|src|dec|v|k|p|dk|cat)_[a-z_]+")
    left = [(tab, text) for tab, texts in seen.items() for text in texts
            if ENGLISH_WORD.search(ID_LIKE.sub(" ", standard.sub(" ", text))) or keys.search(text)]
    assert left == [], "English or untranslated keys on the zh-CN management pages"
    # and the English switch relabels them
    page.locator("#lang").click()
    expect(page.locator("[data-tab=mg-inspect]")).to_have_text("Inspection")
    expect(page.locator("[data-tab=mg-villages]")).to_have_text("Villages and teams")
    expect(page.locator("#mg-inspect-form button[type=submit]")).to_have_text("Submit inspection")
    expect(page.locator("#mg-items select.result").first.locator("option").first).to_have_text(
        "pass")


@sqlite_only("telemetry rules run on both in test_management_telemetry.py (browser time)")
def test_a_telemetry_hazard_shows_its_evidence(
        live_server: LiveServer, as_user: Callable[..., Any], chromium_page: Page) -> None:
    headers = live_server.headers
    incidents = []
    for _ in range(4):   # four false alarms at the hotel in 30 days: more than three
        live_server.service.ingestor.handle(*event_message(make_event(
            "hotel-01", zone="reception-button")))
        incident = next(i for i in httpx.get(f"{live_server.url}/api/incidents",
                                             headers=headers).json()
                        if i["venue_id"] == "hotel-01" and i["status"] == "new")
        httpx.post(f"{live_server.url}/api/incidents/{incident['id']}/resolve",
                   json={"outcome": "false_alarm"}, headers=headers).raise_for_status()
        incidents.append(incident["id"])
    opened = as_user("leader", "POST", f"{M}/telemetry/run")["opened"]
    assert [h["rule_code"] for h in opened] == ["false-alarms-30d"]
    page = chromium_page
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "leader", TEST_PASSWORD)
    page.goto(f"{live_server.url}/#/hazard/{opened[0]['id']}")
    expect(page.locator("#mg-hazard h3")).to_contain_text("30天内误报超过3次")
    expect(page.locator("#mg-hazard .m-evidence li")).to_have_text(
        [f"警情 {i}" for i in incidents])
    expect(page.locator("#mg-hazard .m-step .m-actor")).to_have_text(["系统"])


@sqlite_only("scores run on both in test_management_figures.py (browser time)")
def test_the_months_ranking_explains_a_venues_score(
        live_server: LiveServer, as_user: Callable[..., Any], chromium_page: Page) -> None:
    month = (datetime.now(UTC) - timedelta(days=35)).replace(day=15, hour=4)
    as_user("insp-a", "POST", f"{M}/inspections", {
        "venue": "school-01", "place": "宿舍楼", "inspectors": ["insp-a", "insp-b"],
        "inspected_at": month.isoformat(),
        "results": [{"code": "exit-clear", "result": "fail", "note": "安全出口上锁"}]})
    page = chromium_page
    page.set_default_timeout(15_000)
    console_login(page, live_server.url, "leader", TEST_PASSWORD)
    page.locator("[data-tab=mg-dash]").click()
    form = page.locator("#mg-rank-form")
    form.locator("input[name=period]").fill(month.strftime("%Y-%m"))
    form.get_by_label("考评对象").select_option("venue")
    page.get_by_role("button", name="计算该月得分").click()
    expect(page.locator("#mg-rank-error")).to_have_text("已保存")
    rows = page.locator("#mg-ranking tbody tr")
    expect(rows.first).to_be_visible()
    page.locator("#mg-ranking tbody tr[data-id='school-01']").click()
    score = page.locator("#mg-score")
    expect(score.locator("h4")).to_have_text("school-01 的得分依据")
    line = score.locator("tbody tr", has_text="未整改的隐患")
    expect(line.locator("td.col-value")).to_have_text("1")
    expect(line.locator("td.col-points")).to_have_text("-5")
    explained = as_user("leader", "GET",
                        f"{M}/scores/venue/school-01?period={month.strftime('%Y-%m')}")
    expect(score.locator(".m-facts")).to_have_text(
        f"考评规则第 {explained[0]['rule_version']} 版：{explained[0]['score']:g} 分")
