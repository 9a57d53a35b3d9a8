"""The docs stay true: protocol example frames decode, wire examples validate.

docs/protocols.md: every worked example frame is decoded by the real codec.

An example is a fenced block whose info string is a protocol name (``gb26875``,
``contactid``, ``sia-dc09``), followed by a ``json decoded`` block saying what the codec
must produce: the answer written back on the line and the events (kind, state, zone,
and any ``test``, ``ts`` or ``detail`` fields given). Besides the codec, the test checks
each frame against the rules the page states (GB 26875 sum checksum, Contact ID digit
sum, DC-09 CRC-16/ARC and length), computed here independently of the codecs.

docs/wire.md: every JSON example validates against the model of its topic section, the
examples of ``wire.example_payloads()`` are there verbatim, and so are the limits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from alarmlink import wire
from alarmlink.codecs import Decoded, PanelEvent, make_decoder

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "protocols.md"
WIRE_DOC = ROOT / "docs" / "wire.md"
SECTIONS = {"gb26875": "GB/T 26875.3-2011", "contactid": "Ademco Contact ID",
            "sia-dc09": "SIA DC-09"}
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Example:
    protocol: str
    text: str
    expected: dict[str, Any]
    line: int
    section: str

    @property
    def id(self) -> str:
        return f"{self.protocol}-line{self.line}"


def _section_at(doc: str, pos: int) -> str:
    headings = re.findall(r"^## (.+)$", doc[:pos], re.M)
    return headings[-1].strip() if headings else ""


def load_examples() -> list[Example]:
    doc = DOC.read_text(encoding="utf-8")
    blocks = [(m.group(1).split(), m.group(2), m.start()) for m in _FENCE.finditer(doc)]
    examples = []
    for index, (info, body, start) in enumerate(blocks):
        if not info or info[0] not in SECTIONS:
            continue
        line = doc.count("\n", 0, start) + 1
        nxt = blocks[index + 1] if index + 1 < len(blocks) else None
        if nxt is None or nxt[0] != ["json", "decoded"]:
            raise AssertionError(f"docs/protocols.md:{line}: a {info[0]} example must be "
                                 "followed by a ```json decoded block")
        try:
            expected = json.loads(nxt[1])
        except json.JSONDecodeError as exc:
            raise AssertionError(f"docs/protocols.md:{line}: decoded block: {exc}") from None
        examples.append(Example(info[0], body.strip(), expected, line,
                                _section_at(doc, start)))
    return examples


EXAMPLES = load_examples()


def _wire_bytes(example: Example) -> bytes:
    if example.protocol == "gb26875":
        return bytes.fromhex(example.text)
    if example.protocol == "contactid":
        return example.text.encode("ascii") + b"\r\n"
    return b"\n" + example.text.encode("ascii") + b"\r"  # shown without LF and CR


def _expected_reply(example: Example) -> bytes | None:
    reply = example.expected.get("reply")
    if reply is None:
        return None
    if example.protocol == "gb26875":
        return bytes.fromhex(reply)
    return b"\n" + reply.encode("ascii") + b"\r"


def _decoder(example: Example) -> Any:
    options: dict[str, Any] = {}
    if "centre_time" in example.expected:
        moment = datetime.fromisoformat(example.expected["centre_time"])
        options["clock"] = lambda: moment
    return make_decoder(example.protocol, **options)


# --- the rules as the page states them, independently of the codecs -------------------

def gb_checksum_ok(frame: bytes) -> bool:
    """@@ ... ##, length field right, checksum = sum of bytes 2 .. end of app data mod 256."""
    length = int.from_bytes(frame[24:26], "little")
    return (frame[:2] == b"@@" and frame[-2:] == b"##" and len(frame) == 30 + length
            and sum(frame[2:27 + length]) % 256 == frame[27 + length])


def cid_checksum_ok(line: str) -> bool:
    """The 16 digit values (0 counts 10, B-F 11-15) sum to a multiple of 15."""
    digits = line.replace(" ", "")
    values = [10 if c == "0" else int(c, 16) for c in digits]
    return len(digits) == 16 and "A" not in digits and sum(values) % 15 == 0


def crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def dc09_fields_ok(frame: bytes) -> bool:
    """LF, CRC-16/ARC and 0LLL length of the bytes from the first quote to the CR, CR."""
    body = frame[9:-1]
    return (frame[:1] == b"\n" and frame[-1:] == b"\r" and body[:1] == b'"'
            and frame[1:5] == b"%04X" % crc16_arc(body)
            and frame[5:9] == b"0%03X" % len(body))


def _check_rules(example: Example, frame: bytes, reply: bytes | None) -> None:
    if example.protocol == "gb26875":
        assert gb_checksum_ok(frame), "frame breaks the documented checksum rule"
        assert reply is not None and gb_checksum_ok(reply), "answer breaks the checksum rule"
    elif example.protocol == "contactid":
        assert cid_checksum_ok(example.text), "message breaks the documented digit-sum rule"
    else:
        assert dc09_fields_ok(frame), "frame's CRC or length field is wrong"
        assert reply is not None and dc09_fields_ok(reply), "answer's CRC or length is wrong"


