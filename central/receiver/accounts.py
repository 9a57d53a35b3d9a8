"""DC-09 accounts -> registered devices, and the stable event ids of panel messages.

A panel retransmits a message whose ACK it did not get with the same sequence number
and data block (its timestamp may change). Its events get the same event ids, so ingest
stores them once (dedupe on ``event_id``) and the retransmission is simply ACKed again.
The id is a ULID made from the device, account, sequence, data block and event index and
the hour of first receipt; the first receipt is remembered for :data:`REMEMBER_S`, so a
retransmission across the hour boundary keeps its id. (Only a central restart between a
message and its retransmission that also straddles the hour could store it twice: a
duplicate, never a loss.) Sequence numbers wrap at 9999, so a later message with the
same number and data is a new event once the hour has passed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime

from ulid import ULID

logger = logging.getLogger(__name__)

REMEMBER_S = 3600.0
REFRESH_MIN_S = 5.0
_BUCKET_S = 3600


class AccountMap:
    """``account -> device id`` from the registry, reloaded when an unknown account
    shows up (at most every :data:`REFRESH_MIN_S`)."""

    def __init__(self, load: Callable[[], Awaitable[dict[str, str]]],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._monotonic = monotonic
        self._map: dict[str, str] = {}
        self._loaded_at: float | None = None

    async def refresh(self) -> None:
        self._map = {acct.upper(): dev for acct, dev in (await self._load()).items()}
        self._loaded_at = self._monotonic()

    async def device(self, account: str) -> str | None:
        account = account.upper()
        found = self._map.get(account)
        if found is None and (self._loaded_at is None
                              or self._monotonic() - self._loaded_at >= REFRESH_MIN_S):
            await self.refresh()
            found = self._map.get(account)
        return found


class EventIds:
    """Stable ULIDs for the events of a panel message (see the module docstring)."""

    def __init__(self, max_entries: int = 100_000,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._seen: OrderedDict[tuple[str, ...], tuple[int, float]] = OrderedDict()
        self._max = max_entries
        self._monotonic = monotonic

    def event_id(self, device_id: str, account: str, seq: str, data: str, index: int,
                 now: datetime) -> str:
        key = (device_id, account.upper(), seq, data)
        mono = self._monotonic()
        seen = self._seen
        while seen and (len(seen) >= self._max
                        or mono - next(iter(seen.values()))[1] > REMEMBER_S):
            seen.popitem(last=False)
        entry = seen.get(key)
        if entry is None:
            entry = (int(now.timestamp()) // _BUCKET_S * _BUCKET_S, mono)
            seen[key] = entry
        bucket = entry[0]
        digest = hashlib.sha256("\x1f".join((*key, str(index), str(bucket))).encode()).digest()
        return str(ULID.from_bytes((bucket * 1000).to_bytes(6, "big") + digest[:10]))
