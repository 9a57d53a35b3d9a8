"""Helpers for the live audio/video tests: a Chromium with fake media devices (its
microphone plays a generated WAV tone), and what the page's video element shows and
sounds like, read back in the browser. The clock reader and the tone are shared with
``bench/live_open.py`` (:mod:`simulators.av_probe`)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from fixtures.browser import ARGS, CHROMIUM
from playwright.sync_api import Browser, Page

from simulators.av_probe import READ_CLOCK, fake_media_args, tone_wav

__all__ = ["HEARD_HZ", "OFFICER_HZ", "READ_CLOCK", "VENUE_HZ", "candidate_addresses",
           "fake_media_browser", "on_station_network", "read_clock", "tone_wav"]

#: The officer's fake microphone and the agent's generated tone (different on purpose).
OFFICER_HZ = 600.0
VENUE_HZ = 1000.0


def fake_media_browser(chromium: Browser, wav: Path) -> Browser:
    """A second Chromium from the session's Playwright, with fake camera/microphone."""
    return chromium.browser_type.launch(executable_path=CHROMIUM,
                                        args=[*ARGS, *fake_media_args(wav)])


HEARD_HZ = """async (id) => {
  const s = window.alarmlink.av.get(id);
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  ctx.createMediaStreamSource(s.video.srcObject).connect(analyser);
  await new Promise((r) => setTimeout(r, 700));
  const data = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(data);
  let best = 1;
  for (let i = 2; i < data.length; i++) if (data[i] > data[best]) best = i;
  const hz = best * ctx.sampleRate / analyser.fftSize;
  ctx.close();
  return hz;
}"""


def read_clock(page: Page, incident_id: int) -> dict[str, int] | None:
    result: dict[str, int] | None = page.evaluate(READ_CLOCK, incident_id)
    return result


def candidate_addresses(sdp: str) -> list[tuple[str, str]]:
    """(address, type) of every ``a=candidate`` line."""
    return [(m.group(1), m.group(2)) for m in re.finditer(
        r"a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ (\S+)", sdp)]


def on_station_network(address: str) -> bool:
    """Loopback, a private/link-local address, or a browser's mDNS name (``*.local``)."""
    if address.endswith(".local"):
        return True
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or ip.is_private or ip.is_link_local
