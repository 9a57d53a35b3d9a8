"""Hazards, notices, proofs, re-inspection, escalation and penalty cases through the real
API as the right users; the notice PDF opened and read back (text and QR code)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import both_backends
import pytest
import zxingcpp
from management_testkit import START, Central, backend_target, management_central
from PIL import Image
from pypdf import PdfReader

M = "/api/management"


# the management tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend = both_backends.backend


@pytest.fixture
def central(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Any:
    with management_central(backend_target(backend, tmp_path, request), tmp_path) as c:
        yield c


def _inspect_with_hazard(c: Central, venue: str, note: str) -> dict[str, Any]:
    inspection = c.ok("insp-a", "POST", f"{M}/inspections", json={
        "venue": venue, "inspected_at": START.isoformat(), "place": "一楼", "notes": "",
        "inspectors": ["insp-a", "insp-b"],
        "results": [{"code": "exit-clear", "result": "fail", "note": note,
                     "location": "东侧安全出口"},
                    {"code": "extinguishers", "result": "pass"}]})
    assert isinstance(inspection, dict) and len(inspection["hazards"]) == 1
    return inspection


def _deadline_notice(c: Central, hazard: int, days: int = 7) -> dict[str, Any]:
    notice = c.ok("insp-a", "POST", f"{M}/notices", json={
        "hazards": [hazard], "kind": "deadline",
        "deadline": START.replace(day=START.day + days).isoformat()})
    assert isinstance(notice, dict)
    return notice


def test_notice_pdf_has_the_chinese_text_and_a_qr_code_to_the_notice(central: Central) -> None:
    inspection = _inspect_with_hazard(central, "hotel-01", "安全出口被杂物堵塞")
    notice = _deadline_notice(central, inspection["hazards"][0])
    body = central.ok("insp-a", "GET", f"{M}/notices/{notice['id']}/pdf")
    assert isinstance(body, bytes) and body.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(body))
    text = "".join(page.extract_text() for page in reader.pages).replace(" ", "")
    for wanted in ("城厢派出所", "责令限期改正通知书", "河畔宾馆", "安全出口被杂物堵塞",
                   "2026-03-09", "前改正完毕", notice["number"]):
        assert wanted in text, (wanted, text)
    images = [img for page in reader.pages for img in page.images]
    assert images, "the PDF has no QR image"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(images[0].data)))
    assert [d.text for d in decoded] == [f"http://127.0.0.1/#/notice/{notice['id']}"]


def test_venue_manager_sees_only_their_venue_and_proof_then_reinspection_close(
        central: Central) -> None:
    school = _inspect_with_hazard(central, "school-01", "宿舍走廊安全出口上锁")
    hotel = _inspect_with_hazard(central, "hotel-01", "安全出口被杂物堵塞")
    school_notice = _deadline_notice(central, school["hazards"][0])
    hotel_notice = _deadline_notice(central, hotel["hazards"][0])

    client = central.as_user("mgr-school")
    hazards = central.ok("mgr-school", "GET", f"{M}/hazards")
    assert {h["venue_id"] for h in hazards} == {"school-01"}  # type: ignore[union-attr]
    notices = central.ok("mgr-school", "GET", f"{M}/notices")
    assert [n["id"] for n in notices] == [school_notice["id"]]  # type: ignore[union-attr]
    assert client.get(f"{M}/notices/{hotel_notice['id']}").status_code == 403
    assert client.get(f"{M}/hazards/{hotel['hazards'][0]}").status_code == 403
    assert client.post(f"{M}/notices/{hotel_notice['id']}/proof",
                       json={"text": "x"}).status_code == 403
    assert client.get("/api/incidents").status_code == 403

    central.advance(days=2)
    client = central.as_user("mgr-school")
    photo = client.post(f"{M}/photos?owner=notice:{school_notice['id']}",
                        content=b"\xff\xd8\xff\xe0fake-jpeg", headers={
                            "Content-Type": "image/jpeg"})
    assert photo.status_code == 200, photo.text
    central.ok("mgr-school", "POST", f"{M}/notices/{school_notice['id']}/proof", json={
        "text": "已拆除门锁，出口畅通", "photos": [photo.json()["id"]], "reinspection": True})

    central.advance(days=1)
    closed = central.ok("insp-b", "POST", f"{M}/notices/{school_notice['id']}/reinspection",
                        json={"passed": True, "inspectors": ["insp-a", "insp-b"],
                              "notes": "复查合格"})
    assert closed["status"] == "closed" and closed["closed_on_time"] == 1  # type: ignore[index]
    hazard = central.ok("leader", "GET", f"{M}/hazards/{school['hazards'][0]}")
    assert hazard["status"] == "closed"  # type: ignore[index]
    steps = [(s["action"], s["actor"]) for s in hazard["timeline"]]  # type: ignore[index]
    assert steps == [("found", "insp-a"), ("notice issued", "insp-a"),
                     ("proof submitted", "mgr-school"),
                     ("re-inspection requested", "mgr-school"),
                     ("re-inspection passed", "insp-b"), ("closed", "insp-b")]
    when = [s["at"][:10] for s in hazard["timeline"]]  # type: ignore[index]
    assert when == ["2026-03-02"] * 2 + ["2026-03-04"] * 2 + ["2026-03-05"] * 2


def test_overdue_notice_escalates_and_a_penalty_needs_the_leaders_approval(
        central: Central) -> None:
    inspection = _inspect_with_hazard(central, "hotel-01", "安全出口被杂物堵塞")
    notice = _deadline_notice(central, inspection["hazards"][0], days=3)
    assert central.ok("leader", "GET", f"{M}/leader")["overdue_notices"] == []  # type: ignore[index]
    central.advance(days=4)
    overview = central.ok("leader", "GET", f"{M}/leader")
    assert [n["id"] for n in overview["overdue_notices"]] == [notice["id"]]  # type: ignore[index]

    case = central.ok("insp-a", "POST", f"{M}/penalties", json={
        "venue": "hotel-01", "notice": notice["id"], "proposal": "逾期未改正，拟罚款200元"})
    client = central.as_user("insp-a")
    early = client.post(f"{M}/penalties/{case['id']}/decision",  # type: ignore[index]
                        json={"decision": "fine", "amount_yuan": 200})
    assert early.status_code == 409 and "approv" in early.json()["detail"]
    assert client.post(f"{M}/penalties/{case['id']}/approval",  # type: ignore[index]
                       json={"approve": True}).status_code == 403
    pending = central.ok("leader", "GET", f"{M}/leader")["pending_approvals"]  # type: ignore[index]
    assert [p["id"] for p in pending] == [case["id"]]  # type: ignore[index]
    central.ok("leader", "POST", f"{M}/penalties/{case['id']}/approval",  # type: ignore[index]
               json={"approve": True})
    decided = central.ok("insp-a", "POST", f"{M}/penalties/{case['id']}/decision",  # type: ignore[index]
                         json={"decision": "fine", "amount_yuan": 200})
    assert decided["status"] == "decided" and decided["amount_yuan"] == 200  # type: ignore[index]
    assert decided["approved_by"] == "leader" and decided["decided_by"] == "insp-a"  # type: ignore[index]
    hazard = central.ok("leader", "GET", f"{M}/hazards/{inspection['hazards'][0]}")
    actions = [s["action"] for s in hazard["timeline"]]  # type: ignore[index]
    assert actions[-4:] == ["escalated to the station leader", "penalty proposed",
                            "penalty approved", "penalty decided"]

    # every act is in the audit log, allowed or denied
    audited = {(r[0], r[1], r[2]) for r in central.rows(
        "SELECT username, action, result FROM audit_log")}
    for row in [("insp-a", "inspection.record", "allowed"), ("insp-a", "notice.issue", "allowed"),
                ("insp-a", "penalty.propose", "allowed"),
                ("insp-a", "penalty.approve", "denied"),
                ("leader", "penalty.approve", "allowed"),
                ("insp-a", "penalty.decide", "allowed")]:
        assert row in audited, row
