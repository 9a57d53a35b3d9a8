"""Tests of the shared codec types and the decoder registry (alarmlink.codecs.common)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_helpers import CID_EXAMPLE, DC09_EXAMPLE, GB_EXAMPLE, all_events, check_contract

from alarmlink.codecs import (
    PROTOCOLS,
    DecodeError,
    DecoderStats,
    PanelEvent,
    StreamDecoder,
    make_decoder,
)
from alarmlink.codecs.common import clip_zone, trusted_event
from alarmlink.wire import Kind, State

VALID: dict[str, Any] = {"kind": Kind.FIRE, "state": State.ALARM, "zone": "z1"}


def test_panel_event_is_frozen_and_checked() -> None:
    ev = PanelEvent(**VALID, detail={"a": 1}, ts=datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.zone = "other"  # type: ignore[misc]
    check_contract([ev])
    for bad in ({"zone": ""}, {"zone": "x" * 65}, {"detail": {f"k{i}": i for i in range(33)}},
                {"detail": {"k" * 65: 1}}, {"detail": {"k": "v" * 513}},
                {"ts": datetime(2024, 1, 1)}):
        with pytest.raises(ValueError):
            PanelEvent(**{**VALID, **bad})
    assert PanelEvent(**VALID) == trusted_event(Kind.FIRE, State.ALARM, "z1", {})


def test_clip_zone() -> None:
    assert clip_zone("  " + "y" * 80) == "y" * 64
    assert clip_zone("   ") == "panel"


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)
    assert str(DecodeError("checksum: bad")) == "checksum: bad"


@pytest.mark.parametrize("name", PROTOCOLS)
def test_registry_builds_stream_decoders(name: str) -> None:
    dec = make_decoder(name)
    assert isinstance(dec, StreamDecoder) and dec.name == name
    assert isinstance(dec.stats, DecoderStats)
    dec.feed(b"\n@@12")
    dec.reset()
    assert make_decoder(f" {name.upper()} ").name == name


def test_registry_rejects_unknown_names_and_options() -> None:
    with pytest.raises(ValueError, match="gb26875"):
        make_decoder("modbus")
    with pytest.raises(TypeError):
        make_decoder("contactid", checksum="sum")


def test_stats_as_dict() -> None:
    dec = make_decoder("contactid")
    dec.feed(f"{CID_EXAMPLE}\r\nnonsense\r\n".encode())
    counts = dec.stats.as_dict()
    assert counts["frames"] == 1 and counts["events"] == 1 and counts["failed"] == 1
    assert counts["failed_syntax"] == 1


@pytest.mark.parametrize(("name", "bad", "logger_name"), [
    ("gb26875", GB_EXAMPLE[:-3] + b"\x00##", "alarmlink.codecs.gb26875"),
    ("contactid", b"1234181131010159\r", "alarmlink.codecs.contactid"),
    ("sia-dc09", DC09_EXAMPLE.replace(b"CE11", b"CE12"), "alarmlink.codecs.sia_dc09"),
])
def test_rejections_are_logged_at_debug_with_hex(caplog: pytest.LogCaptureFixture, name: str,
                                                 bad: bytes, logger_name: str) -> None:
    caplog.set_level(logging.DEBUG, logger="alarmlink.codecs")
    (result,) = make_decoder(name).feed(bad)
    assert result.events == () and result.error
    (record,) = [r for r in caplog.records if r.name == logger_name]
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    assert bad.rstrip(b"\r").hex(" ") in message and result.error in message


@settings(deadline=None, max_examples=200)
@given(name=st.sampled_from(PROTOCOLS),
       chunks=st.lists(st.one_of(st.binary(max_size=200),
                                 st.sampled_from([GB_EXAMPLE, DC09_EXAMPLE,
                                                  CID_EXAMPLE.encode() + b"\r\n",
                                                  b"@@", b"\r", b"\n", b"##"])),
                       max_size=12))
def test_any_decoder_never_raises_on_mixed_input(name: str, chunks: list[bytes]) -> None:
    dec = make_decoder(name)
    for chunk in chunks:
        check_contract(all_events(dec.feed(chunk)))
