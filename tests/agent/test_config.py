"""Agent config: strict validation with errors naming file, key and reason; CLI check-config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from agent_testkit import FIRMWARE, config_dict, make_config

from alarmlink_tools.cli import main
from edge_agent.config import ButtonInput, ConfigError, load_config, validate_config
from edge_agent.pins import normalise_pin

GOOD = """\
device_id = "school-01"
venue = "Test School"
state_dir = "state"

[broker]
url = "mqtt://127.0.0.1:1883"
username = "school-01"
password_file = "secret.txt"

[[inputs]]
type = "button"
zone = "gate-button"
pin = 17
"""


def write(tmp_path: Path, text: str, name: str = "school.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


def check_config(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["agent", "check-config", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


# --- the acceptance criterion 6, through the real CLI -------------------------


def test_misspelt_key_fails_check_config_naming_file_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("username =", "usrname ="))
    code, out, err = check_config(path, capsys)
    assert code != 0
    assert "OK" not in out
    assert f"{path}: broker.usrname: unknown key (did you mean 'username'?)" in err
    assert f"{path}: broker.username: required key missing" in err


def test_missing_broker_section_fails_check_config_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.split("[broker]")[0] + GOOD.split('password_file = "secret.txt"\n')[1]
    code, _out, err = check_config(write(tmp_path, text), capsys)
    assert code != 0
    assert err.strip() == f"{tmp_path / 'school.toml'}: broker: required section missing"


def test_check_config_as_a_subprocess(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("[[inputs]]\ntype", "[[inputs]]\ntpye"))
    proc = subprocess.run([sys.executable, "-m", "alarmlink_tools.cli", "agent", "check-config",
                           str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert ("inputs[0] (zone 'gate-button'): required key 'type' missing (one of button, "
            "detector, loop); is 'tpye' a misspelling of 'type'?") in proc.stderr


@pytest.mark.parametrize("name", ["school.toml", "hotel.toml", "village.toml"])
def test_shipped_examples_pass_check_config(name: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check_config(FIRMWARE / name, capsys)
    assert code == 0, err
    assert out.startswith(f"OK {FIRMWARE / name}")
    config = load_config(FIRMWARE / name)
    assert len(config.inputs) >= 4
    assert config.feedback.led_pin is not None


def test_check_config_summary_notes_fail_safe_and_undetectable_cuts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD + """
[[inputs]]
type = "detector"
zone = "hall-smoke"
pin = 22
contact = "normally_closed"

