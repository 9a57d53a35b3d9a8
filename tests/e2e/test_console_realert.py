"""Issue 12, line 1, against the real thing: a real `alarmlink central serve`, a real
Mosquitto, a simulated venue (the real agent on mock pins) and the console in Chromium.

The officer acknowledges in the browser; the button is pressed again at the venue. The
console sounds (the page's oscillators are counted by an init script, not by the
console's own counters), the row is flagged "new event since acknowledgement", and the
venue's LED does not say "acknowledged" for the new press until the officer
acknowledges again in the browser; then it does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.harness import venue_config
from fixtures.auth import TEST_PASSWORD, TEST_USER
from fixtures.browser import console_login
from fixtures.central import CentralProcess
from helpers import wait_for
from playwright.sync_api import Page, expect

from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

pytestmark = pytest.mark.browser

#: Counts every oscillator the page starts: the console's alarm tone is made of them.
COUNT_TONES = """
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones += 1;
  return start.apply(this, args);
};
"""


def tones(page: Page) -> int:
    return int(page.evaluate("window.__tones"))


def stages(sim: VenueSimulator, event_id: str) -> list[str]:
    return [stage for eid, _zone, stage in list(sim.stage_changes) if eid == event_id]


def test_a_second_press_after_acknowledgement_sounds_and_waits_for_an_officer(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        chromium_page: Page, tmp_path: Path) -> None:
    page = chromium_page
    page.set_default_timeout(10_000)
    page.add_init_script(COUNT_TONES)
    console_login(page, central_process.url, TEST_USER, TEST_PASSWORD)
    expect(page.locator("#conn")).to_have_class("conn up")
    page.locator("#sound").click()                     # the officer's gesture enables audio
    sim = VenueSimulator(venue_config("school", fresh_mosquitto, tmp_path / "agent"), out=None)
    with sim:
        wait_for(lambda: sim.agent.connected, what="agent connected")
        led = sim.agent.feedback.led
        assert led is not None

        first = sim.press("gate-button")
        row = page.locator("#queue li.incident").first
        expect(row.locator(".status")).to_have_text("未确认")
        row.click()
        page.locator("#detail button.ack").click()
        expect(row.locator(".status")).to_have_text("已确认")
        assert sim.wait_stage(first.event_id, "acknowledged"), "first press acknowledged"

        before = tones(page)
        second = sim.press("gate-button")              # joins the acknowledged incident
        expect(row.locator(".flag")).to_have_text("确认后有新报警")
        wait_for(lambda: tones(page) > before, what="the console's alarm tone")
        assert sim.wait_stage(second.event_id, "stored"), "the second press stored"
        expect(page.locator("#detail .timeline .tl-event")).to_have_count(1)
        # stored, and no officer has seen it: the LED must not say "acknowledged"
        assert "acknowledged" not in stages(sim, second.event_id)
        assert sim.stage == "stored"

        page.locator("#detail button.ack").click()
        expect(row.locator(".flag")).to_have_count(0)
        assert sim.wait_stage(second.event_id, "acknowledged"), \
            "the venue LED after the officer acknowledged again"
        wait_for(lambda: led.is_lit, what="the venue LED solid for 'acknowledged'")
        assert stages(sim, second.event_id)[-1] == "acknowledged"
