"""Issue 18: `self-test` plays the test tone on [rtc] playback_device (and records a second
from [rtc] capture_device); a configured ALSA device that is missing FAILS the report
with one line naming the cause and the fix. Only an unconfigured one is "none
configured"."""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import pytest

from edge_agent.config import load_config
from edge_agent.rtc import tone
from edge_agent.selftest import run_self_test

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, playback: str) -> object:
    base = load_config(ROOT / "firmware_configs" / "school.toml")
    return base.with_overrides({"state_dir": str(tmp_path),
                                "broker.url": "mqtt://127.0.0.1:9",
                                "rtc": {"playback_device": playback}})


def test_tone_is_a_one_second_1khz_wav() -> None:
    with wave.open(io.BytesIO(tone.tone_wav()), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        assert wav.getnframes() == wav.getframerate() * tone.TONE_S


def test_self_test_fails_a_configured_but_missing_alsa_device(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    no_cards = tmp_path / "cards"
    no_cards.write_text("--- no soundcards ---\n")
    for check in (tone.play_test_tone, tone.check_capture):
        monkeypatch.setattr(check, "__kwdefaults__", {"cards": no_cards})
    config = _config(tmp_path, "plughw:7,0").with_overrides(
        {"rtc.capture_device": "plughw:8,0"})
    report = run_self_test(config, broker_timeout=0.5)
    checks = {c.name: c for c in report.checks if c.name in ("speaker", "microphone")}
    assert not checks["speaker"].ok and not checks["microphone"].ok
    assert checks["speaker"].detail.startswith("ALSA device plughw:7,0: no sound card")
    assert checks["microphone"].detail.startswith("ALSA device plughw:8,0: no sound card")
    assert all("aplay -l" in c.detail for c in checks.values())
    assert not report.ok
    assert "Traceback" not in "\n".join(report.lines())


def test_a_pcm_alsa_does_not_know_fails_with_the_fix(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With a sound card but an unknown PCM name: aplay's own error and the fix. (aplay
    stands in as a script printing what alsa-utils prints, so the test runs without it.)"""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aplay = bin_dir / "aplay"
    aplay.write_text("#!/bin/sh\ncat >/dev/null\necho 'ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) "
                     "Unknown PCM no-such-pcm' >&2\necho 'aplay: main:831: audio open error: "
                     "No such file or directory' >&2\nexit 1\n")
    aplay.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    cards = tmp_path / "cards"
    cards.write_text(" 0 [Dummy          ]: Dummy - Dummy\n")
    ok, detail = tone.play_test_tone("no-such-pcm", cards=cards)
    assert not ok
    assert detail == ("ALSA device no-such-pcm: aplay: main:831: audio open error: No such "
                      "file or directory (check [rtc] playback_device: aplay -L lists them)")


def test_self_test_without_a_speaker_says_none_configured(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    report = run_self_test(_config(tmp_path, ""), broker_timeout=0.5)
    assert [c.detail for c in report.checks if c.name == "speaker"] == [
        "none configured ([rtc] playback_device)"]
