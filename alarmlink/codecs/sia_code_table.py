"""The SIA event-code table (SIA DC-03 two-letter codes) -> wire kind and state.

docs/protocols.md, section "SIA DC-09", "Event codes". Most codes are built from a
*family* letter (what kind of zone) and a *suffix* letter (what happened):

========  ===================================  ===================================
suffix    meaning                              kind / state
========  ===================================  ===================================
``A``     alarm                                family kind / ``alarm``
``H``     alarm restore                        family kind / ``restore``
``R``     restoral                             family kind / ``restore``
``M``     alarm, cross point                   family kind / ``alarm``
``T``     trouble                              ``trouble`` / ``trouble``
``S``     supervisory                          ``trouble`` / ``trouble``
``J``     trouble restore                      ``trouble`` / ``restore``
``V``     supervisory restore                  ``trouble`` / ``restore``
``X``     test                                 ``test`` / ``alarm``, marked test
``B U``   bypass / unbypass                    status only (no event)
========  ===================================  ===================================

Families: ``F`` fire, ``S`` sprinkler (both kind ``fire``), ``K`` heat, ``P`` panic,
``H`` hold-up (both ``panic``), ``M`` medical, ``Q`` emergency (both ``medical``),
``B`` burglary, ``U`` untyped zone (both ``tamper``, as Contact ID 130-140), ``G`` gas,
``W`` water, ``Z`` freeze (all ``trouble`` / ``alarm``, as Contact ID 150-199).
Single codes (power, communications, tests, tamper) are listed in :data:`_SINGLE`;
openings, closings, access and programming codes are :data:`SIA_STATUS_CODES` (ACKed,
counted, no event). Any other two-letter code is *valid but unmapped*: it becomes a
``trouble`` event carrying the raw code, never silence.

The same real-world event gives the same kind and state as Contact ID
(:mod:`alarmlink.codecs.contactid`); ``tests/protocols/test_protocols_code_tables.py``
checks the equivalent pairs (``FA``/110, ``WA``/154, ``AT``/301...).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from alarmlink.wire import Kind, State

logger = logging.getLogger(__name__)


class SiaCode(NamedTuple):
    """What a SIA code means on the wire contract."""

    kind: Kind
    state: State
    test: bool
    text: str


_A, _R, _T = State.ALARM, State.RESTORE, State.TROUBLE

_FAMILIES: dict[str, tuple[Kind, str]] = {
    "F": (Kind.FIRE, "fire"), "S": (Kind.FIRE, "sprinkler"), "K": (Kind.HEAT, "heat"),
    "P": (Kind.PANIC, "panic"), "H": (Kind.PANIC, "hold-up"),
    "M": (Kind.MEDICAL, "medical"), "Q": (Kind.MEDICAL, "emergency"),
    "B": (Kind.TAMPER, "burglary"), "U": (Kind.TAMPER, "untyped zone"),
    "G": (Kind.TROUBLE, "gas"), "W": (Kind.TROUBLE, "water"), "Z": (Kind.TROUBLE, "freeze"),
}
_SUFFIXES: dict[str, tuple[str, State, str]] = {
    # suffix: (kind source, state, text) -- "family" uses the family's kind
    "A": ("family", _A, "alarm"), "H": ("family", _R, "alarm restore"),
    "R": ("family", _R, "restoral"), "M": ("family", _A, "alarm, cross point"),
    "T": ("trouble", _T, "trouble"), "S": ("trouble", _T, "supervisory"),
    "J": ("trouble", _R, "trouble restore"), "V": ("trouble", _R, "supervisory restore"),
    "X": ("test", _A, "test"),
}

_SINGLE: dict[str, SiaCode] = {
    "TA": SiaCode(Kind.TAMPER, _A, False, "tamper alarm"),
    "TR": SiaCode(Kind.TAMPER, _R, False, "tamper restoral"),
    "BV": SiaCode(Kind.TAMPER, _A, False, "burglary verified"),
    "FI": SiaCode(Kind.TEST, _A, True, "fire test begin"),
    "FK": SiaCode(Kind.TEST, _R, True, "fire test end"),
    "RP": SiaCode(Kind.TEST, _A, True, "automatic test"),
    "RX": SiaCode(Kind.TEST, _A, True, "manual test"),
    "RY": SiaCode(Kind.TEST, _A, True, "test, off normal"),
    "AT": SiaCode(Kind.POWER, _T, False, "AC trouble"),
    "AR": SiaCode(Kind.POWER, _R, False, "AC restoral"),
    "YT": SiaCode(Kind.POWER, _T, False, "system battery trouble"),
    "YR": SiaCode(Kind.POWER, _R, False, "system battery restoral"),
    "YM": SiaCode(Kind.POWER, _T, False, "system battery missing"),
    "YP": SiaCode(Kind.POWER, _T, False, "power supply trouble"),
    "YQ": SiaCode(Kind.POWER, _R, False, "power supply restored"),
    "XT": SiaCode(Kind.POWER, _T, False, "transmitter battery trouble"),
    "XR": SiaCode(Kind.POWER, _R, False, "transmitter battery restoral"),
}
for _code, _text in (("ET", "expansion trouble"), ("EM", "expansion device missing"),
                     ("LT", "phone line trouble"), ("NT", "network failure"),
                     ("YC", "communications fail"), ("YS", "communications trouble"),
                     ("YA", "bell fault"), ("YF", "parameter checksum fail"),
                     ("YX", "service required"), ("IA", "equipment failure"),
                     ("RT", "data lost"), ("XQ", "RF interference")):
    _SINGLE[_code] = SiaCode(Kind.TROUBLE, _T, False, _text)
for _code, _text in (("ER", "expansion restoral"), ("EN", "expansion missing restore"),
                     ("LR", "phone line restoral"), ("NR", "network restoral"),
                     ("YK", "communications restoral"), ("YH", "bell restored"),
                     ("YZ", "service completed"), ("IR", "equipment fail restore"),
                     ("XH", "RF interference restoral")):
    _SINGLE[_code] = SiaCode(Kind.TROUBLE, _R, False, _text)


def _build() -> dict[str, SiaCode]:
    table: dict[str, SiaCode] = {}
    for family, (kind, name) in _FAMILIES.items():
        for suffix, (source, state, text) in _SUFFIXES.items():
            code_kind = {"family": kind, "trouble": Kind.TROUBLE, "test": Kind.TEST}[source]
            table[family + suffix] = SiaCode(code_kind, state, source == "test",
                                             f"{name} {text}")
    table.update(_SINGLE)
    return table


#: Every SIA code that makes an event, with its kind, state, test flag and text.
SIA_CODES: dict[str, SiaCode] = _build()

#: Codes that are status reports, not alarms: ACKed and counted, no event.
SIA_STATUS_CODES: dict[str, str] = {
    "OP": "opening", "CL": "closing", "OA": "automatic opening", "CA": "automatic closing",
    "OR": "disarm from alarm", "OG": "open area group", "CG": "close area group",
    "OK": "early open", "CK": "early close", "OJ": "late open", "CJ": "late close",
    "OS": "opening by keyswitch", "CS": "closing by keyswitch", "CR": "recent closing",
    "CE": "closing extend", "CF": "forced closing", "CI": "fail to close",
    "OI": "fail to open", "CD": "automatic closing delayed", "NL": "perimeter armed",
    "NF": "forced perimeter arm", "RR": "power up", "RB": "remote program begin",
    "RS": "remote program success", "RU": "remote program fail", "LB": "local program",
    "LX": "local program ended", "JT": "time changed", "JL": "log threshold",
    "JO": "log overflow", "DG": "access granted", "DD": "access denied",
    "RC": "relay close", "RO": "relay open", "TS": "walk test start", "TE": "walk test end",
    **{family + "B": f"{name} bypass" for family, (_k, name) in _FAMILIES.items()},
    **{family + "U": f"{name} unbypass" for family, (_k, name) in _FAMILIES.items()},
}

assert not set(SIA_CODES) & set(SIA_STATUS_CODES)


def unmapped(code: str) -> SiaCode:
    """The ``trouble`` event of a valid code that is in neither table (never silence)."""
    return SiaCode(Kind.TROUBLE, _T, False, f"unmapped SIA code {code}")
