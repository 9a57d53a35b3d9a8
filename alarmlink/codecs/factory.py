"""Pick a stream decoder by protocol name (the serial config's ``protocol`` key)."""

from __future__ import annotations

from typing import Any

from alarmlink.codecs.common import PROTOCOLS, StreamDecoder
from alarmlink.codecs.contactid import ContactIdDecoder
from alarmlink.codecs.gb26875 import Gb26875Decoder
from alarmlink.codecs.sia_dc09 import SiaDc09Decoder


def make_decoder(protocol: str, **options: Any) -> StreamDecoder:
    """A fresh stream decoder for ``protocol``: "gb26875", "contactid" or "sia-dc09".

    ``options`` go to the decoder's constructor (see each module); an unknown protocol
    raises ``ValueError``, an unknown option ``TypeError``.
    """
    name = protocol.strip().lower()
    if name == "gb26875":
        return Gb26875Decoder(**options)
    if name == "contactid":
        return ContactIdDecoder(**options)
    if name == "sia-dc09":
        return SiaDc09Decoder(**options)
    raise ValueError(f"unknown panel protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
