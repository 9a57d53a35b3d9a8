"""Pure codecs for serial fire/alarm panel protocols (no I/O, no MQTT).

Use :func:`make_decoder` and feed it the bytes read from the serial port::

    decoder = make_decoder("gb26875")          # or "contactid", "sia-dc09"
    for result in decoder.feed(port.read(port.in_waiting or 1)):
        if result.reply:
            port.write(result.reply)           # confirm/deny, ACK/NAK
        for event in result.events:
            ...                                 # -> wire.Event(source=serial, ...)

Frame formats and checksums: ``docs/protocols.md``.
"""

from alarmlink.codecs.common import (
    PROTOCOLS,
    Decoded,
    DecodeError,
    DecoderStats,
    PanelEvent,
    StreamDecoder,
)
from alarmlink.codecs.factory import make_decoder

__all__ = [
    "PROTOCOLS",
    "DecodeError",
    "Decoded",
    "DecoderStats",
    "PanelEvent",
    "StreamDecoder",
    "make_decoder",
]
