"""Issue 5, lines 1 and 3, end to end: real Mosquitto from the generated config (TLS for
devices, auth, ACL), central as a real `alarmlink central serve` process, the installer's
`alarmlink provision ...` commands, and the real agent (VenueSimulator, mock pins)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixtures.auth import TEST_PASSWORD
from fixtures.central import CentralProcess, running_central
from helpers import CENTRAL_USER, wait_for
from provision.provision_testkit import GeneratedBroker, UrlOnly

from alarmlink_tools.cli import main
from central.credentials import set_password
from central.db import open_db
from edge_agent.config import load_config
from simulators.venue import VenueSimulator

ZONES = ["gate-button", "office-button", "dorm-smoke", "kitchen-heat", "cabinet-tamper"]


@dataclass
class Deployment:
    broker: GeneratedBroker
    central: CentralProcess
    tmp: Path

    def provision(self, device_id: str = "school-09") -> Path:
        boot = self.tmp / f"boot-{device_id}"
        code = main(["provision", "device", "--central-db", str(self.central.db_path),
                     "--venue", "school-01", "--kind", "school", "--profile",
                     "pi-8ch-input-hat", "--zones", ",".join(ZONES), "--device-id", device_id,
                     "--class", "fast", "--broker-url", self.broker.tls_url, "--out", str(boot),
                     "--broker-dir", str(self.broker.dir), "--broker-pid",
                     str(self.broker.pid)])
        assert code == 0
        return boot / "alarmlink"

    def agent(self, bundle: Path, **extra: object) -> VenueSimulator:
        """The bundle's config and credentials, with the on-device paths mapped to the
        bundle (on the Pi the first-boot script puts them in /etc/alarmlink)."""
        config = load_config(bundle / "agent.toml", overrides={
            "broker.ca_file": str(bundle / "ca.crt"),
            "broker.password_file": str(bundle / "credentials" / "mqtt-password"),
            "state_dir": str(self.tmp / f"state-{bundle.parent.name}"), **extra})
        return VenueSimulator(config, out=None)

    def device(self, device_id: str) -> dict[str, Any]:
        devices = self.central.api("GET", "/api/devices")
        return next(d for d in devices if d["device_id"] == device_id)


@pytest.fixture
def deployment(tmp_path: Path, broker_tmp_path: Path) -> Iterator[Deployment]:
    workdir = tmp_path / "central"
    workdir.mkdir()
    db = open_db(workdir / "central.db")  # the db central will serve
    set_password(db, CENTRAL_USER.username, CENTRAL_USER.password, role="central")
    broker = GeneratedBroker(db, broker_tmp_path).start()
    try:
        with running_central(workdir, UrlOnly(broker.plain_url)) as central:
            yield Deployment(broker, central, tmp_path)
    finally:
        broker.stop()
        db.close()


def test_provisioned_device_connects_over_tls_and_is_online(deployment: Deployment) -> None:
    bundle = deployment.provision()  # regenerates the broker files and SIGHUPs it
    assert (bundle / "credentials" / "mqtt-password").stat().st_mode & 0o777 == 0o600
    with deployment.agent(bundle) as sim:
        assert sim.agent.link.wait_connected(15), sim.agent.link.last_error
        device = wait_for(lambda: (d := deployment.device("school-09"))["online"] and d,
                          timeout=15, what="school-09 online on the device board")
        assert device["venue_id"] == "school-01" and device["device_class"] == "fast"
        assert device["untested_zones"] == ZONES  # never walk-tested: every zone flagged
        # revocation through the installer's command: the connected agent is locked out
        assert main(["provision", "revoke", "--central-db", str(deployment.central.db_path),
                     "--device-id", "school-09", "--broker-dir", str(deployment.broker.dir),
                     "--broker-pid", str(deployment.broker.pid)]) == 0
        wait_for(lambda: not sim.agent.link.connected, what="revoked agent disconnected")
        wait_for(lambda: sim.agent.link.last_error, what="reconnect refused")
        assert not sim.agent.link.connected


def test_walk_test_records_every_zone_and_opens_no_incident(deployment: Deployment) -> None:
    bundle = deployment.provision()
    api = deployment.central.api
    with deployment.agent(bundle) as sim:
        wait_for(lambda: deployment.device("school-09")["online"], timeout=15,
                 what="school-09 online")
        started = api("POST", "/api/devices/school-09/commissioning",
                      {"action": "start", "installer": "Wang Wei",
                       "reason": "安装调试 walk test"})
        assert started["active"] and not started["all_tested"]
        assert deployment.device("school-09")["commissioning"]
        # the installer triggers each input once
        sim.press("gate-button")
        sim.press("office-button")
        sim.trip("dorm-smoke")
        sim.restore("dorm-smoke")
        sim.trip("kitchen-heat")
        sim.restore("kitchen-heat")
        sim.cut("cabinet-tamper")
        sim.mend("cabinet-tamper")
        wait_for(lambda: api("GET", "/api/devices/school-09/commissioning")["all_tested"],
                 timeout=15, what="every zone seen by the walk test")
        assert sim.wait_drained(10)
        wait_for(lambda: api("GET", "/api/devices/school-09/commissioning")["heartbeat_seen"],
                 timeout=15, what="a heartbeat during the walk test")
        report = deployment.tmp / "report.html"
        # the installer's own account, at the device's station
        [(station,)] = deployment.central.rows(
            "SELECT v.station_id FROM devices d JOIN venues v ON v.id = d.venue_id "
            "WHERE d.id = 'school-09'")
        deployment.central.add_user("installer", "installer", f"station:{station}")
        secret = deployment.tmp / "installer-password"
        secret.write_text(TEST_PASSWORD + "\n")
        assert main(["provision", "commission", "report", "--device", "school-09",
                     "--central-url", deployment.central.url, "--stop",
                     "--username", "installer", "--password-file", str(secret),
                     "--out", str(report)]) == 0
    html = report.read_text()
    for zone in ZONES:
        row = html.split(f"<td>{zone}</td>", 1)[1].split("</tr>", 1)[0]
        assert "<td>yes</td>" in row, zone
    assert "Wang Wei" in html and "ALL ZONES TESTED" in html
    assert "Heartbeat seen</th><td>yes" in html and "Signal quality</th><td>n/a" in html
    view = api("GET", "/api/devices/school-09/commissioning")
    assert not view["active"] and view["session"]["ended_by"] == "installer"
    # none of it reached an officer: stored as test events, no incident at all
    assert api("GET", "/api/incidents?status=all") == []
    events = deployment.central.rows("SELECT test, incident_id FROM events "
                                     "WHERE device_id = 'school-09'")
    assert len(events) >= len(ZONES)
    assert all(e["test"] == 1 and e["incident_id"] is None for e in events)
    device = deployment.device("school-09")
    assert device["untested_zones"] == [] and not device["commissioning"]


def test_events_after_commissioning_are_real_again(deployment: Deployment) -> None:
    bundle = deployment.provision()
    db_path = str(deployment.central.db_path)
    assert main(["provision", "commission", "start", "--device", "school-09",
                 "--central-db", db_path, "--installer", "Wang Wei",
                 "--reason", "新装设备调试"]) == 0
    with deployment.agent(bundle) as sim:
        sim.press("gate-button")
        wait_for(lambda: _rows(deployment, "SELECT 1 FROM commissioning_hits"),
                 what="walk-test hit")
        assert main(["provision", "commission", "stop", "--device", "school-09",
                     "--central-db", db_path]) == 0
        acts = [r["action"] for r in _rows(deployment, "SELECT action FROM audit_log "
                                           "WHERE object = 'device:school-09' ORDER BY id")]
        assert acts == ["device.provision", "commissioning.start", "commissioning.stop"]
        sim.press("office-button")
        incidents = wait_for(lambda: deployment.central.api("GET", "/api/incidents"),
                             what="a real alarm after the walk test")
    assert incidents[0]["zones"] and "office-button" in str(incidents[0]["zones"])
    assert "gate-button" not in str(incidents[0]["zones"])
    flagged = deployment.device("school-09")["untested_zones"]
    assert flagged == ["office-button", "dorm-smoke", "kitchen-heat", "cabinet-tamper"]


def _rows(deployment: Deployment, sql: str) -> list[sqlite3.Row]:
    return deployment.central.rows(sql)
