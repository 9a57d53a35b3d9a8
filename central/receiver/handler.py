"""One decoded DC-09 frame -> central's ingest path -> the answer for the panel.

The same path as an MQTT event (:class:`central.ingest.Ingestor`): each panel event
becomes a wire ``Event`` of the account's registered device and goes through
validation, dedupe on ``event_id``, incidents, routing and the audit of officers'
actions later. The ACK is returned only after every event of the frame is committed (frames of many
connections waiting for the writer at once share one transaction: group commit,
:class:`central.db.GroupCommit`);
if central is stopping (the writer is closed) nothing is returned, so the panel
retries. Every message of a registered account (a ``NULL`` link test, an alarm, any
other) is the device's heartbeat: its supervision class judges silence. Anything refused
goes to ``dead_letters`` with the reason, and the panel gets the decoder's ``NAK``/``DUH``;
an unknown account's messages are all NAKed but dead-lettered as a sample (a first one,
then one a minute per account with the count in between: central/receiver/sampling.py).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError

from alarmlink.codecs.common import Decoded, PanelEvent
from alarmlink.codecs.sia_dc09 import Dc09Message, build_nak
from alarmlink.wire import Event, Heartbeat, Source, Topics, encode
from central.ingest import Ingestor
from central.receiver.accounts import AccountMap, EventIds
from central.receiver.sampling import Sampler

logger = logging.getLogger(__name__)

#: A message other than a link test refreshes supervision at most this often per device.
HEARD_EVERY_S = 1.0


def dead_letter_topic(transport: str, peer: str) -> str:
    """Where a refused frame came from, as a dead letter's ``topic``."""
    return f"dc09/{transport}/{peer}"


class Dc09Handler:
    """Feeds decoded frames to ingest; returns the bytes to answer (or ``None``)."""

    def __init__(self, ingestor: Ingestor, topics: Topics, accounts: AccountMap,
                 clock: Callable[[], datetime],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ingestor = ingestor
        self.topics = topics
        self.accounts = accounts
        self.clock = clock
        self.ids = EventIds()
        self._monotonic = monotonic
        self._heard: dict[str, float] = {}  # device -> when its last "heard" was stored
        #: Unknown accounts: every message NAKed and counted, a sample dead-lettered.
        self.unknown = Sampler()
        self.stored = 0
        self.refused = 0

    async def _dead_letter(self, transport: str, peer: str, raw: bytes, reason: str,
                           device_id: str | None) -> None:
        self.refused += 1
        await self.ingestor.dead_letter_async(dead_letter_topic(transport, peer), raw,
                                              f"dc09: {reason}", device_id)

    async def _unknown_account(self, transport: str, peer: str, raw: bytes,
                               account: str) -> None:
        """Dead-letter a message of an unregistered account, sampled (central/receiver/
        sampling.py): the first, then one a minute with the count suppressed since."""
        self.refused += 1
        skipped = self.unknown.admit(account.upper())
        if skipped is None:
            return
        since = f"; {skipped} more since the last sample" if skipped else ""
        await self.ingestor.dead_letter_async(
            dead_letter_topic(transport, peer), raw,
            f"dc09: unknown account {account}: register it as dc09_account of a device in "
            f"the registry (NAKed; one sample a minute per account is kept{since})", None)

    async def handle(self, result: Decoded, transport: str, peer: str) -> bytes | None:
        """Store what ``result`` carries; the answer once it is committed."""
        msg = result.message if isinstance(result.message, Dc09Message) else None
        if result.error is not None:
            device_id = await self.accounts.device(msg.account) if msg is not None else None
            await self._dead_letter(transport, peer, result.raw, result.error, device_id)
            return result.reply
        assert msg is not None
        device_id = await self.accounts.device(msg.account)
        if device_id is None:
            await self._unknown_account(transport, peer, result.raw, msg.account)
            return build_nak(self.clock())
        now = self.clock()
        # Any message from the account proves the link (supervision's "heard"), not only
        # a NULL link test: it goes in the same transaction as the message's events (at
        # most once a second per device for other messages; supervision counts seconds).
        messages: list[tuple[str, bytes]] = []
        mono = self._monotonic()
        if msg.id == "NULL" or mono - self._heard.get(device_id, -math.inf) >= HEARD_EVERY_S:
            self._heard[device_id] = mono
            beat = Heartbeat(ts=msg.timestamp or now, uptime_s=0, outbox_depth=0)
            messages.append((self.topics.heartbeat(device_id), encode(beat)))
        if msg.id == "NULL":
            await self.ingestor.handle_many_async(messages)
            return result.reply
        beats = len(messages)
        topic = self.topics.event(device_id)
        for index, panel_event in enumerate(result.events):
            try:
                event = self._event(device_id, msg, index, panel_event, now, transport, peer)
            except ValidationError as exc:  # kept as a dead letter: safe to ACK
                await self._dead_letter(transport, peer, result.raw,
                                        f"event does not fit the wire contract: {exc}",
                                        device_id)
                continue
            messages.append((topic, encode(event)))
        # One job: the frame's events (and the "heard") commit together (group commit).
        if messages:
            await self.ingestor.handle_many_async(messages)
        self.stored += len(messages) - beats
        return result.reply  # committed: only now may the panel forget the message

    def _event(self, device_id: str, msg: Dc09Message, index: int, ev: PanelEvent,
               now: datetime, transport: str, peer: str) -> Event:
        detail = dict(ev.detail)
        detail.update(transport=transport, peer=peer[:64])
        return Event(
            event_id=self.ids.event_id(device_id, msg.account, msg.seq,
                                       msg.data + "".join(msg.xdata), index, now),
            device_id=device_id, seq=int(msg.seq), ts=ev.ts or now, kind=ev.kind,
            state=ev.state, zone=ev.zone, source=Source.SERIAL, test=ev.test, detail=detail)
