"""Choosing a camera: config validation, a clear message for an unavailable camera,
`alarmlink agent self-test` and `check-config` report it; the snapshot codec."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from camera_testkit import FAST
from e2e.harness import write_agent_config
from gpiozero.pins.mock import MockFactory
from PIL import Image

from alarmlink import wire
from edge_agent.agent import Agent
from edge_agent.camera.sources import PICAMERA2_HINT, CameraUnavailable
from edge_agent.config import AgentConfig, ConfigError, validate_config

ALARMLINK = [sys.executable, "-m", "alarmlink_tools.cli"]


def config_with(tmp_path: Path, **camera: object) -> AgentConfig:
    return validate_config({
        "device_id": "school-01", "venue": "Test School", "state_dir": str(tmp_path / "state"),
        "broker": {"url": "mqtt://127.0.0.1:1", "username": "school-01", "password": "x"},
        "inputs": [{"type": "button", "zone": "gate-button", "pin": 17}],
        "camera": camera}, source="agent.toml", base_dir=tmp_path)


@pytest.mark.parametrize(("camera", "message"), [
    ({"type": "webcam"}, "camera.type: Input should be 'picamera2', 'test-pattern' or"),
    ({"type": "test-pattern", "buffer_fsp": 2}, "did you mean 'buffer_fps'?"),
    ({"type": "directory"}, "needs directory = "),
    ({"type": "picamera2", "frame_delay_s": 1}, "frame_delay_s is only for type 'test-pattern'"),
    ({"type": "test-pattern", "max_bytes": wire.MAX_SNAPSHOT_BYTES},
     "camera.max_bytes: Input should be less than or equal to"),
    ({"type": "test-pattern", "outbox_max_bytes": 100_000}, "must hold at least two"),
])
def test_bad_camera_config_names_the_key(tmp_path: Path, camera: dict[str, object],
                                         message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_with(tmp_path, **camera)
    assert message in str(info.value)
    assert str(info.value).startswith("agent.toml: camera")


def test_unavailable_picamera2_fails_with_the_install_instructions(tmp_path: Path) -> None:
    config = config_with(tmp_path, type="picamera2")
    with pytest.raises(CameraUnavailable) as info:
        Agent(config, pin_factory=MockFactory())
    assert "apt install python3-picamera2" in str(info.value)
    assert "--system-site-packages" in str(info.value)
    path = write_agent_config(config, tmp_path / "agent.toml")
    run = subprocess.run([*ALARMLINK, "agent", "run", "--config", str(path)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"})
    assert run.returncode == 2
    assert f"{path}: camera: {PICAMERA2_HINT}" in run.stderr


def test_directory_camera_that_does_not_exist_is_unavailable(tmp_path: Path) -> None:
    config = config_with(tmp_path, type="directory", directory="no-such-folder")
    with pytest.raises(CameraUnavailable, match="no-such-folder is not a directory"):
        Agent(config, pin_factory=MockFactory())


def test_self_test_and_check_config_report_the_camera(tmp_path: Path) -> None:
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    good = write_agent_config(config_with(tmp_path, **FAST), tmp_path / "good.toml")
    bad = write_agent_config(config_with(tmp_path, type="picamera2"), tmp_path / "bad.toml")
    ok = subprocess.run([*ALARMLINK, "agent", "self-test", "--config", str(good),
                         "--timeout", "1"], capture_output=True, text=True, timeout=60, env=env)
    assert "OK   camera main: test-pattern 640x360: captured a 640x360 frame" in ok.stdout
    failed = subprocess.run([*ALARMLINK, "agent", "self-test", "--config", str(bad),
                             "--timeout", "1"], capture_output=True, text=True, timeout=60,
                            env=env)
    assert "FAIL camera main: picamera2: picamera2 is not importable" in failed.stdout
    assert failed.returncode == 1
    check = subprocess.run([*ALARMLINK, "agent", "check-config", str(good)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0
    assert "camera   main test-pattern 640x360, pre-alarm 2s at 2 fps" in check.stdout


def test_snapshot_codec_keeps_a_plain_jpeg_with_metadata_inside(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 128, 0)).save(out, format="JPEG")
    jpeg = out.getvalue()
    meta = wire.SnapshotMeta(event_id=wire.new_id(), seq=9, ts=wire.utcnow(),
                             phase=wire.SnapshotPhase.PRE, camera="main", width=40, height=30)
    payload = wire.encode_snapshot(meta, jpeg)
    assert payload.startswith(wire.JPEG_MAGIC + b"\xe0")  # JFIF APP0 stays first
    assert wire.decode_snapshot(payload) == meta
    image = Image.open(io.BytesIO(payload))  # any JPEG reader still reads it
    assert image.size == (40, 30)
    assert image.info["comment"].startswith(wire.SNAPSHOT_META_TAG)
    with pytest.raises(wire.ContractError, match="no alarmlink metadata"):
        wire.decode_snapshot(jpeg)
    with pytest.raises(wire.ContractError, match="not a JPEG"):
        wire.encode_snapshot(meta, b"GIF89a")
    request = wire.SnapshotRequest(action="live", event_id=meta.event_id, live_s=30, fps=2)
    assert wire.SnapshotRequest.from_args(request.to_args()) == request
    with pytest.raises(wire.ContractError, match="live_s"):
        wire.SnapshotRequest.from_args({**request.to_args(), "live_s": 0})
