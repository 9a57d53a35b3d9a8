"""Helpers and public frames shared by the protocol codec tests (docs/protocols.md)."""

from __future__ import annotations

from collections.abc import Iterable

from alarmlink import wire
from alarmlink.codecs.common import Decoded, PanelEvent

# docs/protocols.md, "GB/T 26875.3-2011", public example: smoke detector fire alarm, type 2.
GB_EXAMPLE = bytes.fromhex(
    "40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 30 00 02"
    " 02 01 01 01 28 0A 00 02 00 02 00 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20"
    " 20 20 20 20 20 20 20 20 20 20 20 20 20 20 00 02 3A 09 1A 09 0C 46 23 23"
)
# ... the centre's published confirm for it, and the deny ("06 AE" for "03 AB").
GB_CONFIRM = bytes.fromhex(
    "40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 03 AB 23 23"
)
GB_DENY = GB_CONFIRM[:-4] + bytes.fromhex("06 AE 23 23")

# docs/protocols.md, "SIA DC-09": example with a valid CRC and length (LF/CR added).
DC09_EXAMPLE = b'\nCE110032"SIA-DCS"9876R579BDFL789ABC#12345A[#12345A|NFA129]\r'

# docs/protocols.md, "Ademco Contact ID": a new event and its restore.
CID_EXAMPLE = "1234181131010158"
CID_RESTORE = "1234183131010156"


def check_contract(events: Iterable[PanelEvent]) -> None:
    """Every event must pass PanelEvent's checks and become a valid wire Event."""
    for ev in events:
        PanelEvent(ev.kind, ev.state, ev.zone, dict(ev.detail), ev.test, ev.ts)
        msg = wire.Event(
            event_id=wire.new_id(), device_id="venue-01", seq=1, ts=ev.ts or wire.utcnow(),
            kind=ev.kind, state=ev.state, zone=ev.zone, source=wire.Source.SERIAL,
            test=ev.test, detail=ev.detail,
        )
        assert wire.decode(wire.Event, wire.encode(msg)) == msg


def all_events(results: Iterable[Decoded]) -> list[PanelEvent]:
    return [ev for r in results for ev in r.events]


def feed_chunks(decoder: object, data: bytes, cuts: list[int]) -> list[Decoded]:
    """Feed ``data`` split at the ``cuts`` offsets, collecting every result."""
    out: list[Decoded] = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in zip(points, points[1:], strict=False):
        out.extend(decoder.feed(data[a:b]))  # type: ignore[attr-defined]
    return out
