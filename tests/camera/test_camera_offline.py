"""Issue 4, line 6: a camera that hangs or fails yields a `camera offline` trouble, and
a `restore` when it recovers; the trouble reaches the station like any other."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from camera_testkit import GatedCamera, camera_venue
from fixtures.central import CentralProcess
from helpers import wait_for

from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

ZONE = "main camera"


def camera_events(central: CentralProcess) -> list[dict[str, object]]:
    rows = central.rows("SELECT kind, state, source, detail, incident_id FROM events "
                        "WHERE zone = ? ORDER BY seq", (ZONE,))
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def test_failing_directory_camera_raises_trouble_then_restore(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    source = Path(__file__).parent / "frames"
    shutil.copytree(source, folder, dirs_exist_ok=True)
    config = camera_venue(fresh_mosquitto, tmp_path / "agent", type="directory",
                          directory=str(folder), offline_after_s=1)
    with VenueSimulator(config, out=None) as sim:
        camera = sim.agent.camera
        assert camera is not None
        wait_for(lambda: sim.agent.connected, what="agent connected")
        wait_for(lambda: camera.frames_captured >= 2, what="the camera working")
        for jpeg in folder.glob("*.jpg"):
            jpeg.unlink()  # the camera now fails every capture ("no *.jpg files")
        wait_for(lambda: camera_events(central_process), timeout=10,
                 what="camera trouble at central")
        trouble = camera_events(central_process)[0]
        assert (trouble["kind"], trouble["state"], trouble["source"]) == (
            "trouble", "trouble", "camera")
        assert trouble["detail"]["reason"] == "camera offline"
        assert "no *.jpg files" in str(trouble["detail"]["cause"])
        assert sim.agent.input_states()[ZONE] == "trouble"
        incident = central_process.api(
            "GET", f"/api/incidents/{trouble['incident_id']}")["incident"]
        assert incident["category"] == "trouble" and incident["zones"] == {ZONE: "trouble"}

        shutil.copytree(source, folder, dirs_exist_ok=True)  # plugged back in
        wait_for(lambda: len(camera_events(central_process)) == 2, timeout=10, what="restore")
        restore = camera_events(central_process)[1]
        assert (restore["kind"], restore["state"]) == ("trouble", "restore")
        incident = central_process.api(
            "GET", f"/api/incidents/{trouble['incident_id']}")["incident"]
        assert incident["zones"] == {ZONE: "restored"}
        assert sim.agent.input_states()[ZONE] == "normal"


def test_hung_camera_raises_trouble_then_restore(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    config = camera_venue(fresh_mosquitto, tmp_path / "agent", offline_after_s=1)
    sim = VenueSimulator(config, out=None)
    camera = sim.agent.camera
    assert camera is not None
    gate = camera.source = GatedCamera(camera.source)
    with sim:
        wait_for(lambda: sim.agent.connected, what="agent connected")
        wait_for(lambda: camera.frames_captured >= 2, what="the camera working")
        gate.block()
        wait_for(lambda: camera_events(central_process), timeout=10,
                 what="camera trouble at central")
        trouble = camera_events(central_process)[0]
        assert trouble["detail"]["reason"] == "camera offline"
        assert "hung" in str(trouble["detail"]["cause"])
        # The alarm path is untouched by a hung camera.
        event = sim.press("gate-button")
        wait_for(lambda: central_process.rows("SELECT 1 FROM events WHERE event_id = ?",
                                              (event.event_id,)), what="alarm stored meanwhile")
        gate.release()
        wait_for(lambda: len(camera_events(central_process)) == 2, timeout=10, what="restore")
        assert camera_events(central_process)[1]["state"] == "restore"
        # The alarm's pictures follow once the camera is back.
        wait_for(lambda: central_process.rows("SELECT 1 FROM snapshots WHERE event_id = ? AND "
                                              "phase = 'alarm'", (event.event_id,)),
                 what="the alarm frame after recovery")
