"""SIA DC-09 encryption: AES-CBC per account key, the timestamp window, replay guard.

docs/protocols.md, section "SIA DC-09", "Encryption". An encrypted message has a ``*``
before its ID (``"*SIA-DCS"``, ``"*ADM-CID"``, ``"*NULL"``, ``"*ACK"``); everything after
the ``[`` that opens the data block is hex::

    "*SIA-DCS"0001R1L0#1234[<hex of AES-CBC(key, IV = 16 zero bytes, pad + content)>]

``content`` is the rest of the plain message from the data block on: ``|Nri1/FA129]``,
any extended data blocks, and the timestamp ``_HH:MM:SS,MM-DD-YYYY`` (mandatory). ``pad``
is 1..16 random printable characters (never ``#``, ``|``, ``[`` or ``]``) that make the
length a multiple of 16: the receiver drops everything before the first ``#``, ``|`` or
``]``. A trailing ``]`` after the hex is accepted (some panels send it).

Keys: AES-128/192/256, given as 32/48/64 hex digits, or as 16/24/32 ASCII characters
(whose bytes are the key, as several panels' menus take them). Keys are secrets: they are
never logged and never put into an exception's text.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from alarmlink.codecs.common import DecodeError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

logger = logging.getLogger(__name__)

KEY_SIZES = (16, 24, 32)
_IV = bytes(16)
_PAD_CHARS = string.ascii_letters + string.digits
_HEX = frozenset("0123456789ABCDEFabcdef")

#: The receiver accepts timestamps from this far in the past ...
WINDOW_PAST_S = 40.0
#: ... to this far in the future (SIA DC-09 figures).
WINDOW_FUTURE_S = 20.0


def parse_key(text: str | bytes) -> bytes:
    """An AES key from 32/48/64 hex digits or 16/24/32 ASCII characters.

    Raises ``ValueError`` whose text names the accepted forms, never the key itself.
    """
    if isinstance(text, bytes):
        if len(text) in KEY_SIZES:
            return text
        raise ValueError(f"a DC-09 key is 16, 24 or 32 bytes, got {len(text)}")
    stripped = text.strip()
    if len(stripped) in (32, 48, 64) and all(c in _HEX for c in stripped):
        return bytes.fromhex(stripped)
    if len(stripped) in KEY_SIZES and stripped.isascii() and stripped.isprintable():
        return stripped.encode("ascii")
    raise ValueError(f"a DC-09 key is 32, 48 or 64 hex digits (AES-128/192/256) or 16, 24 "
                     f"or 32 ASCII characters; got {len(stripped)} characters")


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    # Imported here: OpenSSL's bindings cost ~9 MiB, and an edge agent without an
    # encrypted DC-09 panel never needs them (bench/agent_idle.py).
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.CBC(_IV))


def encrypt_content(key: bytes, content: str) -> str:
    """Upper-case hex of AES-CBC(pad + ``content``) (the part after ``[``)."""
    raw = content.encode("latin-1")
    pad = 16 - len(raw) % 16
    padded = "".join(secrets.choice(_PAD_CHARS) for _ in range(pad)).encode() + raw
    enc = _cipher(key).encryptor()
    return (enc.update(padded) + enc.finalize()).hex().upper()


def decrypt_content(key: bytes, hex_text: str) -> str:
    """The plain content (pad removed) of an encrypted data part. Raises
    :class:`DecodeError` ("decrypt: ...") for bad hex, bad length or a wrong key."""
    if len(hex_text) % 32 or not hex_text or not all(c in _HEX for c in hex_text):
        raise DecodeError(f"decrypt: encrypted part is {len(hex_text)} characters, not a "
                          "non-empty multiple of 32 hex digits (bad padding)")
    dec = _cipher(key).decryptor()
    plain = dec.update(bytes.fromhex(hex_text)) + dec.finalize()
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("decrypt: not text after decryption (wrong key?)") from None
    starts = [i for i in (text.find("#"), text.find("|"), text.find("]")) if i >= 0]
    if not starts or not text.isprintable():
        raise DecodeError("decrypt: no data block after decryption (wrong key?)")
    return text[min(starts):]


class ReplayGuard:
    """Remembers encrypted messages seen within the timestamp window; a byte-identical
    message seen again is a replay (a panel's genuine retransmission carries a new
    timestamp, so its ciphertext differs). Bounded in time and size; thread-safe enough
    for one event loop (no awaits inside). Share one guard between all connections.
    """

    def __init__(self, horizon_s: float = 2 * (WINDOW_PAST_S + WINDOW_FUTURE_S),
                 max_entries: int = 200_000,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.horizon_s = horizon_s
        self.max_entries = max_entries
        self.monotonic = monotonic
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def seen(self, account: str, ciphertext: str) -> bool:
        """True if (account, ciphertext) was already accepted; else remember it."""
        now = self.monotonic()
        seen = self._seen
        while seen:
            first = next(iter(seen.values()))
            if now - first <= self.horizon_s and len(seen) < self.max_entries:
                break
            seen.popitem(last=False)
        key = (account, ciphertext)
        if key in seen:
            return True
        seen[key] = now
        return False

    def forget(self, account: str, ciphertext: str) -> None:
        """Undo :meth:`seen` for a message that was then refused (e.g. stale)."""
        self._seen.pop((account, ciphertext), None)
