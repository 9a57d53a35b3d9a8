"""The console under its Content-Security-Policy in headless Chromium, and the header
pill that shows central's own state (broker, database), not only the WebSocket."""

from __future__ import annotations

import pytest
from central_testkit import LiveServer
from fixtures.auth import TEST_PASSWORD, TEST_USER
from fixtures.browser import console_login
from fixtures.central import CentralProcess
from playwright.sync_api import Page, expect

from alarmlink.broker import MosquittoBroker
from central.api.edge import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.browser

#: Records every CSP violation the page reports (runs before the page's own scripts).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


def _watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if "Content Security Policy" in msg.text else None)
    # (the console's first /api/me before login answers 401: that is the login form's cue)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith(("/favicon.ico", "/api/me"))
            else None)
    page.set_default_timeout(15_000)
    return problems


def test_console_works_under_the_csp(live_server: LiveServer, chromium_page: Page) -> None:
    page = chromium_page
    problems = _watch(page)
    response = page.goto(live_server.url + "/")
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    console_login(page, live_server.url, TEST_USER, TEST_PASSWORD)  # the login form too
    # the WebSocket (connect-src 'self' must cover ws:// to the same host) and /healthz
    expect(page.locator("#central-health")).to_have_text("实时")
    expect(page.locator("#central-health")).to_have_class("conn up")
    expect(page.locator("#station option")).to_have_count(3)  # fetch under connect-src
    page.get_by_role("button", name="开启声音").click()
    expect(page.locator("#sound")).to_have_text("声音已开")
    assert page.evaluate("window.__cspViolations") == []
    assert problems == []


def test_a_violation_would_be_seen(live_server: LiveServer, chromium_page: Page) -> None:
    """The recorder works: an inline script on this page is blocked and recorded."""
    page = chromium_page
    _watch(page)
    page.goto(live_server.url + "/")
    page.evaluate("""() => { const s = document.createElement('script');
                    s.textContent = 'window.__ran = 1'; document.body.append(s); }""")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__ran") is None


@pytest.mark.broker
def test_header_says_when_central_lost_the_broker(central_process: CentralProcess,
                                                  fresh_mosquitto: MosquittoBroker,
                                                  chromium_page: Page) -> None:
    page = chromium_page
    problems = _watch(page)
    console_login(page, central_process.url, TEST_USER, TEST_PASSWORD)
    pill = page.locator("header #central-health")
    expect(pill).to_have_text("实时")
    banner = page.locator("#deaf")
    expect(banner).to_be_hidden()
    fresh_mosquitto.stop()
    # the red banner across the top, within the supervision bound (standard class: 90 s;
    # central notices a lost broker within its keepalive, far sooner)
    expect(banner).to_be_visible(timeout=30_000)
    expect(banner).to_contain_text("中心收不到设备报警")
    assert page.evaluate("document.getElementById('deaf').getBoundingClientRect().top") == 0
    expect(pill).to_contain_text("中心与消息服务器断开",
                                 timeout=30_000)
    expect(pill).to_contain_text("broker: not connected")
    expect(pill).to_have_class("conn down")
    fresh_mosquitto.start()
    expect(pill).to_have_text("实时", timeout=60_000)
    expect(banner).to_be_hidden()
    assert page.evaluate("window.__cspViolations") == []
    assert [p for p in problems if "healthz" not in p and "503" not in p] == []