# --- the tests -------------------------------------------------------------------------

def test_the_page_has_its_sections_and_an_example_for_each_protocol() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for heading in SECTIONS.values():  # code comments point at these headings
        assert re.search(rf"^## {re.escape(heading)}$", doc, re.M), f"no '## {heading}'"
    assert {e.protocol for e in EXAMPLES} == set(SECTIONS)


def _check_event(event: PanelEvent, want: dict[str, Any], where: str) -> None:
    assert event.kind.value == want["kind"], where
    assert event.state.value == want["state"], where
    assert event.zone == want["zone"], where
    if "test" in want:
        assert event.test is want["test"], where
    if "ts" in want:
        got = None if event.ts is None else event.ts.isoformat()
        assert got == want["ts"], where
    for key, value in want.get("detail", {}).items():
        assert key in event.detail, f"{where}: detail has no {key!r}"
        assert event.detail[key] == value, f"{where}: detail[{key!r}]"
    # what the agent publishes: a valid wire Event with source=serial
    message = wire.Event(event_id=wire.new_id(), device_id="venue-01", seq=1,
                         ts=event.ts or wire.utcnow(), kind=event.kind, state=event.state,
                         zone=event.zone, source=wire.Source.SERIAL, test=event.test,
                         detail=event.detail)
    assert wire.decode(wire.Event, wire.encode(message)) == message


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_documented_example_decodes_as_documented(example: Example) -> None:
    where = f"docs/protocols.md:{example.line}"
    assert example.section == SECTIONS[example.protocol], \
        f"{where}: a {example.protocol} example under '## {example.section}'"
    frame = _wire_bytes(example)
    results: list[Decoded] = _decoder(example).feed(frame)
    assert len(results) == 1, f"{where}: {len(results)} results"
    result = results[0]
    assert result.error is None, f"{where}: rejected: {result.error}"
    assert result.reply == _expected_reply(example), f"{where}: answer differs"
    wanted = example.expected["events"]
    assert len(result.events) == len(wanted), f"{where}: {result.events}"
    for number, (event, want) in enumerate(zip(result.events, wanted, strict=True)):
        _check_event(event, want, f"{where} event {number}")
    _check_rules(example, frame, result.reply)

    # the same bytes one at a time (a serial port delivers any chunking)
    decoder = _decoder(example)
    trickled = [r for b in range(len(frame)) for r in decoder.feed(frame[b:b + 1])]
    assert [(r.events, r.reply) for r in trickled] == [(result.events, result.reply)]


# --- docs/wire.md ------------------------------------------------------------------------

def test_wire_doc_has_every_topic_with_its_example_and_the_limits() -> None:
    doc = WIRE_DOC.read_text(encoding="utf-8")
    for channel, example in wire.example_payloads().items():
        assert f"### `{channel}`" in doc, f"no section for topic {channel}"
        assert f"`{{prefix}}/dev/{{device_id}}/{channel}`" in doc, f"{channel} not in the table"
        assert json.dumps(example) in doc, f"example payload for {channel} is out of date"
    assert "### `snapshot/{event_id}`" in doc
    for fact in (f"{wire.MAX_PAYLOAD_BYTES // 1024} KiB", f"{wire.MAX_SNAPSHOT_BYTES // 1024} KiB",
                 wire.DEVICE_ID_PATTERN, wire.ULID_PATTERN, wire.DEFAULT_PREFIX,
                 f"`v: {wire.SCHEMA_VERSION}`"):
        assert fact in doc, f"docs/wire.md does not say {fact!r}"


def test_every_wire_doc_example_is_valid() -> None:
    doc = WIRE_DOC.read_text(encoding="utf-8")
    checked = 0
    for match in _FENCE.finditer(doc):
        info, body = match.group(1).strip(), match.group(2).strip()
        heading = re.findall(r"^### `([^`]+)`", doc[:match.start()], re.M)
        where = f"docs/wire.md:{doc.count(chr(10), 0, match.start()) + 1}"
        if info == "json":
            data = body.encode()
            if '"v":' in body:
                wire.decode(wire.model_for(heading[-1]), data)
            else:  # the args of a snapshot command
                assert heading[-1] == "cmd", where
                wire.SnapshotRequest.model_validate_json(data)
            checked += 1
        elif info == "text" and heading[-1] == "rtc/rec/{session_id}":
            header = wire.decode(wire.RecChunk, body.splitlines()[0].encode())
            assert header.chunk_length() == wire.REC_CHUNK_BYTES, where
            assert f"<{wire.REC_CHUNK_BYTES} bytes" in body, where
            checked += 1
        elif body.startswith(wire.SNAPSHOT_META_TAG.decode()):
            wire.decode(wire.SnapshotMeta, body.encode()[len(wire.SNAPSHOT_META_TAG):])
            checked += 1
    assert checked >= len(wire.JSON_CHANNELS) + 3
