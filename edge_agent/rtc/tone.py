"""``self-test``'s test tone on the venue's speaker (``[rtc] playback_device``).

A 1 kHz sine for one second, as 16-bit mono WAV written to ``aplay -D DEVICE``
(alsa-utils, on every Raspberry Pi OS image; no Python audio dependency). A configured
device that is missing (no sound card, unknown PCM, no ``aplay``) FAILS the check with
one line naming the cause and the fix: an agent whose speaker cannot play cannot let the
officer talk to the venue. (The check is "none configured", not a failure, only when
``[rtc] playback_device`` is empty.) :func:`check_capture` does the same for the
microphone (``[rtc] capture_device``) with one second of ``arecord``.
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


def _missing(device: str, what: str, cards: Path, tool: str) -> str | None:
    """Why ALSA ``device`` cannot be used at all (no card, no tool), or None."""
    if not sound_cards(cards):
        return (f"ALSA device {device}: no sound card on this machine; plug in the "
                f"{what} or fix [rtc] (aplay -l lists the cards)")
    if shutil.which(tool) is None:
        return f"ALSA device {device}: {tool} not found (apt install alsa-utils)"
    return None


def _failure(device: str, done: subprocess.CompletedProcess[bytes], key: str,
             lister: str) -> str:
    error = done.stderr.decode(errors="replace").strip().splitlines()
    last = error[-1] if error else f"exit {done.returncode}"
    logger.debug("ALSA %s failed: %s", device, last)
    return f"ALSA device {device}: {last} (check [rtc] {key}: {lister} lists them)"


def _alsa(tool: str, args: list[str], device: str, timeout: float, what: str,
          stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes] | str:
    """Run ALSA's ``tool`` on ``device``: its result, or one line when it hung."""
    binary = shutil.which(tool) or tool
    try:
        return subprocess.run([binary, "-q", "-D", device, *args], input=stdin,
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"ALSA device {device}: {what} did not finish in {timeout:.0f} s"


def play_test_tone(device: str, timeout: float = 10.0, *,
                   cards: Path = CARDS) -> tuple[bool, str]:
    """Play the tone on ALSA ``device``: ``(ok, one line for the report)``."""
    missing = _missing(device, "speaker", cards, "aplay")
    if missing is not None:
        return False, missing
    done = _alsa("aplay", ["-"], device, timeout, "the tone", tone_wav())
    if isinstance(done, str):
        return False, done
    if done.returncode == 0:
        return True, f"played a {TONE_HZ} Hz tone for {TONE_S:.0f} s on ALSA device {device}: " \
                     "did you hear it at the venue's speaker?"
    return False, _failure(device, done, "playback_device", "aplay -L")


def check_capture(device: str, timeout: float = 10.0, *,
                  cards: Path = CARDS) -> tuple[bool, str]:
    """Record one second from ALSA ``device``: ``(ok, one line for the report)``."""
    missing = _missing(device, "microphone", cards, "arecord")
    if missing is not None:
        return False, missing
    done = _alsa("arecord", ["-d", "1", "-f", "S16_LE", "-r", str(RATE), "-t", "raw", "-"],
                 device, timeout, "recording")
    if isinstance(done, str):
        return False, done
    if done.returncode == 0 and done.stdout:
        return True, f"recorded 1 s from ALSA device {device} ({len(done.stdout)} bytes)"
    return False, _failure(device, done, "capture_device", "arecord -L")