[[inputs]]
type = "detector"
zone = "kitchen-heat"
pin = 23
contact = "normally_open"
"""
    (tmp_path / "secret.txt").write_text("s3cret-value\n")
    code, out, _err = check_config(write(tmp_path, text), capsys)
    assert code == 0
    assert "hall-smoke" in out and "reported as an ALARM (fail-safe)" in out
    assert "kitchen-heat" in out and "a cut wire is NOT detected" in out
    assert "s3cret-value" not in out


# --- validation details ----------------------------------------------------------------


def test_good_config_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s3cret\nignored second line\n")
    config = load_config(write(tmp_path, GOOD))
    assert config.state_dir == tmp_path / "state"
    assert config.outbox_path == tmp_path / "state" / "outbox-school-01.sqlite3"
    assert config.broker.resolve_password().get_secret_value() == "s3cret"
    assert (config.broker.host, config.broker.port) == ("127.0.0.1", 1883)
    assert config.heartbeat_interval_s == 15 and config.resend_timeout_s == 10
    assert config.broker.protocol == "mqttv5"
    assert config.broker.topic_prefix == "alarmlink/v1"
    button = config.inputs[0]
    assert isinstance(button, ButtonInput)
    assert (button.kind, button.contact, button.confirm_ms) == ("panic", "normally_open", 0)


@pytest.mark.parametrize(("edit", "expected"), [
    ({"device_id": "School 01"}, "device_id: String should match pattern"),
    ({"broker": {"url": "http://x:1883"}}, "broker.url: must look like mqtt://host:port"),
    ({"broker": {"url": "mqtt://x:99999"}}, "broker.url: bad port"),
    ({"broker": {"protocol": "mqttv4"}}, "broker.protocol: Input should be 'mqttv5' or"),
    ({"broker": {"password_file": "x"}}, "broker: set password or password_file, not both"),
    ({"broker": {"reconnect_min_s": 60, "reconnect_max_s": 5}},
     "broker: reconnect_min_s (60) is above reconnect_max_s (5)"),
    ({"broker": {"topic_prefix": "a/#"}}, "broker.topic_prefix:"),
    ({"heartbeat_interval_s": 0}, "heartbeat_interval_s: Input should be greater than"),
    ({"inputs": [{"type": "siren", "zone": "x", "pin": 4}]},
     "inputs[0] (zone 'x'): unknown type 'siren' (expected one of button, detector, loop)"),
    ({"inputs": [{"zone": "x", "pin": 4}]}, "inputs[0] (zone 'x'): required key 'type' missing"),
    ({"inputs": [{"type": "detector", "zone": "x", "pin": 4}]},
     "inputs[0] (zone 'x').contact: required key missing"),
    ({"inputs": [{"type": "button", "zone": "x", "pin": 40}]},
     "inputs[0] (zone 'x').pin: BCM pin 40 is not on the 40-pin header"),
    ({"inputs": [{"type": "button", "zone": "x", "pin": "BOARD1"}]},
     "header pin 1 is not a GPIO pin"),
    ({"inputs": [{"type": "button", "zone": "x", "pin": 4, "kind": "smoke"}]},
     "inputs[0] (zone 'x').kind: Input should be 'panic', 'fire', 'medical' or 'talk'"),
    ({"inputs": [{"type": "detector", "zone": "x", "pin": 4, "contact": "normally_closed",
                  "supervision_pin": "GPIO4"}]},
     "supervision_pin must differ from pin (both 4)"),
    ({"inputs": [{"type": "button", "zone": "a", "pin": 4},
                 {"type": "button", "zone": "a", "pin": 5}]},
     "inputs: zone 'a' is used by inputs[0] and inputs[1]; zones must be unique"),
    ({"inputs": [{"type": "button", "zone": "a", "pin": 17},
                 {"type": "loop", "zone": "b", "pin": "BOARD11"}]},
     "GPIO17 is used twice: inputs[0].pin and inputs[1].pin"),
    ({"feedback": {"led_pin": "GPIO17"}},
     "GPIO17 is used twice: inputs[0].pin and feedback.led_pin"),
    ({"feedback": {"led": 5}}, "feedback.led: unknown key (did you mean 'led_pin'?)"),
])
def test_invalid_configs_name_key_and_reason(tmp_path: Path, edit: dict[str, object],
                                             expected: str) -> None:
    data = config_dict(tmp_path)
    for key, value in edit.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    with pytest.raises(ConfigError) as info:
        validate_config(data, source="venue.toml", base_dir=tmp_path)
    assert any(line.startswith("venue.toml: ") and expected in line
               for line in info.value.problems), info.value.problems


def test_toml_syntax_error_and_missing_file_name_the_file(tmp_path: Path) -> None:
    lines = problems(tmp_path, GOOD + "oops = \n")
    assert lines[0].startswith(f"{tmp_path / 'school.toml'}: not valid TOML")
    with pytest.raises(ConfigError, match="nope.toml: cannot read"):
        load_config(tmp_path / "nope.toml")


def test_pin_names_are_normalised_to_bcm() -> None:
    assert [normalise_pin(p) for p in (17, "GPIO17", "bcm17", "BOARD11", "J8:11")] == [17] * 5
    for bad in (True, "pin17", -1, 3.5):
        with pytest.raises(ValueError):
            normalise_pin(bad)


def test_secrets_stay_out_of_repr_and_hash(tmp_path: Path) -> None:
    config = make_config(tmp_path, broker={"password": "hunter2-secret"})
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in str(config.model_dump())
    other = make_config(tmp_path, broker={"password": "different"})
    assert config.config_hash() == other.with_overrides(
        {"broker.url": config.broker.url}).config_hash()
    renamed = config.with_overrides({"inputs": [{"type": "button", "zone": "x", "pin": 17}]})
    assert renamed.config_hash() != config.config_hash()


def test_password_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    inline = make_config(tmp_path)
    assert inline.broker.resolve_password().get_secret_value() == "school-01-pw"
    (tmp_path / "pw").write_text("from-file")
    from_file = inline.with_overrides({"broker.password_file": str(tmp_path / "pw")})
    assert from_file.broker.password is None
    assert from_file.broker.resolve_password().get_secret_value() == "from-file"
    data = config_dict(tmp_path)
    del data["broker"]["password"]
    systemd = validate_config(data, source="t", base_dir=tmp_path)
    assert systemd.broker.resolve_password().get_secret_value() == "from-systemd"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError, match="no password"):
        systemd.broker.resolve_password()
    missing = inline.with_overrides({"broker.password_file": str(tmp_path / "absent")})
    with pytest.raises(ConfigError, match="broker.password_file: cannot read"):
        missing.broker.resolve_password()


def test_overrides_are_validated(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    moved = config.with_overrides({"broker.url": "mqtt://10.0.0.9:1884", "walk_test": "true"})
    assert (moved.broker.host, moved.broker.port, moved.walk_test) == ("10.0.0.9", 1884, True)
    with pytest.raises(ConfigError, match="broker.url"):
        config.with_overrides({"broker.url": "nonsense"})
    with pytest.raises(ConfigError, match="not a section"):
        config.with_overrides({"device_id.x": "1"})
