"""CameraWatch on a fake clock: offline after the window, hung captures named, one restore."""

from __future__ import annotations

from edge_agent.camera.watch import CameraWatch


def test_silence_past_the_window_is_offline_then_one_restore() -> None:
    watch = CameraWatch("gate", offline_after_s=10, now=0.0)
    assert watch.verdict(9.0) is None
    watch.last_error = "OSError: no device"
    offline, detail = watch.verdict(10.5) or (None, {})
    assert offline is True and detail["cause"] == "OSError: no device"
    assert detail["silent_s"] == 10.5
    watch.reported(True, 10.5)
    assert watch.offline and watch.verdict(20.0) is None  # reported once only
    watch.last_ok = 21.0
    restored, detail = watch.verdict(21.0) or (None, {})
    assert restored is False and detail["offline_s"] == 10.5
    watch.reported(False, 21.0)
    assert not watch.offline and watch.verdict(22.0) is None


def test_a_hung_capture_is_named() -> None:
    watch = CameraWatch("gate", offline_after_s=10, now=0.0)
    watch.capture_started = 2.0
    _offline, detail = watch.verdict(12.0) or (None, {})
    assert detail["cause"] == "capture hung for 10 s"
