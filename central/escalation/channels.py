"""Notification channels, each behind one interface: ``send(notification) -> Outcome``.

* ``sms`` and ``call`` share central's GSM modem (:class:`alarmlink.gsm.AtModem`),
  opened on first use and reopened after a failure (a modem reset);
* ``webhook`` posts the notification as JSON to the county's CAD system, signed with
  HMAC-SHA256 (header ``X-Alarmlink-Signature: sha256=<hex>``).

A channel never raises: a failure is an :class:`Outcome` with ``ok=False`` and one line
saying why; the scheduler retries with backoff and then tries the fallback channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from alarmlink.gsm import AtModem, ModemError
from alarmlink.gsm.modem import SerialLike, Unsolicited, open_serial
from central.escalation.config import EscalationConfig, ModemConfig

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    ok: bool
    detail: str
    refs: list[int] = field(default_factory=list)
    dtmf: str = ""


class Channel(Protocol):
    name: str

    def send(self, notification: dict[str, Any]) -> Outcome: ...


class ModemLink:
    """Central's one modem, shared by the SMS and call channels and the inbox reader."""

    def __init__(self, config: ModemConfig,
                 opener: Callable[[str], SerialLike] = open_serial) -> None:
        self.config = config
        self.modem: AtModem | None = None
        if config.port:
            self.modem = AtModem(config.port, timeout_s=config.timeout_s, opener=opener)
        self.last_error: str | None = None
        self._ref = 0

    def ready(self) -> AtModem:
        if self.modem is None:
            raise ModemError("no modem configured: set [modem] port in central's config")
        if not self.modem.is_open:
            self.modem.open()
        return self.modem

    def failed(self, exc: ModemError) -> None:
        """After a failure the port is closed: the next use reopens and re-initialises."""
        self.last_error = str(exc)
        if self.modem is not None:
            self.modem.close()

    def next_reference(self) -> int:
        self._ref = (self._ref + 1) % 256
        return self._ref

    def poll(self) -> Unsolicited | None:
        try:
            return self.ready().poll(0.0)
        except ModemError as exc:
            self.failed(exc)
            return None


class SmsChannel:
    name = "sms"

    def __init__(self, link: ModemLink) -> None:
        self.link = link

    def send(self, notification: dict[str, Any]) -> Outcome:
        try:
            sent = self.link.ready().send_sms(notification["phone"], notification["message"],
                                              reference=self.link.next_reference())
        except ModemError as exc:
            self.link.failed(exc)
            return Outcome(False, str(exc))
        return Outcome(True, f"{len(sent.references)} part(s), references {sent.references}",
                       refs=sent.references)


class CallChannel:
    name = "call"

    def __init__(self, link: ModemLink) -> None:
        self.link = link

    def send(self, notification: dict[str, Any]) -> Outcome:
        cfg = self.link.config
        try:
            result = self.link.ready().call(notification["phone"], ring_s=cfg.ring_s,
                                            listen_s=cfg.listen_s)
        except ModemError as exc:
            self.link.failed(exc)
            return Outcome(False, str(exc))
        if not result.answered:
            return Outcome(False, f"call not answered: {result.detail}")
        pressed = f", key {result.dtmf}" if result.dtmf else ", no key pressed"
        return Outcome(True, "answered" + pressed, dtmf=result.dtmf)


class WebhookChannel:
    """Signed JSON POST to ``[escalation] webhook_url``."""

    name = "webhook"

    def __init__(self, config: EscalationConfig) -> None:
        self.url = config.webhook_url
        self.secret = b""
        if config.webhook_secret_file:
            try:
                self.secret = Path(config.webhook_secret_file).read_bytes().strip()
            except OSError as exc:
                logger.error("webhook secret %s unreadable: %s; posts go unsigned",
                             config.webhook_secret_file, exc.strerror)

    def send(self, notification: dict[str, Any]) -> Outcome:
        if not self.url:
            return Outcome(False, "no webhook configured: set [escalation] webhook_url")
        body = json.dumps({k: notification[k] for k in ("incident_id", "stage", "recipient",
                                                        "phone", "message")},
                          ensure_ascii=False).encode()
        signature = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "X-Alarmlink-Signature": f"sha256={signature}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return Outcome(True, f"HTTP {resp.status}")
        except urllib.error.HTTPError as exc:
            return Outcome(False, f"webhook answered HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:
            return Outcome(False, f"webhook unreachable: {exc}")
