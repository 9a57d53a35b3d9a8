"""alarmlink.mqtt without a broker: backoff, refusal causes, CONNACK and SUBACK handling."""

from __future__ import annotations

import logging
import random
import ssl
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.config_base import ConfigError
from alarmlink.mqtt import (
    Availability,
    MqttClient,
    MqttConnectError,
    connect_client,
    make_client,
    paho_client,
)
from alarmlink.mqtt.factory import connect_options
from alarmlink.mqtt.reasons import (
    Backoff,
    check_suback,
    connect_cause,
    is_refused,
    subscribe_cause,
)


def config(**overrides: Any) -> BrokerConfig:
    fields: dict[str, Any] = {"url": "mqtt://127.0.0.1:1", "username": "school-01",
                              "password": "pw", "reconnect_min_s": 1, "reconnect_max_s": 8}
    fields.update(overrides)
    return BrokerConfig(**fields)


def connack(code: int) -> ReasonCode:
    return ReasonCode(PacketTypes.CONNACK, identifier=code)


def suback(code: int) -> ReasonCode:
    return ReasonCode(PacketTypes.SUBACK, identifier=code)


class FakePaho:
    """Stands in for the paho client that paho passes to callbacks."""

    def __init__(self) -> None:
        self.subscriptions: list[list[tuple[str, int]]] = []
        self.published: list[tuple[str, bytes, int, bool]] = []

    def subscribe(self, wanted: list[tuple[str, int]]) -> tuple[MQTTErrorCode, int]:
        self.subscriptions.append(wanted)
        return MQTTErrorCode.MQTT_ERR_SUCCESS, 40 + len(self.subscriptions)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.published.append((topic, payload, qos, retain))


# --- backoff ------------------------------------------------------------------------


@pytest.mark.parametrize(("low", "high"), [(1, 30), (1, 1), (5, 7), (2, 3600)])
def test_backoff_stays_within_bounds_and_grows(low: int, high: int) -> None:
    backoff = Backoff(low, high, random.Random(7))
    delays = [backoff.next_delay() for _ in range(200)]
    assert all(0.8 * low <= d <= high for d in delays)
    assert 0.8 * low <= delays[0] <= 1.2 * low  # the first retry is quick
    assert max(delays[-20:]) > high / 2 or high == low  # and it reaches the ceiling
    backoff.reset()
    assert 0.8 * low <= backoff.next_delay() <= 1.2 * low


def test_backoff_has_jitter() -> None:
    backoff = Backoff(1, 30, random.Random(3))
    for _ in range(10):
        backoff.next_delay()
    late = {round(backoff.next_delay(), 3) for _ in range(20)}
    assert len(late) > 10  # devices do not retry in step after a broker restart


def test_first_retry_is_jittered_across_a_fleet() -> None:
    """A broker restart drops every device at once: their first retries must not coincide."""
    firsts = [Backoff(1, 30, random.Random(seed)).next_delay() for seed in range(1000)]
    assert min(firsts) >= 0.8 and max(firsts) <= 1.2
    assert max(firsts) - min(firsts) > 0.3  # spread over most of the ±20 % window
    in_any_10ms = max(sum(1 for f in firsts if t <= f < t + 0.01)
                      for t in (0.8 + k * 0.01 for k in range(40)))
    assert in_any_10ms < 60  # about 25 expected; without jitter all 1000 fall together


def test_backoff_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="min_s <= max_s"):
        Backoff(5, 1)


