"""``alarmlink sim fleet`` against a real Mosquitto: every device its own account, online
status, jittered heartbeats, a progress line and a report (issue 11, line 6, in small)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fixtures.broker import running_mosquitto
from fixtures.mqtt import MqttTestClient

from alarmlink import wire
from alarmlink.broker import BrokerUser

DEVICES = [f"fleet-{i:03d}" for i in range(40)]


def test_sim_fleet_connects_heartbeats_and_reports(tmp_path: Path) -> None:
    users = [BrokerUser(d, f"pw-{d}") for d in DEVICES] + [
        BrokerUser("watcher", "pw-watcher", "central")]
    creds = tmp_path / "fleet.txt"
    creds.write_text("".join(f"{d}:pw-{d}\n" for d in DEVICES))
    with running_mosquitto(users) as broker:
        watcher = MqttTestClient(broker.url, "watcher", "pw-watcher")
        try:
            watcher.subscribe(wire.Topics().all_devices("status"))
            done = subprocess.run(
                [sys.executable, "-m", "alarmlink_tools.cli", "sim", "fleet", "--broker",
                 broker.url, "--credentials", str(creds), "--processes", "2",
                 "--heartbeat", "1", "--duration", "5"],
                capture_output=True, text=True, timeout=60, check=False)
            online = {topic.split("/")[-2] for topic, payload in watcher.received()
                      if b'"online"' in payload}
        finally:
            watcher.close()
    assert done.returncode == 0, done.stderr
    assert f"online {len(DEVICES)}/{len(DEVICES)}" in done.stdout
    assert online == set(DEVICES)  # each device its own account and connection
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"fleet: {len(DEVICES)} devices, {len(DEVICES)} connects, 0 drops")
    beats = int(summary.split(" heartbeats")[0].rsplit(" ", 1)[1])
    assert beats >= len(DEVICES) * 3  # about one a second each, for 5 s


def test_sim_fleet_refuses_a_bad_credentials_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "fleet.txt"
    bad.write_text("no-colon-here\n")
    done = subprocess.run([sys.executable, "-m", "alarmlink_tools.cli", "sim", "fleet",
                           "--broker", "mqtt://127.0.0.1:1", "--credentials", str(bad)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "fleet.txt:1: expected device_id:password" in done.stderr
    assert "Traceback" not in done.stderr
