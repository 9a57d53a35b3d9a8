"""SMS failover and the local sounder: the venue still calls for help when its network is
down (``[modem]``, :mod:`edge_agent.failover_config`).

An alarm (fire, smoke, heat, panic, medical) that central has not stored within
``after_s`` (it is still in the outbox: the broker is unreachable, or central is) is sent

* to each station number as the authenticated failover SMS
  (:func:`alarmlink.wire.encode_failover`): central's modem ingests it as the same event,
  so when MQTT returns the event is stored once;
* to each keyholder as a plain Chinese text;

once per event. The local sounder sounds from then (or when the alarm is not acknowledged
within ``unacknowledged_s``) until an acknowledgement arrives or it is silenced (the
``silence`` command). Messages wait in a queue that survives a modem reset: a send that
fails is retried on the next pass, after the modem was opened again; a message still
queued when central stores its event is dropped (the ``stored`` receipt stops further SMS).

One thread owns the modem (:class:`alarmlink.gsm.AtModem` is not thread-safe).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpiozero import Buzzer

from alarmlink import wire
from alarmlink.config_base import ConfigError
from alarmlink.gsm import AtModem, ModemError
from alarmlink.gsm.modem import SerialLike, open_serial
from alarmlink.secret_file import SecretFileError, read_private_text
from edge_agent.failover_config import FailoverConfig

logger = logging.getLogger(__name__)

ALARM_KINDS = {wire.Kind.FIRE, wire.Kind.SMOKE, wire.Kind.HEAT, wire.Kind.PANIC,
               wire.Kind.MEDICAL}
KIND_ZH = {"fire": "火警", "smoke": "烟感报警", "heat": "温感报警", "panic": "一键报警",
           "medical": "医疗求助"}
ACKNOWLEDGED = ("acknowledged", "dispatched", "resolved")
#: Seconds between two attempts after the modem failed.
RETRY_S = 5.0


def read_key(path: Path) -> bytes:
    """The failover key; :class:`ConfigError` (one line: cause and fix) when unusable."""
    try:
        key = read_private_text(path, "failover key").strip().encode()
    except SecretFileError as exc:
        raise ConfigError(f"modem.key_file {exc} (`alarmlink central failover-key` makes "
                          "the key)") from None
    if len(key) < 16:
        raise ConfigError(f"modem.key_file {path}: key shorter than 16 characters; make a "
                          "new one with `alarmlink central failover-key`")
    return key


@dataclass
class _Alarm:
    event: wire.Event
    seen_at: float
    sent: bool = False
    acknowledged: bool = False


@dataclass
class _Message:
    event_id: str
    number: str
    text: str
    kind: str  # "station" or "keyholder"


class Failover:
    """Watches the agent's alarms; owns the modem thread and the sounder."""

    def __init__(self, config: FailoverConfig, venue: str,
                 is_pending: Callable[[str], bool], *, pin_factory: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 opener: Callable[[str], SerialLike] = open_serial) -> None:
        self.config = config
        self.venue = venue
        self.is_pending = is_pending
        self.clock = clock
        self.key = read_key(config.key_file)
        self.modem = AtModem(config.port, timeout_s=config.timeout_s, opener=opener)
        self.sounder: Buzzer | None = None
        if config.sounder_pin is not None:
            self.sounder = Buzzer(config.sounder_pin, active_high=config.sounder_active_high,
                                  initial_value=False, pin_factory=pin_factory)
        self._lock = threading.Lock()
        self._alarms: dict[str, _Alarm] = {}
        self._queue: list[_Message] = []
        self._retry_at = 0.0
        #: (number, kind) of every SMS sent, in order (self-test and tests read it).
        self.sent: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- listeners (any thread) ------------------------------------------------------

    def on_event(self, event: wire.Event) -> None:
        """Every committed event: alarms are watched."""
        if event.state == wire.State.ALARM and event.kind in ALARM_KINDS:
            with self._lock:
                self._alarms.setdefault(event.event_id, _Alarm(event, self.clock()))

    def on_stage(self, event: wire.Event, stage: str) -> None:
        """The feedback stage of the latest alarm moved (a receipt)."""
        if stage in ACKNOWLEDGED:
            with self._lock:
                alarm = self._alarms.get(event.event_id)
                if alarm is not None:
                    alarm.acknowledged = True
                if all(a.acknowledged for a in self._alarms.values()):
                    self._sound(False)

    def silence(self) -> None:
        with self._lock:
            for alarm in self._alarms.values():
                alarm.acknowledged = True
            self._sound(False)

    @property
    def sounding(self) -> bool:
        return bool(self.sounder is not None and self.sounder.is_active)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="agent-failover", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.modem.close()
        if self.sounder is not None:
            self.sounder.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the failover must outlive any one bad pass
                logger.exception("failover pass failed; retrying")
            self._stop.wait(self.config.tick_s)

    # --- the pass (the failover thread) ----------------------------------------------

    def tick(self) -> None:
        now = self.clock()
        with self._lock:
            for event_id, alarm in list(self._alarms.items()):
                pending = self.is_pending(event_id)
                if not pending:
                    self._queue = [m for m in self._queue if m.event_id != event_id]
                    if alarm.acknowledged or not alarm.sent:
                        del self._alarms[event_id]
                    continue
                if not alarm.sent and now - alarm.seen_at >= self.config.after_s:
                    alarm.sent = True
                    self._queue += self._messages(alarm.event)
                    self._sound(not alarm.acknowledged)
                    logger.warning("alarm %s in zone %s not stored at central after %.0f s: "
                                   "sending by SMS", event_id, alarm.event.zone,
                                   now - alarm.seen_at)
            unacked = self.config.unacknowledged_s
            if unacked is not None and any(not a.acknowledged and now - a.seen_at >= unacked
                                           for a in self._alarms.values()):
                self._sound(True)
            queue = list(self._queue)
        if queue and now >= self._retry_at:
            self._flush(queue)

    def _messages(self, event: wire.Event) -> list[_Message]:
        station = wire.encode_failover(event, self.key)
        local = event.ts.astimezone().strftime("%H:%M")
        kind = KIND_ZH.get(event.kind.value, event.kind.value)
        plain = (f"【报警】{self.venue}{kind}，区域：{event.zone}，时间{local}。"
                 "网络中断，已短信报派出所。")
        return ([_Message(event.event_id, n, station, "station")
                 for n in self.config.station_numbers]
                + [_Message(event.event_id, n, plain, "keyholder")
                   for n in self.config.keyholder_numbers])

    def _flush(self, queue: list[_Message]) -> None:
        for message in queue:
            if not self.is_pending(message.event_id):
                continue
            try:
                if not self.modem.is_open:
                    self.modem.open()
                self.modem.send_sms(message.number, message.text)
            except ModemError as exc:
                self.modem.close()  # a reset modem is opened and set up again next time
                self._retry_at = self.clock() + RETRY_S
                logger.error("failover SMS for %s to %s not sent: %s; retrying in %.0f s",
                             message.event_id, message.kind, exc, RETRY_S)
                return
            with self._lock:
                if message in self._queue:
                    self._queue.remove(message)
                self.sent.append((message.number, message.kind))
            logger.info("failover SMS for alarm %s sent to the %s number %s",
                        message.event_id, message.kind, message.number)

    def _sound(self, on: bool) -> None:
        if self.sounder is None or self.sounder.is_active == on:
            return
        if on:
            self.sounder.on()
            logger.warning("local sounder on: an alarm is not confirmed by the station")
        else:
            self.sounder.off()
            logger.info("local sounder off")
