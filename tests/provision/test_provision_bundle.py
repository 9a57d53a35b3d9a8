"""Issue 5, line 6 and provisioning without a running central: the bundle's contents,
modes, first-boot script (shellcheck, else bash -n), cloud-init user-data, rotation."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from alarmlink.tls import ensure_ca
from alarmlink_tools.bundle import BundleError, Zone, render_agent_config
from alarmlink_tools.cli import main
from alarmlink_tools.firstboot import RUNCMD_ITEM, render_user_data
from central.credentials import account
from central.db import open_db
from central.registry import County, Station, Venue, add_county, add_station, add_venue
from edge_agent.config import load_config

ZONES = "gate-button,office-button,dorm-smoke,kitchen-heat,cabinet-tamper"


@pytest.fixture
def central_db(tmp_path: Path) -> Path:
    path = tmp_path / "central.db"
    db = open_db(path)
    add_county(db, County(id="c", name="County"))
    add_station(db, Station(id="s", name="Station", county="c"))
    add_venue(db, Venue(id="school-07", name="No. 7 School", kind="school", station="s"))
    db.close()
    return path


def provision(central_db: Path, out: Path, ca: Path, *extra: str) -> int:
    return main(["provision", "device", "--central-db", str(central_db), "--venue", "school-07",
                 "--kind", "school", "--profile", "pi-8ch-input-hat", "--zones", ZONES,
                 "--device-id", "school-07a", "--broker-url", "mqtts://mqtt.example:8883",
                 "--out", str(out), "--ca-file", str(ca), *extra])


def test_bundle_layout_modes_and_config(central_db: Path, tmp_path: Path) -> None:
    ca, _ = ensure_ca(tmp_path / "ca")
    boot = tmp_path / "boot"
    assert provision(central_db, boot, ca, "--class", "fast") == 0
    bundle = boot / "alarmlink"
    secret = bundle / "credentials" / "mqtt-password"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (bundle / "credentials").stat().st_mode & 0o077 == 0
    password = secret.read_text().strip()
    assert len(password) >= 40
    for path in bundle.rglob("*"):  # the password is in exactly one file
        if path.is_file() and path != secret:
            assert password not in path.read_text(errors="replace"), path
    config = load_config(bundle / "agent.toml")
    assert config.device_id == config.broker.username == "school-07a"
    assert config.broker.tls and str(config.broker.ca_file) == "/etc/alarmlink/ca.crt"
    assert config.broker.password is None and config.broker.password_file is None
    assert [(i.zone, i.type, i.pin) for i in config.inputs] == [
        ("gate-button", "button", 5), ("office-button", "button", 6),
        ("dorm-smoke", "detector", 13), ("kitchen-heat", "detector", 16),
        ("cabinet-tamper", "loop", 19)]
    assert config.feedback.led_pin == 23
    assert config.heartbeat_interval_s == 5  # the fast class's heartbeat
    assert (bundle / "ca.crt").read_text() == ca.read_text()
    db = open_db(central_db)
    stored = db.execute("SELECT password_hash FROM mqtt_accounts WHERE username = ?",
                        ["school-07a"]).fetchone()[0]
    assert stored.startswith("$7$") and password not in stored
    device = db.execute("SELECT zones, device_class FROM devices WHERE id = 'school-07a'"
                        ).fetchone()
    assert json.loads(device[0])[0] == "gate-button" and device[1] == "fast"
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["credentials_generation"] == 1


def test_reprovisioning_rotates_credentials(central_db: Path, tmp_path: Path) -> None:
    ca, _ = ensure_ca(tmp_path / "ca")
    assert provision(central_db, tmp_path / "b1", ca) == 0
    assert provision(central_db, tmp_path / "b2", ca) == 0
    first = (tmp_path / "b1/alarmlink/credentials/mqtt-password").read_text()
    second = (tmp_path / "b2/alarmlink/credentials/mqtt-password").read_text()
    assert first != second
    assert account(open_db(central_db), "school-07a")["generation"] == 2  # type: ignore[index]


def test_firstboot_script_passes_shellcheck_or_bash_n(central_db: Path, tmp_path: Path) -> None:
    ca, _ = ensure_ca(tmp_path / "ca")
    assert provision(central_db, tmp_path / "boot", ca) == 0
    script = tmp_path / "boot" / "alarmlink" / "firstboot.sh"
    assert script.read_text().startswith("#!/bin/bash\n")
    checker = ["shellcheck", "-s", "bash"] if shutil.which("shellcheck") else ["bash", "-n"]
    result = subprocess.run([*checker, str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = script.read_text()
    for needle in ("python3 -m venv", "/opt/alarmlink/venv", "useradd --system",
                   "/etc/alarmlink/credentials", "-m 0600", "systemctl enable --now "
                   "alarmlink-agent.service", "shred -u"):
        assert needle in text, needle


def test_user_data_is_cloud_config_and_merges_with_the_imagers(tmp_path: Path) -> None:
    fresh = render_user_data("school-07a")
    assert fresh.startswith("#cloud-config\n")
    assert yaml.safe_load(fresh)["runcmd"] == [["bash",
                                                "/boot/firmware/alarmlink/firstboot.sh"]]
    imager = ("#cloud-config\nhostname: pi\nusers:\n- name: installer\n  groups: sudo\n"
              "runcmd:\n- [sh, -c, echo hello]\n")
    merged = render_user_data("school-07a", imager)
    data = yaml.safe_load(merged)
    assert data["hostname"] == "pi" and data["users"][0]["name"] == "installer"
    assert ["sh", "-c", "echo hello"] in data["runcmd"] and len(data["runcmd"]) == 2
    assert render_user_data("school-07a", merged) == merged  # idempotent
    no_runcmd = yaml.safe_load(render_user_data("x", "#cloud-config\nhostname: pi\n"))
    assert no_runcmd["runcmd"] and RUNCMD_ITEM.endswith("firstboot.sh]")


def test_bad_zone_and_profile_and_venue_are_refused(central_db: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="say what it is"):
        Zone.parse("corridor")
    assert Zone.parse("corridor:detector").type == "detector"
    with pytest.raises(BundleError, match="unknown hardware profile"):
        render_agent_config(kind="school", profile="nope", zones=["a-button"],
                            device_id="x-1", venue_name="V", broker_url="mqtts://h:8883")
    with pytest.raises(BundleError, match="only 4 inputs"):
        render_agent_config(kind="hotel", profile="pi-header-direct",
                            zones=[f"z{i}-button" for i in range(5)], device_id="x-1",
                            venue_name="V", broker_url="mqtts://h:8883")
    ca, _ = ensure_ca(tmp_path / "ca")
    code = main(["provision", "device", "--central-db", str(central_db), "--venue", "nowhere",
                 "--kind", "school", "--profile", "pi-8ch-input-hat", "--zones", ZONES,
                 "--device-id", "x-1", "--broker-url", "mqtts://h:8883", "--out",
                 str(tmp_path / "boot"), "--ca-file", str(ca)])
    assert code == 2 and not (tmp_path / "boot").exists()


def test_plain_broker_url_to_another_host_is_refused_unless_insecure(
        central_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca, _ = ensure_ca(tmp_path / "ca")
    plain = "mqtt://mqtt.example:1883"
    assert provision(central_db, tmp_path / "refused", ca, "--broker-url", plain) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "not encrypted" in err and "mqtts://mqtt.example:8883" in err and "--insecure" in err
    assert not (tmp_path / "refused").exists()
    db = open_db(central_db)
    assert db.execute("SELECT count(*) FROM devices").fetchone()[0] == 0
    db.close()
    assert provision(central_db, tmp_path / "insecure", ca, "--broker-url", plain,
                     "--insecure") == 0
    config = load_config(tmp_path / "insecure" / "alarmlink" / "agent.toml")
    assert config.broker.url == plain and not config.broker.tls


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:1883", "mqtt://localhost:1883",
                                 "mqtt://[::1]:1883"])
def test_plain_broker_url_on_loopback_is_accepted(central_db: Path, tmp_path: Path,
                                                  url: str) -> None:
    ca, _ = ensure_ca(tmp_path / "ca")
    assert provision(central_db, tmp_path / "boot", ca, "--broker-url", url) == 0
