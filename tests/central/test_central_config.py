"""Central's TOML config: defaults, strict keys, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.config import CentralConfig, ConfigError, load_config


def test_defaults_are_usable() -> None:
    config = CentralConfig()
    assert config.broker.client_id is None
    assert config.broker.effective_client_id == config.broker.username == "central"
    assert config.broker.protocol == "mqttv5"
    assert config.db_path == Path("alarmlink-data/central.db")


def test_full_file_loads_with_paths_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    path = tmp_path / "central.toml"
    path.write_text('data_dir = "data"\nregistry = "reg.toml"\nclock_skew_threshold_s = 5\n'
                    '[broker]\nurl = "mqtts://broker.example:8883"\npassword_file = "pw"\n'
                    'protocol = "mqttv311"\n[http]\nport = 9000\n')
    config = load_config(path)
    assert config.db_path == tmp_path / "data" / "central.db"
    assert config.registry == tmp_path / "reg.toml"
    assert config.broker.tls and config.broker.port == 8883
    password = config.broker.resolve_password()
    assert password is not None and password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.model_dump())


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text('[broker]\nurll = "mqtt://x:1"\n')
    with pytest.raises(ConfigError, match=r"central.toml: broker.urll: unknown key"):
        load_config(path)


def test_bad_url_is_named(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text('[broker]\nurl = "http://x"\n')
    with pytest.raises(ConfigError, match=r"broker.url: .*mqtt://host:port"):
        load_config(path)


def test_password_from_systemd_credentials(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mqtt-password").write_text("from-credstore")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    password = CentralConfig().broker.resolve_password()
    assert password is not None and password.get_secret_value() == "from-credstore"


def test_relative_paths_are_relative_to_the_file_default_data_dir_included(
        tmp_path: Path) -> None:
    path = tmp_path / "etc" / "central.toml"
    path.parent.mkdir()
    path.write_text('registry = "registry.toml"\n[broker]\nca_file = "ca.crt"\n'
                    'url = "mqtts://broker.example:8883"\n')
    config = load_config(path)
    assert config.registry == path.parent / "registry.toml"
    assert config.data_dir == path.parent / "alarmlink-data"
    assert config.db_path == path.parent / "alarmlink-data" / "central.db"
    assert config.broker.ca_file == path.parent / "ca.crt"


def test_central_retries_the_broker_every_second_on_both_connections(tmp_path: Path) -> None:
    """After a broker restart every alarm waits in central's session until central is
    back: its reconnect wait stays about 1 s (a device's grows to 30 s), unless set."""
    path = tmp_path / "central.toml"
    path.write_text('[broker]\nurl = "mqtt://127.0.0.1:1883"\n'
                    '[telemetry_broker]\nurl = "mqtt://127.0.0.1:1883"\n'
                    'username = "central-telemetry"\n')
    config = load_config(path)
    assert config.broker.reconnect_max_s == 1
    assert config.telemetry_broker is not None
    assert config.telemetry_broker.reconnect_max_s == 1
    path.write_text('[broker]\nurl = "mqtt://127.0.0.1:1883"\nreconnect_max_s = 30\n')
    assert load_config(path).broker.reconnect_max_s == 30
