"""Issue 3, "Serial input": the ``[[serials]]`` config table, its checks and messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent.agent_testkit import config_dict
from serial_testkit import ROOT, serial_input

from alarmlink_tools.cli import main
from edge_agent.config import AgentConfig, ConfigError, validate_config


def config(tmp_path: Path, *serials: dict[str, Any], **top: Any) -> AgentConfig:
    data = config_dict(tmp_path, device_id="hotel-01", serials=list(serials), **top)
    return validate_config(data, source="hotel.toml", base_dir=tmp_path)


def problems(tmp_path: Path, *serials: dict[str, Any], **top: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, *serials, **top)
    return str(caught.value)


def test_shipped_example_passes_check_config_and_notes_unsupervised_silence(
        capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "firmware_configs" / "panel-hotel.toml"
    assert main(["agent", "check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "serials  2" in out
    assert "fire-panel           gb26875   /dev/serial/by-id/" in out
    assert "annex-panel          contactid socket://192.168.10.50:4001 4800 8N1" in out
    assert "silence_trouble_s = 0: a cut cable between panel and adapter is NOT detected" in out


def test_defaults_and_what_reaches_pyserial_and_the_decoder(tmp_path: Path) -> None:
    item = config(tmp_path, {"name": "p", "port": "/dev/ttyUSB0", "protocol": "gb26875",
                             "parity": "even", "stopbits": 2, "flow_control": "rtscts",
                             "checksum": "xor", "timezone": "Asia/Shanghai"}).serials[0]
    assert item.link_zone == "p serial link"
    assert (item.baudrate, item.loss_trouble_s, item.silence_trouble_s) == (9600, 20, 0)
    assert item.pyserial_options() == {"baudrate": 9600, "bytesize": 8, "parity": "E",
                                       "stopbits": 2, "rtscts": True, "xonxoff": False}
    options = item.decoder_options()
    assert options["checksum"] == "xor" and str(options["tz"]) == "Asia/Shanghai"
    plain = config(tmp_path, serial_input("socket://10.0.0.5:4001", "sia-dc09")).serials[0]
    assert plain.decoder_options() == {}


@pytest.mark.parametrize(("change", "message"), [
    ({"baudrat": 9600}, "serials[0].baudrat: unknown key (did you mean 'baudrate'?)"),
    ({"protocol": "modbus"}, "serials[0].protocol: Input should be 'gb26875', 'contactid'"),
    ({"protocol": "contactid", "checksum": "xor"},
     "serials[0]: checksum: only for protocol 'gb26875', not 'contactid'"),
    ({"port": "ttyUSB0"}, "serials[0].port: must be an absolute device path like /dev/ttyUSB0"),
    ({"port": "socket://10.0.0.5"}, "serials[0].port: socket:// needs a host and a port"),
    ({"port": "http://10.0.0.5:80"}, "serials[0].port: unknown URL scheme 'http'"),
    ({"stopbits": 3}, "serials[0].stopbits: must be 1, 1.5 or 2"),
    ({"timezone": "Mars/Olympus"}, "serials[0].timezone: unknown time zone 'Mars/Olympus'"),
    ({"reconnect_min_s": 9}, "serials[0]: reconnect_min_s (9) is above reconnect_max_s"),
    ({"loss_trouble_s": 0}, "serials[0].loss_trouble_s: Input should be greater than or equal"),
])
def test_mistakes_name_the_key_and_the_reason(tmp_path: Path, change: dict[str, Any],
                                              message: str) -> None:
    assert message in problems(tmp_path, {**serial_input("/dev/ttyUSB0"), **change})


def test_names_ports_and_link_zones_are_unique_per_device(tmp_path: Path) -> None:
    first = serial_input("/dev/ttyUSB0")
    assert "serials[1].name 'fire-panel' is also serials[0]'s" in problems(
        tmp_path, first, serial_input("/dev/ttyUSB1"))
    assert "serials[1].port '/dev/ttyUSB0' is also serials[0]'s" in problems(
        tmp_path, first, {**first, "name": "other"})
    gpio = [{"type": "button", "zone": "fire-panel serial link", "pin": 17}]
    assert "link zone 'fire-panel serial link' is already the zone of a GPIO input" in \
        problems(tmp_path, first, inputs=gpio)


def test_serial_settings_change_the_config_hash(tmp_path: Path) -> None:
    one = config(tmp_path, serial_input("/dev/ttyUSB0"))
    two = config(tmp_path, serial_input("/dev/ttyUSB0", baudrate=19200))
    assert one.config_hash() != two.config_hash()
    assert one.with_overrides({"venue": "x"}).serials == one.serials
