"""Helpers for the live audio/video tests: a Chromium with fake media devices (its
microphone plays a generated WAV tone), and what the page's video element shows and
sounds like, read back in the browser."""

from __future__ import annotations

import ipaddress
import re
import wave
from pathlib import Path

import numpy as np
from fixtures.browser import ARGS, CHROMIUM
from playwright.sync_api import Browser, Page

#: The officer's fake microphone and the agent's generated tone (different on purpose).
OFFICER_HZ = 600.0
VENUE_HZ = 1000.0


def tone_wav(path: Path, hz: float, seconds: float = 10.0, rate: int = 48_000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    data = (0.5 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return path


def fake_media_browser(chromium: Browser, wav: Path) -> Browser:
    """A second Chromium from the session's Playwright, with fake camera/microphone."""
    return chromium.browser_type.launch(executable_path=CHROMIUM, args=[
        *ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}", "--autoplay-policy=no-user-gesture-required"])


READ_CLOCK = """(id) => {
  const s = window.alarmlink.av.get(id);
  if (!s || !s.video.videoWidth) return null;
  const v = s.video, c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d"); g.drawImage(v, 0, 0);
  const row = g.getImageData(0, 12, c.width, 1).data;
  const block = Math.floor(c.width / 32); let value = 0;
  for (let b = 0; b < 32; b++) {
    const i = (b * block + Math.floor(block / 2)) * 4;
    value = value * 2 + ((row[i] + row[i + 1] + row[i + 2]) / 3 > 127 ? 1 : 0);
  }
  return { clock: value, now: Date.now() % 2 ** 32, width: v.videoWidth, height: v.videoHeight };
}"""

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
