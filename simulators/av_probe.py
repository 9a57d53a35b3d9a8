"""What a browser shows of a venue's live session, for the tests and the benches: the
test-pattern camera's burnt-in clock read back from the console's ``<video>`` element,
and a Chromium with fake media devices whose microphone plays a generated tone.

The clock is drawn by :func:`edge_agent.rtc.media.pattern` (32 blocks across the top
strip, milliseconds modulo 2**32); :data:`READ_CLOCK` decodes it in the page from the
console's session of an incident (``window.alarmlink.av``, ``central/static/av.js``).
Nothing here imports Playwright: the callers pass the JavaScript to their own page.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

#: Playwright ``page.evaluate(READ_CLOCK, incident_id)``: ``{clock, now, width, height}``
#: of the frame the console's video element of that incident shows, or null before one.
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


def tone_wav(path: Path, hz: float, seconds: float = 10.0, rate: int = 48_000) -> Path:
    """A mono 16-bit WAV of a sine tone (a fake microphone's input)."""
    t = np.arange(int(seconds * rate)) / rate
    data = (0.5 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return path


def fake_media_args(wav: Path) -> list[str]:
    """Chromium flags: fake camera and microphone (the microphone plays ``wav``), no
    permission prompt, media that plays without a user gesture."""
    return ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required"]
