"""The duty console of issue 12 in headless Chromium against a real central (uvicorn):
re-alert after acknowledgement, queue order and density, the acknowledgement target,
procedure and notes in the timeline, the language switch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from central_testkit import LiveServer, Recorder, event_message, make_event
from fixtures.auth import TEST_PASSWORD
from fixtures.browser import console_login
from helpers import wait_for
from playwright.sync_api import Page, expect

from alarmlink.wire import Stage, utcnow
from central.config import CentralConfig
from central.console_config import ConsoleConfig

pytestmark = pytest.mark.browser


@pytest.fixture
def central_config(central_config: CentralConfig) -> CentralConfig:
    return central_config.model_copy(update={"console": ConsoleConfig(ack_target_s=2,
                                                                      ack_overdue_s=4)})


def press(server: LiveServer, device: str = "hotel-01", zone: str = "reception-button",
          kind: str = "panic", age_s: float = 0) -> str:
    event = make_event(device, zone=zone, kind=kind, ts=utcnow() - timedelta(seconds=age_s))
    server.service.ingestor.handle(*event_message(event))
    return event.event_id


def sounds(page: Page) -> int:
    return int(page.evaluate("Number(document.body.dataset.soundCount || 0)"))


def test_a_press_after_acknowledgement_sounds_flags_and_waits_for_an_officer(
        live_server: LiveServer, recorder: Recorder, chromium_page: Page) -> None:
    page = chromium_page
    page.set_default_timeout(10_000)
    console_login(page, live_server.url, "officer-li", TEST_PASSWORD)
    page.locator("#sound").click()
    press(live_server)
    row = page.locator("#queue li.incident").first
    expect(row.locator(".status")).to_have_text("未确认")
    row.click()
    page.locator("#detail button.ack").click()
    expect(row.locator(".status")).to_have_text("已确认")
    before = sounds(page)
    second = press(live_server)                      # the silent-join case
    expect(row.locator(".flag")).to_have_text("确认后有新报警")
    wait_for(lambda: sounds(page) > before, what="the console sounds again")
    assert recorder.stages(second) == [Stage.STORED]  # the LED does not say acknowledged
    page.locator("#detail button.ack").click()
    expect(row.locator(".flag")).to_have_count(0)
    wait_for(lambda: recorder.stages(second) == [Stage.STORED, Stage.ACKNOWLEDGED],
             what="acknowledged receipt after the officer acknowledged")


def test_queue_order_density_and_the_acknowledgement_target(
        live_server: LiveServer, chromium_page: Page) -> None:
    page = chromium_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.set_default_timeout(10_000)
    add = live_server.service.config.db_path
    from sqlite_utils import Database

    from central.registry import add_venue
    from central.registry_models import Venue
    db = Database(add)
    kinds = ["smoke", "panic", "tamper", "medical", "fire", "panic", "tamper", "heat",
             "panic", "smoke", "medical", "tamper"]
    for n in range(12):
        add_venue(db, Venue(id=f"v{n:02d}", name=f"Venue {n:02d}", kind="hotel",
                            station="chengxiang"))
        db.execute("INSERT INTO devices (id, venue_id, zones) VALUES (?, ?, '[]')",
                   [f"d{n:02d}", f"v{n:02d}"])
    db.conn.commit()
    console_login(page, live_server.url, "officer-li", TEST_PASSWORD)
    for n, kind in enumerate(kinds):
        press(live_server, f"d{n:02d}", "z", kind)
    expect(page.locator("#queue li.incident")).to_have_count(12)
    for n in (1, 4, 6):   # three acknowledged
        page.locator(f"#queue li.incident:has-text('Venue {n:02d}')").click()
        page.locator("#detail button.ack").click()
        expect(page.locator(f"#queue li.incident:has-text('Venue {n:02d}') .status")
               ).to_have_text("已确认")
    prio = {"fire": 0, "smoke": 0, "heat": 0, "panic": 1, "medical": 1, "tamper": 2}
    expected = sorted(range(12), key=lambda n: (n in (1, 4, 6), prio[kinds[n]], n))
    names = page.locator("#queue li.incident .venue").all_text_contents()
    assert names == [f"Venue {n:02d}" for n in expected]
    visible = page.evaluate("""[...document.querySelectorAll('#queue li.incident')]
        .filter(li => li.getBoundingClientRect().bottom <= window.innerHeight).length""")
    assert visible >= 8
    # past the 2 s target amber, past 4 s red (only unacknowledged ones)
    expect(page.locator("#queue li.incident.age-red").first).to_be_visible(timeout=8000)
    assert page.locator("#queue li.incident.st-acknowledged.age-red").count() == 0


def test_procedure_step_and_note_are_in_the_timeline_after_reload_and_english_switch(
        live_server: LiveServer, chromium_page: Page) -> None:
    page = chromium_page
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    console_login(page, live_server.url, "officer-li", TEST_PASSWORD)
    press(live_server, "school-01", "gate-button")
    page.locator("#queue li.incident").first.click()
    page.locator("#detail .procedure input[type=checkbox]").nth(0).check()
    expect(page.locator("#detail .timeline .tl-procedure")).to_have_count(1)
    page.locator("#detail .note-form input").fill("门卫确认是学生误按")
    page.locator("#detail .note-form button").click()
    expect(page.locator("#detail .timeline .tl-note")).to_contain_text("门卫确认是学生误按")
    page.reload()
    page.locator("#queue li.incident").first.click()
    expect(page.locator("#detail .timeline .tl-note")).to_contain_text("officer-li")
    expect(page.locator("#detail .timeline .tl-procedure")).to_contain_text("officer-li")
    expect(page.locator("#detail .procedure input[type=checkbox]").nth(0)).to_be_checked()
    # language: zh-CN by default; English changes every label
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    zh = page.evaluate("""[...document.querySelectorAll('[data-i18n]')]
        .map(n => [n.dataset.i18n, n.textContent])""")
    page.locator("#lang").click()
    en = dict(page.evaluate("""[...document.querySelectorAll('[data-i18n]')]
        .map(n => [n.dataset.i18n, n.textContent])"""))
    same = [key for key, text in zh if en.get(key) == text and key not in ("lang",)]
    assert same == [], f"labels left untranslated: {same}"
    expect(page.locator("#detail .status")).to_have_text("unacknowledged")
    expect(page.locator("#detail button.ack")).to_have_text("Acknowledge")
    expect(page.locator("#queue li.incident .status")).to_have_text("unacknowledged")
    expect(page.locator("#detail .timeline .tl-note .what")).to_have_text("note")
    assert errors == []


def test_map_marks_the_alarm_and_history_filters_and_exports(
        live_server: LiveServer, chromium_page: Page) -> None:
    page = chromium_page
    page.set_default_timeout(10_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    console_login(page, live_server.url, "officer-li", TEST_PASSWORD)
    page.locator("[data-tab=map]").click()
    expect(page.locator(".venue-marker")).to_have_count(3)   # every venue with coordinates
    press(live_server)
    expect(page.locator(".venue-marker.vm-alarm")).to_have_count(1, timeout=1000)
    # history: resolve it, then filter by venue and today's date
    page.locator("[data-tab=queue]").click()
    page.locator("#queue li.incident").first.click()
    page.locator("#detail select.outcome").select_option("false_alarm")
    page.locator("#detail button.resolve").click()
    expect(page.locator("#queue li.incident")).to_have_count(0)
    page.locator("[data-tab=history]").click()
    page.locator("#h-venue").select_option("hotel-01")
    today = page.evaluate("new Date().toLocaleDateString('sv-SE', {timeZone: 'Asia/Shanghai'})")
    page.locator("#h-from").fill(today)
    page.locator("#h-to").fill(today)
    page.locator("#history-form button[type=submit]").click()
    expect(page.locator("#history tbody tr")).to_have_count(1)
    csv_href = page.locator("#h-csv").get_attribute("href")
    assert csv_href is not None and "venue=hotel-01" in csv_href
    body = page.request.get(live_server.url + csv_href).text()
    assert len(body.strip().splitlines()) == 2 and "Riverside Hotel" in body
    page.locator("#h-from").fill("2001-01-01")
    page.locator("#h-to").fill("2001-01-02")
    page.locator("#history-form button[type=submit]").click()
    expect(page.locator("#history tbody tr")).to_have_count(0)
    assert {u.split("/")[2] for u in requested} == {live_server.url.split("/")[2]}


def test_a_note_being_typed_survives_a_push_of_its_incident(
        live_server: LiveServer, chromium_page: Page) -> None:
    """A push of the open incident (another event, an escalation step) re-renders its card:
    the officer's half-typed note and focus stay (CI once lost a note typed just then)."""
    page = chromium_page
    page.set_default_timeout(10_000)
    console_login(page, live_server.url, "officer-li", TEST_PASSWORD)
    press(live_server, "school-01", "gate-button")
    page.locator("#queue li.incident").first.click()
    expect(page.locator("#detail .timeline")).to_contain_text("gate-button")
    note = page.locator("#detail .note-form input")
    note.fill("门卫正在核实")
    press(live_server, "school-01", "office-button")  # joins the incident: pushed, re-rendered
    expect(page.locator("#detail .timeline")).to_contain_text("office-button")
    expect(note).to_have_value("门卫正在核实")
    expect(note).to_be_focused()
    page.locator("#detail .note-form button").click()
    expect(page.locator("#detail .timeline .tl-note")).to_contain_text("门卫正在核实")
    expect(note).to_have_value("")
