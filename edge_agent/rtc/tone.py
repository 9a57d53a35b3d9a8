"""``self-test``'s test tone on the venue's speaker (``[rtc] playback_device``).

A 1 kHz sine for one second, as 16-bit mono WAV written to ``aplay -D DEVICE``
(alsa-utils, on every Raspberry Pi OS image; no Python audio dependency). On a PC
without that ALSA device, or without ``aplay``, the check says "skipped: ..." in one
line instead of failing: the installer runs it again on the Pi.
"""

from __future__ import annotations

import io
import logging
import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path

logger = logging.getLogger(__name__)

TONE_HZ = 1000
TONE_S = 1.0
RATE = 16_000
CARDS = Path("/proc/asound/cards")


def tone_wav(hz: int = TONE_HZ, seconds: float = TONE_S, rate: int = RATE) -> bytes:
    """A sine tone at half volume as a WAV file (16-bit mono)."""
    frames = b"".join(struct.pack("<h", int(16_000 * math.sin(2 * math.pi * hz * i / rate)))
                      for i in range(int(rate * seconds)))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return out.getvalue()


def sound_cards(cards: Path = CARDS) -> bool:
    """Whether this machine has any ALSA sound card."""
    try:
        text = cards.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(text.strip()) and "no soundcards" not in text


def play_test_tone(device: str, timeout: float = 10.0, *,
                   cards: Path = CARDS) -> tuple[bool, str]:
    """Play the tone on ALSA ``device``: ``(ok, one line for the report)``."""
    if not sound_cards(cards):
        return True, f"skipped: no ALSA device {device} (no sound card on this machine)"
    aplay = shutil.which("aplay")
    if aplay is None:
        return True, (f"skipped: aplay not found, cannot play on ALSA device {device} "
                      "(apt install alsa-utils)")
    try:
        done = subprocess.run([aplay, "-q", "-D", device, "-"], input=tone_wav(),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False, f"ALSA device {device}: the tone did not finish in {timeout:.0f} s"
    if done.returncode == 0:
        return True, f"played a {TONE_HZ} Hz tone for {TONE_S:.0f} s on ALSA device {device}: " \
                     "did you hear it at the venue's speaker?"
    error = done.stderr.decode(errors="replace").strip().splitlines()
    last = error[-1] if error else f"aplay exit {done.returncode}"
    if any(word in last.lower() for word in ("no such", "unknown pcm", "cannot find card",
                                             "invalid card")):
        return True, f"skipped: no ALSA device {device} ({last})"
    logger.debug("aplay on %s failed: %s", device, last)
    return False, f"ALSA device {device}: {last} (check [rtc] playback_device: aplay -L lists them)"
