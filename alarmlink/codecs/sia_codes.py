"""SIA event codes and SIA-DCS / ADM-CID data blocks of SIA DC-09 frames.

docs/protocols.md, section "SIA DC-09": a ``SIA-DCS`` data block looks like
``#12345A|NFA129``: account, ``|``, ``N`` (new event), then events separated by ``/``,
each made of optional lowercase modifiers (``ri1`` area, ``id12`` user, ``ti10:30``
time), a two-letter event code and an address (zone). ``^text^`` is free text. An
``ADM-CID`` data block is ``#acct|QXYZ GG CCC`` and reuses the Contact ID mapping.

Two-letter code -> event (:data:`SIA_CODES`; codes not listed make no event):

====================================  =============================================
codes                                 kind / state
====================================  =============================================
FA / FH, FR                           fire / alarm, restore
KA / KH, KR                           heat / alarm, restore
SA / SH, SR (sprinkler)               fire / alarm, restore
PA, HA (panic, hold-up) / PH PR HH HR panic / alarm, restore
MA / MH, MR                           medical / alarm, restore
BA / BH, BR (burglary, as Contact ID) tamper / alarm, restore
TA / TR                               tamper / alarm, restore
GA / GH, GR (gas)                     trouble / alarm, restore
FT FS PT MT BT KT ET LT YC YS / FJ FV trouble / trouble, restore
PJ MJ BJ KJ ER LR YK
AT YT YP / AR YR YQ                   power / trouble, restore (AC, battery, supply)
RP RX FX FI / FK                      test / alarm (restore for FK), test=True
====================================  =============================================
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import NamedTuple

from alarmlink.codecs.common import DecodeError, DetailValue, PanelEvent, clip_zone
from alarmlink.codecs.contactid import ContactIdMessage, to_event
from alarmlink.wire import Kind, State

logger = logging.getLogger(__name__)

_A, _R, _T = State.ALARM, State.RESTORE, State.TROUBLE

SIA_CODES: dict[str, tuple[Kind, State, bool, str]] = {
    "FA": (Kind.FIRE, _A, False, "fire alarm"), "FH": (Kind.FIRE, _R, False, "fire restore"),
    "FR": (Kind.FIRE, _R, False, "fire restoral"),
    "KA": (Kind.HEAT, _A, False, "heat alarm"), "KH": (Kind.HEAT, _R, False, "heat restore"),
    "KR": (Kind.HEAT, _R, False, "heat restoral"),
    "SA": (Kind.FIRE, _A, False, "sprinkler alarm"),
    "SH": (Kind.FIRE, _R, False, "sprinkler restore"),
    "SR": (Kind.FIRE, _R, False, "sprinkler restoral"),
    "PA": (Kind.PANIC, _A, False, "panic alarm"), "PH": (Kind.PANIC, _R, False, "panic restore"),
    "PR": (Kind.PANIC, _R, False, "panic restoral"),
    "HA": (Kind.PANIC, _A, False, "hold-up alarm"),
    "HH": (Kind.PANIC, _R, False, "hold-up restore"),
    "HR": (Kind.PANIC, _R, False, "hold-up restoral"),
    "MA": (Kind.MEDICAL, _A, False, "medical alarm"),
    "MH": (Kind.MEDICAL, _R, False, "medical restore"),
    "MR": (Kind.MEDICAL, _R, False, "medical restoral"),
    "BA": (Kind.TAMPER, _A, False, "burglary alarm"),
    "BH": (Kind.TAMPER, _R, False, "burglary restore"),
    "BR": (Kind.TAMPER, _R, False, "burglary restoral"),
    "TA": (Kind.TAMPER, _A, False, "tamper alarm"),
    "TR": (Kind.TAMPER, _R, False, "tamper restoral"),
    "GA": (Kind.TROUBLE, _A, False, "gas alarm"), "GH": (Kind.TROUBLE, _R, False, "gas restore"),
    "GR": (Kind.TROUBLE, _R, False, "gas restoral"),
    "AT": (Kind.POWER, _T, False, "AC trouble"), "AR": (Kind.POWER, _R, False, "AC restoral"),
    "YT": (Kind.POWER, _T, False, "system battery trouble"),
    "YR": (Kind.POWER, _R, False, "system battery restoral"),
    "YP": (Kind.POWER, _T, False, "power supply trouble"),
    "YQ": (Kind.POWER, _R, False, "power supply restored"),
    "RP": (Kind.TEST, _A, True, "automatic test"), "RX": (Kind.TEST, _A, True, "manual test"),
    "FX": (Kind.TEST, _A, True, "fire test"), "FI": (Kind.TEST, _A, True, "fire test begin"),
    "FK": (Kind.TEST, _R, True, "fire test end"),
}
for _code, _text in (("FT", "fire trouble"), ("FS", "fire supervisory"),
                     ("PT", "panic trouble"), ("MT", "medical trouble"),
                     ("BT", "burglary trouble"), ("KT", "heat trouble"),
                     ("ET", "expansion trouble"), ("LT", "phone line trouble"),
                     ("YC", "communications fail"), ("YS", "communications trouble")):
    SIA_CODES[_code] = (Kind.TROUBLE, _T, False, _text)
for _code, _text in (("FJ", "fire trouble restore"), ("FV", "fire supervisory restore"),
                     ("PJ", "panic trouble restore"), ("MJ", "medical trouble restore"),
                     ("BJ", "burglary trouble restore"), ("KJ", "heat trouble restore"),
                     ("ER", "expansion restoral"), ("LR", "phone line restoral"),
                     ("YK", "communications restoral")):
    SIA_CODES[_code] = (Kind.TROUBLE, _R, False, _text)

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
    """``"#12345A|NFA129"`` -> ``("12345A", "NFA129")``; no ``#acct|`` -> ``("", data)``."""
    if data.startswith("#") and "|" in data:
        acct, _, rest = data[1:].partition("|")
        return acct, rest
    return "", data


def parse_sia_data(content: str) -> list[SiaEvent]:
    """Events of a SIA-DCS data block (the part after ``|``). Raises :class:`DecodeError`.

    A leading ``N`` is the new-event marker and is dropped.
    """
    if content.startswith("N"):
        content = content[1:]
    events: list[SiaEvent] = []
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
            raise DecodeError(f"sia_data: cannot parse event {token[:40]!r}")
        if m.group(1):
            mods = _MOD.findall(m.group(1))
            area = dict(mods).get("ri", area)
        events.append(SiaEvent(m.group(2), m.group(3), area, m.group(4) or "", tuple(mods)))
    return events


def sia_events(account: str, content: str, ts: datetime | None,
               base: dict[str, DetailValue]) -> tuple[list[PanelEvent], list[str]]:
    """Panel events for a SIA-DCS data block, and the codes that have no mapping."""
    out: list[PanelEvent] = []
    unmapped: list[str] = []
    for ev in parse_sia_data(content):
        entry = SIA_CODES.get(ev.code)
        if entry is None:
            unmapped.append(ev.code)
            continue
        kind, state, test, text = entry
        zone = f"sia-{account}-z{ev.address}" if ev.address else f"sia-{account}"
        if ev.area:
            zone = f"{zone}-a{ev.area}"
        detail = dict(base)
        detail.update(event_code=ev.code, event=text, address=ev.address, area=ev.area,
                      text=ev.text[:256])
        out.append(PanelEvent(kind, state, clip_zone(zone), detail, test, ts))
    return out, unmapped


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
