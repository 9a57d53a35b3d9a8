"""Wire contract v1: hypothesis round-trips and rejections of bad payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alarmlink import wire

device_ids = st.from_regex(wire.DEVICE_ID_PATTERN, fullmatch=True)
event_ids = st.builds(wire.new_id)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
zones = st.text(min_size=1, max_size=64)
detail_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=512),
)
details = st.dictionaries(st.text(max_size=64), detail_values, max_size=32)

events = st.builds(
    wire.Event, event_id=event_ids, device_id=device_ids, seq=st.integers(0, 2**53),
    ts=timestamps, kind=st.sampled_from(wire.Kind), state=st.sampled_from(wire.State),
    zone=zones, source=st.sampled_from(wire.Source), test=st.booleans(), detail=details,
)
receipts = st.builds(
    wire.Receipt, event_id=event_ids, stage=st.sampled_from(wire.Stage), ts=timestamps,
    incident_id=st.none() | st.integers(1, 2**31), by=st.none() | st.text(max_size=256),
    outcome=st.none() | st.sampled_from(wire.Outcome),
)
statuses = st.builds(wire.Status, state=st.sampled_from(wire.Availability), ts=timestamps,
                     boot_id=st.text(max_size=64), version=st.text(max_size=32))
heartbeats = st.builds(
    wire.Heartbeat, ts=timestamps, uptime_s=st.floats(0, 1e9), outbox_depth=st.integers(0, 10**6),
    inputs=st.dictionaries(zones, st.sampled_from(["normal", "alarm", "trouble"]), max_size=8),
)
commands = st.builds(wire.Command, cmd_id=event_ids, name=st.sampled_from(wire.CommandName),
                     expires_at=timestamps, by=st.text(max_size=256), args=details)
results = st.builds(wire.CommandResult, cmd_id=event_ids, ok=st.booleans(), ts=timestamps,
                    detail=details)
any_message = st.one_of(events, receipts, statuses, heartbeats, commands, results)


@settings(max_examples=300, deadline=None)
@given(any_message)
def test_encode_decode_round_trip(message: wire.Message) -> None:
    payload = wire.encode(message)
    assert len(payload) <= wire.MAX_PAYLOAD_BYTES
    assert wire.decode(type(message), payload) == message


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_contract_error(data: bytes) -> None:
    for model in wire.JSON_CHANNELS.values():
        with pytest.raises(wire.ContractError):
            wire.decode(model, data)


def _event_dict() -> dict[str, object]:
    return wire.example_payloads()["event"]


@settings(max_examples=100, deadline=None)
@given(key=st.text(min_size=1, max_size=20).filter(lambda k: k not in wire.Event.model_fields))
def test_unknown_field_rejected_and_named(key: str) -> None:
    payload = json.dumps({**_event_dict(), key: 1}).encode()
    with pytest.raises(wire.ContractError, match="unknown key") as info:
        wire.decode(wire.Event, payload)
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("seq", "5", "seq"),
        ("seq", -1, "seq"),
        ("test", "yes", "test"),
        ("kind", "explosion", "kind"),
        ("state", 1, "state"),
        ("ts", "2026-11-28T09:30:00", "timezone"),
        ("device_id", "School/01", "device_id"),
        ("event_id", "not-a-ulid", "event_id"),
        ("zone", "", "zone"),
        ("detail", {"k": [1, 2]}, "detail"),
    ],
)
def test_wrong_types_rejected_with_reason(field: str, value: object, reason: str) -> None:
    payload = json.dumps({**_event_dict(), field: value}).encode()
    with pytest.raises(wire.ContractError, match=reason):
        wire.decode(wire.Event, payload)


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_wrong_schema_version_rejected(version: object) -> None:
    payload = json.dumps({**_event_dict(), "v": version}).encode()
    with pytest.raises(wire.ContractError, match="schema version"):
        wire.decode(wire.Event, payload)


def test_missing_version_rejected() -> None:
    body = _event_dict()
    del body["v"]
    with pytest.raises(wire.ContractError, match="schema version"):
        wire.decode(wire.Event, json.dumps(body).encode())


def test_oversize_payload_rejected_before_parsing() -> None:
    payload = json.dumps({**_event_dict(), "detail": {"x": "a" * 500}}).encode()
    payload = payload + b" " * (wire.MAX_PAYLOAD_BYTES + 1 - len(payload))
    with pytest.raises(wire.ContractError, match="over the 16384-byte limit"):
        wire.decode(wire.Event, payload)


@pytest.mark.parametrize("payload", [b"[]", b"42", b'"event"', b"\xff\xfe", b"{", b""])
def test_non_object_payloads_rejected(payload: bytes) -> None:
    with pytest.raises(wire.ContractError):
        wire.decode(wire.Event, payload)


def test_every_channel_has_a_documented_example_that_decodes() -> None:
    examples = wire.example_payloads()
    assert set(examples) == set(wire.JSON_CHANNELS)
    for channel, body in examples.items():
        wire.decode(wire.model_for(channel), json.dumps(body).encode())


@given(device_id=device_ids, event_id=event_ids)
def test_topics_round_trip(device_id: str, event_id: str) -> None:
    topics = wire.Topics("site/x")
    for channel in wire.JSON_CHANNELS:
        assert topics.parse(topics.device(device_id, channel)) == (device_id, channel, None)
    assert topics.parse(topics.snapshot(device_id, event_id)) == (device_id, "snapshot", event_id)


@pytest.mark.parametrize(
    "topic",
    [
        "alarmlink/v1/dev/school-01/evil",
        "alarmlink/v1/dev/School 01/event",
        "alarmlink/v2/dev/school-01/event",
        "alarmlink/v1/dev/school-01/snapshot/xyz",
        "alarmlink/v1/dev/school-01",
    ],
)
def test_bad_topics_rejected(topic: str) -> None:
    with pytest.raises(wire.ContractError):
        wire.Topics().parse(topic)


def test_prefix_cannot_hold_wildcards() -> None:
    with pytest.raises(ValueError, match="prefix"):
        wire.Topics("alarmlink/#")


@settings(max_examples=50)
@given(device_ids=st.lists(device_ids, min_size=1, max_size=5))
def test_topics_remembered_answer_as_the_first_time_and_bad_ones_never_pass(
        device_ids: list[str]) -> None:
    """Central parses every message's topic: what a Topics remembers answers exactly as
    parsing did, a bad topic or device id is refused every time, and the memory is
    bounded."""
    topics = wire.Topics()
    for _ in range(2):
        for device_id in device_ids:
            topic = topics.event(device_id)
            assert topics.parse(topic) == (device_id, "event", None)
            for bad in (topic + "/x", topic.replace(device_id, "Bad Id")):
                with pytest.raises(wire.ContractError):
                    topics.parse(bad)
            with pytest.raises(wire.ContractError):
                topics.event(device_id + " ")


def test_the_topic_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from alarmlink.wire import topics as topics_module
    monkeypatch.setattr(topics_module, "MEMO_MAX", 10)
    topics = wire.Topics()
    for n in range(25):
        device_id = f"dev-{n:03d}"
        assert topics.parse(topics.heartbeat(device_id)) == (device_id, "heartbeat", None)
        assert len(topics._parsed) <= 10 and len(topics._checked) <= 10
