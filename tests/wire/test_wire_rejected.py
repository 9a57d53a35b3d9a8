"""The ``rejected`` receipt stage and its ``reason`` (issue 11, line 5)."""

from __future__ import annotations

import json

from alarmlink.wire import Receipt, Stage, decode, encode, new_id, utcnow


def test_reason_is_left_out_unless_set_so_earlier_readers_still_accept_receipts() -> None:
    plain = encode(Receipt(event_id=new_id(), stage=Stage.STORED, ts=utcnow()))
    assert "reason" not in json.loads(plain)
    rejected = Receipt(event_id=new_id(), stage=Stage.REJECTED, ts=utcnow(), reason="bad kind")
    assert decode(Receipt, encode(rejected)) == rejected
