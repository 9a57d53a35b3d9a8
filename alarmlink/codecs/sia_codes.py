"""SIA-DCS / ADM-CID data blocks of SIA DC-09 frames, and their events.

docs/protocols.md, section "SIA DC-09": a ``SIA-DCS`` data block looks like
``#12345A|NFA129``: account, ``|``, ``N`` (new event), then events separated by ``/``,
each made of optional lowercase modifiers (``ri1`` area, ``id12`` user, ``ti10:30``
time), a two-letter event code and an address (zone). ``^text^`` is free text. The
account may be left out (``|NFA129``, the usual form inside encrypted messages) or
absent with its ``|`` (``NFA129``). An ``ADM-CID`` data block is ``#acct|QXYZ GG CCC``
(or ``|QXYZ GG CCC``) and reuses the Contact ID mapping.

Event codes -> kind/state: :mod:`alarmlink.codecs.sia_code_table`. A status code
(opening, closing...) makes no event; a valid code in neither table makes a
``trouble`` event with the raw code; a token that does not parse at all makes a
``trouble`` event with the raw text, as long as the block holds at least one event
that parses (else the whole block is refused: :class:`DecodeError`).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import NamedTuple

from alarmlink.codecs.common import DecodeError, DetailValue, PanelEvent, clip_zone
from alarmlink.codecs.contactid import ContactIdMessage, to_event
from alarmlink.codecs.sia_code_table import SIA_CODES, SIA_STATUS_CODES, SiaCode, unmapped
from alarmlink.wire import Kind, State

logger = logging.getLogger(__name__)

__all__ = ["SIA_CODES", "SIA_STATUS_CODES", "SiaEvent", "adm_cid_data", "adm_cid_event",
           "parse_sia_data", "sia_data", "sia_events", "split_account"]

_TOKEN = re.compile(r"((?:[a-z]{2}[0-9:]*)*)([A-Z]{2})([0-9A-Za-z]*)(?:\^([^^]*)\^?)?")
_MODS_ONLY = re.compile(r"(?:[a-z]{2}[0-9:]*)+")
_MOD = re.compile(r"([a-z]{2})([0-9:]*)")
_ADM = re.compile(r"([136])([0-9]{3}) ([0-9A-F]{2}) ([0-9A-F]{3})")


class SiaEvent(NamedTuple):
    """One event of a SIA-DCS data block."""

    code: str
    address: str
    area: str
    text: str
    modifiers: tuple[tuple[str, str], ...]


def split_account(data: str) -> tuple[str, str]:
    """``"#12345A|NFA129"`` -> ``("12345A", "NFA129")``; ``"|NFA129"`` -> ``("", "NFA129")``;
    no ``|`` -> ``("", data)``."""
    if data.startswith("|"):
        return "", data[1:]
    if data.startswith("#") and "|" in data:
        acct, _, rest = data[1:].partition("|")
        return acct, rest
    return "", data


def _parse(content: str) -> tuple[list[SiaEvent], list[str]]:
    if content.startswith("N"):
        content = content[1:]
    events: list[SiaEvent] = []
    bad: list[str] = []
    area = ""
    mods: list[tuple[str, str]] = []
    for token in content.split("/"):
        if not token:
            continue
        if _MODS_ONLY.fullmatch(token):
            mods = _MOD.findall(token)
            area = dict(mods).get("ri", area)
            continue
        m = _TOKEN.fullmatch(token)
        if m is None:
            bad.append(token)
            continue
        if m.group(1):
            mods = _MOD.findall(m.group(1))
            area = dict(mods).get("ri", area)
        events.append(SiaEvent(m.group(2), m.group(3), area, m.group(4) or "", tuple(mods)))
    return events, bad


def parse_sia_data(content: str) -> list[SiaEvent]:
    """Events of a SIA-DCS data block (the part after ``|``). Raises :class:`DecodeError`
    on any token that does not parse. A leading ``N`` is the new-event marker and is dropped.
    """
    events, bad = _parse(content)
    if bad:
        raise DecodeError(f"sia_data: cannot parse event {bad[0][:40]!r}")
    return events


def sia_events(account: str, content: str, ts: datetime | None,
               base: dict[str, DetailValue]) -> tuple[list[PanelEvent], list[str]]:
    """Panel events for a SIA-DCS data block, and the status codes that made none.

    Raises :class:`DecodeError` when no token of a non-empty block parses.
    """
    events, bad = _parse(content)
    if bad and not events:
        raise DecodeError(f"sia_data: cannot parse event {bad[0][:40]!r}")
    out: list[PanelEvent] = []
    status: list[str] = []
    prefix = f"sia-{account}" if account else "sia"
    for ev in events:
        entry = SIA_CODES.get(ev.code)
        if entry is None:
            if ev.code in SIA_STATUS_CODES:
                status.append(ev.code)
                continue
            entry = unmapped(ev.code)
        zone = f"{prefix}-z{ev.address}" if ev.address else prefix
        if ev.area:
            zone = f"{zone}-a{ev.area}"
        out.append(_event(entry, zone, ts, base, event_code=ev.code, address=ev.address,
                          area=ev.area, text=ev.text[:256]))
    for token in bad:  # never silence: the officer sees what the panel sent
        out.append(_event(SiaCode(Kind.TROUBLE, State.TROUBLE, False, "unparsed SIA event"),
                          prefix, ts, base, event_code="", raw=token[:256]))
    return out, status


def _event(entry: SiaCode, zone: str, ts: datetime | None, base: dict[str, DetailValue],
           **fields: DetailValue) -> PanelEvent:
    detail = dict(base)
    detail.update(fields, event=entry.text)
    return PanelEvent(entry.kind, entry.state, clip_zone(zone), detail, entry.test, ts)


def adm_cid_event(account: str, content: str, ts: datetime | None,
                  base: dict[str, DetailValue]) -> PanelEvent | None:
    """The event of an ADM-CID data block ``QXYZ GG CCC`` (Contact ID mapping)."""
    m = _ADM.fullmatch(content)
    if m is None:
        raise DecodeError(f"adm_cid_data: {content[:40]!r} is not 'QXYZ GG CCC'")
    msg = ContactIdMessage(account, "18", int(m.group(1)), int(m.group(2)), m.group(3),
                           m.group(4), "")
    event = to_event(msg, "cid", protocol="sia-dc09")
    if event is None:
        return None
    detail = dict(base)
    detail.update(event.detail)
    return PanelEvent(event.kind, event.state, event.zone, detail, event.test, ts)


def sia_data(account: str, code: str, address: str | int = "", area: str | int = "") -> str:
    """A SIA-DCS data block for one event, e.g. ``#12345A|NFA129`` (encoder side)."""
    prefix = f"ri{area}/" if area != "" else ""
    return f"#{account}|N{prefix}{code}{address}"


def adm_cid_data(account: str, event_code: int, qualifier: int = 1, group: int = 0,
                 zone: int = 0) -> str:
    """An ADM-CID data block, e.g. ``#1234|1110 01 015`` (encoder side)."""
    return f"#{account}|{qualifier}{event_code:03d} {group:02d} {zone:03d}"
