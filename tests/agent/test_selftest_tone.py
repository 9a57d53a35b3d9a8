"""Issue 18: `self-test` plays the test tone on [rtc] playback_device, and on a PC without
that ALSA device says so in one line ("skipped: no ALSA device ...")."""

from __future__ import annotations

import io
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


def test_self_test_reports_skipped_without_the_alsa_device(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    no_cards = tmp_path / "cards"
    no_cards.write_text("--- no soundcards ---\n")
    monkeypatch.setattr(tone, "CARDS", no_cards)
    monkeypatch.setattr(tone.play_test_tone, "__kwdefaults__", {"cards": no_cards})
    report = run_self_test(_config(tmp_path, "plughw:7,0"), broker_timeout=0.5)
    speaker = [c for c in report.checks if c.name == "speaker"]
    assert len(speaker) == 1
    assert speaker[0].detail.startswith("skipped: no ALSA device plughw:7,0")
    assert "Traceback" not in "\n".join(report.lines())


def test_self_test_without_a_speaker_says_none_configured(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    report = run_self_test(_config(tmp_path, ""), broker_timeout=0.5)
    assert [c.detail for c in report.checks if c.name == "speaker"] == [
        "none configured ([rtc] playback_device)"]