def test_paho_waits_exactly_the_delay_we_choose(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins the paho behaviour the client relies on: reconnect_delay_set() from a failure
    callback sets the very next wait of paho's reconnect loop."""
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(mqtt, "time_func", lambda: clock[0])
    monkeypatch.setattr(mqtt.time, "sleep", sleep)
    client = MqttClient(config(reconnect_min_s=2, reconnect_max_s=20),
                        backoff=Backoff(2, 20, random.Random(5)))
    waits = []
    for _ in range(8):
        client._on_connect_fail(client.paho, None)
        before = clock[0]
        client.paho._reconnect_wait()
        waits.append(clock[0] - before)
        assert waits[-1] == pytest.approx(client.next_retry_s)
    assert all(1.6 <= w <= 20 for w in waits)
    assert 1.6 <= waits[0] <= 2.4 and max(waits) > 10


# --- causes in words ----------------------------------------------------------------


@pytest.mark.parametrize(("code", "words"), [
    (0x86, "bad user name or password"), (0x87, "not authorised"),
    (0x88, "server unavailable"), (0x85, "bad client id"),
    (0x84, "unsupported protocol version"), (0x8A, "banned"), (0xFE, "refused")])
def test_connect_causes_are_one_readable_line(code: int, words: str) -> None:
    text = connect_cause(connack(code) if code != 0xFE else code)
    assert words in text and f"{code:#04x}" in text and "\n" not in text


def test_mqtt311_return_codes_are_read_as_such() -> None:
    assert "bad user name or password" in connect_cause(4, mqtt311=True)
    assert "not authorised" in connect_cause(5, mqtt311=True)
    assert "server unavailable" in connect_cause(3, mqtt311=True)
    assert "bad client id" in connect_cause(2, mqtt311=True)


def test_subscribe_causes_cover_v5_and_311_refusals() -> None:
    assert "ACL" in subscribe_cause(suback(0x80))  # Mosquitto's denial; 3.1.1's only code
    assert "not authorised" in subscribe_cause(suback(0x87))
    assert is_refused(suback(0x80)) and is_refused(0x87)
    assert not is_refused(suback(1)) and not is_refused(0)


def test_check_suback_matches_codes_to_filters() -> None:
    wanted = [("a", 1), ("b", 1), ("c", 1), ("d", 1)]
    refused, notes = check_suback(wanted, [suback(1), suback(0x80), suback(0)])
    assert list(refused) == ["b", "d"] and "no reason code" in refused["d"]
    assert notes == ["broker granted QoS 0, not 1, for c"]
    assert check_suback(wanted[:1], [suback(2)]) == ({}, [])


# --- construction -------------------------------------------------------------------


def test_paho_client_protocols_and_sessions() -> None:
    assert paho_client().protocol == MQTTProtocolVersion.MQTTv5
    v311 = paho_client(client_id="x", protocol="mqttv311", clean=False)
    assert v311.protocol == MQTTProtocolVersion.MQTTv311
    with pytest.raises(ValueError):  # paho: a persistent 3.1.1 session needs a client id
        paho_client(protocol="mqttv311", clean=False)


def test_make_client_credentials_tls_and_queue(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("not read until connect")
    client = make_client(config(url="mqtts://broker.example:8883", client_id="cid"))
    assert client.username == "school-01" and client.password == "pw"
    assert client.max_queued_messages == 0  # unlimited: nothing is dropped while offline
    assert client._ssl_context is not None
    assert client._ssl_context.verify_mode == ssl.CERT_REQUIRED
    plain = make_client(config())
    assert plain._ssl_context is None


def test_missing_password_is_a_config_error_only_when_required() -> None:
    no_password = config(password=None)
    assert make_client(no_password).password is None
    with pytest.raises(ConfigError, match="no password"):
        make_client(no_password, require_password=True)


def test_connect_options_persistent_or_clean() -> None:
    persistent = connect_options(config(session_expiry_s=600), clean=False)
    assert persistent["clean_start"] is False
    assert persistent["properties"].SessionExpiryInterval == 600
    assert connect_options(config(), clean=True) == {"clean_start": True}
    assert connect_options(config(session_expiry_s=0), clean=False) == {"clean_start": True}
    assert connect_options(config(protocol="mqttv311"), clean=False) == {}


def test_connect_client_unreachable_broker_is_a_readable_error() -> None:
    with pytest.raises(MqttConnectError, match="cannot reach mqtt://127.0.0.1:1"):
        connect_client(config(), timeout=2)


# --- CONNACK and SUBACK handling ------------------------------------------------------


def connect(client: MqttClient, fake: FakePaho, code: int = 0, session: bool = False) -> None:
    """paho's on_connect for a CONNACK with ``code``."""
    client._on_connect(fake, None, mqtt.ConnectFlags(session_present=session), connack(code),
                       None)


def drop(client: MqttClient, fake: FakePaho) -> None:
    """paho's on_disconnect for a closed socket."""
    flags = mqtt.DisconnectFlags(is_disconnect_packet_from_server=False)
    client._on_disconnect(fake, None, flags, connack(0x80), None)


def make(**hooks: Any) -> MqttClient:
    client = MqttClient(config(), name="school-01", backoff=Backoff(1, 8, random.Random(2)),
                        availability=Availability("st", online=lambda: b"online",
                                                  offline=lambda: b"offline"), **hooks)
    client.subscribe("rx/receipt", lambda _m: None, qos=1)
    client.subscribe("rx/cmd", lambda _m: None, qos=1)
    return client


def test_refused_connect_is_never_marked_connected(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    client = make(on_connected=lambda: calls.append("up"))
    fake = FakePaho()
    for attempt in range(3):
        connect(client, fake, 0x86)
        drop(client, fake)
        assert not client.connected and not client.ready
        assert 0.8 <= (client.next_retry_s or 0) <= 8, attempt
    assert calls == [] and client.connect_count == 0
    assert fake.subscriptions == [] and fake.published == []  # nothing sent on a refusal
    assert "bad user name or password" in (client.last_error or "")
    refusals = [r.getMessage() for r in caplog.records
                if "refused the connection" in r.getMessage()]
    assert refusals and "school-01" in refusals[0]


def test_accepted_connect_subscribes_publishes_online_and_checks_suback(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="alarmlink.mqtt")
    calls: list[str] = []
    client = make(on_connected=lambda: calls.append("up"))
    fake = FakePaho()
    connect(client, fake, session=True)
    assert client.connected and not client.ready  # no SUBACK yet
    assert calls == ["up"] and client.session_present is True
    # MQTT 5: retained messages only for a subscription the session does not hold yet
    assert [[(flt, opts.QoS, opts.retainHandling) for flt, opts in sub]
            for sub in fake.subscriptions] == [[("rx/receipt", 1, 1), ("rx/cmd", 1, 1)]]
    assert fake.published == [("st", b"online", 1, True)]
    client._on_subscribe(fake, None, 41, [suback(1), suback(1)], None)
    assert client.ready and client.refused == {}


@pytest.mark.parametrize("code", [0x80, 0x87])
def test_refused_subscription_is_an_error_and_not_ready(
        code: int, caplog: pytest.LogCaptureFixture) -> None:
    client = make()
    fake = FakePaho()
    connect(client, fake)
    client._on_subscribe(fake, None, 41, [suback(1), suback(code)], None)
    assert client.connected and not client.ready
    assert list(client.refused) == ["rx/cmd"]
    assert "rx/cmd" in (client.last_error or "") and "refused" in (client.last_error or "")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("refused the subscription to rx/cmd" in r.getMessage() for r in errors)
    # the next connect asks again, and a granted SUBACK clears it
    drop(client, fake)
    connect(client, fake, session=True)
    client._on_subscribe(fake, None, 42, [suback(1), suback(1)], None)
    assert client.ready and client.refused == {} and client.last_error is None


def test_suback_for_another_request_is_ignored() -> None:
    client = make()
    fake = FakePaho()
    connect(client, fake)
    client._on_subscribe(fake, None, 999, [suback(0x80)], None)
    assert client.refused == {} and not client.ready


def test_a_raising_handler_or_hook_never_reaches_paho(caplog: pytest.LogCaptureFixture) -> None:
    def boom(*_a: Any) -> None:
        raise RuntimeError("bug")

    client = MqttClient(config(), on_connected=boom)
    client.subscribe("a/b", boom)
    connect(client, FakePaho())
    message = mqtt.MQTTMessage(topic=b"a/b")
    client.paho._handle_on_message(message)  # paho's own dispatch to per-topic callbacks
    assert sum("failed" in r.getMessage() for r in caplog.records) == 2


def test_subscribe_after_start_is_refused() -> None:
    client = MqttClient(config())
    client._started = True
    with pytest.raises(RuntimeError, match="before start"):
        client.subscribe("a/b", lambda _m: None)


def test_last_will_is_the_offline_status(monkeypatch: pytest.MonkeyPatch) -> None:
    client = make()
    monkeypatch.setattr(client.paho, "loop_start", lambda: MQTTErrorCode.MQTT_ERR_SUCCESS)
    client.start()
    assert client.paho.will_topic == "st" and client.paho.will_payload == b"offline"
    client._started = False


def test_session_taken_over_is_counted_and_named_once(caplog: pytest.LogCaptureFixture) -> None:
    """Mosquitto 2.0.11 closes a taken-over connection without flushing its DISCONNECT, so
    no test broker here sends 0x8E: this feeds paho's callback the packet's reason code."""
    client = MqttClient(config(), name="school-01")
    taken = ReasonCode(PacketTypes.DISCONNECT, identifier=0x8E)
    lost = ReasonCode(PacketTypes.DISCONNECT, identifier=0x80)
    with caplog.at_level(logging.ERROR, logger="alarmlink.mqtt.client"):
        client._on_disconnect(client.paho, None, None, taken, None)
        client._on_disconnect(client.paho, None, None, lost, None)
    assert client.takeovers == 1
    lines = [r.getMessage() for r in caplog.records if "taken over" in r.getMessage()]
    assert len(lines) == 1 and "0x8E" in lines[0] and "school-01" in lines[0]


def test_client_id_is_the_user_name_and_a_different_one_is_warned_once(
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(username="hotel-01", client_id="alarmlink-hotel")
    with caplog.at_level(logging.WARNING, logger="alarmlink.broker_endpoint"):
        assert cfg.effective_client_id == "hotel-01"
        assert cfg.effective_client_id == "hotel-01"
        assert MqttClient(cfg).client_id == "hotel-01"
    assert len([r for r in caplog.records if "client_id" in r.getMessage()]) == 1
    assert config(username="hotel-01").effective_client_id == "hotel-01"
