"""Issue 12, line 7: zh-CN by default; the English switch changes every visible label.

Walks every visible text node of the page (not only ``[data-i18n]``), every option of
the visible ``<select>``s and every visible placeholder, on each tab, with an incident
selected, its filmstrip, its audit fold open, a walk-test banner, history rows, the
device board and the health pill. Proper nouns and ids come from the registry and the
API (venue, station and contact names, addresses, procedure steps, zone and device ids,
user names) and are allowed in both languages; anything else must be Chinese in zh-CN
(no English word left) and must have no Chinese character in English.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from central_testkit import LiveServer, event_message, make_event
from fixtures.auth import TEST_PASSWORD, TEST_USER
from fixtures.browser import console_login
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
#: Not labels: the product's name, the switch's own target language, units and formats.
ALWAYS = ["alarmlink", "English", "中文", "CSV", "dBm"]
ID_LIKE = re.compile(r"\b[a-z0-9]+(?:[-_.][a-z0-9]+)+\b")   # hotel-01, incident.acknowledge

TEXTS = """(allowed) => {
  const visible = (el) => el && el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== "hidden";
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const parent = n.parentElement;
    if (!parent || parent.closest("script, style, select, code") || !visible(parent)) continue;
    out.push(n.textContent);
  }
  for (const select of document.querySelectorAll("select")) {
    if (visible(select)) for (const o of select.options) out.push(o.textContent);
  }
  for (const input of document.querySelectorAll("input[placeholder]")) {
    if (visible(input)) out.push(input.placeholder);
  }
  return out.map((text) => {
    for (const a of allowed) text = text.split(a).join(" ");
    return text.trim();
  }).filter(Boolean);
}"""


def proper_nouns(server: LiveServer, incident_id: int) -> list[str]:
    """Strings that come from the registry or are ids: the same in both languages."""
    get = lambda path: httpx.get(server.url + path, headers=server.headers).json()  # noqa: E731
    nouns = list(ALWAYS)
    for station in get("/api/stations"):
        nouns += [station["name"], station["county_name"], station["id"]]
    for venue in get("/api/venues"):
        nouns += [venue["name"], venue["id"]]
    detail = get(f"/api/incidents/{incident_id}")
    venue = detail["venue"]
    nouns += [venue["address"], *venue["procedure"]]
    for contact in venue["contacts"]:
        nouns += [contact["name"], contact.get("title") or "", contact["phone"]]
    nouns += list(detail["incident"]["zones"])
    nouns += [d["device_id"] for d in get("/api/devices")]
    nouns += [TEST_USER, "smoke-3f"]
    # longest first, so a name is removed before a shorter name inside it
    return sorted({n for n in nouns if n}, key=len, reverse=True)


def texts_on_every_tab(page: Page, allowed: list[str]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for tab in ("queue", "map", "history", "devices", "roster"):
        page.locator(f"[data-tab={tab}]").click()
        if tab == "history":
            page.locator("#history-form button[type=submit]").click()
            expect(page.locator("#history tbody tr")).to_have_count(1)
        seen[tab] = page.evaluate(TEXTS, allowed)
    page.locator("[data-tab=queue]").click()
    return seen


def leftovers(seen: dict[str, list[str]], bad: re.Pattern[str]) -> list[Any]:
    return [(tab, text) for tab, texts in seen.items() for text in texts
            if bad.search(ID_LIKE.sub(" ", text))]


def test_every_visible_label_is_chinese_by_default_and_english_on_the_switch(
        live_server: LiveServer, chromium_page: Page) -> None:
    page = chromium_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.set_default_timeout(10_000)
    headers = live_server.headers
    # a closed incident for the history tab, an open one for the queue, a walk test banner
    ingest = live_server.service.ingestor.handle
    ingest(*event_message(make_event("school-01", zone="gate-button", kind="panic")))
    closed = httpx.get(f"{live_server.url}/api/incidents", headers=headers).json()[0]["id"]
    httpx.post(f"{live_server.url}/api/incidents/{closed}/resolve",
               json={"outcome": "false_alarm"}, headers=headers).raise_for_status()
    ingest(*event_message(make_event("hotel-01", zone="reception-button", kind="panic")))
    httpx.post(f"{live_server.url}/api/devices/village-01/commissioning",
               json={"action": "start", "reason": "smoke-3f", "duration_s": 1800},
               headers=headers).raise_for_status()
    opened = httpx.get(f"{live_server.url}/api/incidents", headers=headers).json()[0]["id"]
    allowed = proper_nouns(live_server, opened)

    console_login(page, live_server.url, TEST_USER, TEST_PASSWORD)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.locator("#queue li.incident").first.click()
    expect(page.locator("#detail .filmstrip .no-frames")).to_be_visible()
    page.locator("#detail .incident-audit summary").click()
    expect(page.locator("#detail .incident-audit li").first).to_be_visible()
    expect(page.locator("#walktests .walktest")).to_be_visible()
    expect(page.locator("#central-health")).to_be_visible()

    zh = texts_on_every_tab(page, allowed)
    assert sum(len(t) for t in zh.values()) > 60, zh
    assert leftovers(zh, ENGLISH_WORD) == [], "English labels in the zh-CN console"

    page.locator("#lang").click()
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator("#detail button.ack")).to_have_text("Acknowledge")
    en = texts_on_every_tab(page, allowed)
    assert leftovers(en, CJK) == [], "labels left untranslated"
    # the history selects were refilled in English, keeping their values
    assert "False alarm" in page.locator("#h-outcome option").all_text_contents()

    # and back: the login form too follows the language
    page.locator("#lang").click()
    page.locator("#logout").click()
    expect(page.locator("#login-submit")).to_have_text("登录")
    page.locator("#login-lang").click()
    expect(page.locator("#login-submit")).to_have_text("Log in")
    page.get_by_label("User name").fill(TEST_USER)
    page.get_by_label("Password").fill("not-the-password")
    page.locator("#login-submit").click()
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password")
