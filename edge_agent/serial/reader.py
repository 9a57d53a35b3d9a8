"""The serial reader: one thread per ``[[serials]]`` port, from bytes to agent events.

::

    link = SerialLink(config.serials[0], agent.raise_event)
    link.start()            # opens the port in the background, reopens it whenever it fails
    ...
    link.stop()

The thread opens the port through pyserial's ``serial_for_url(url, do_not_open=True)``
(a device path, ``socket://host:port``, ``loop://``; tests use a pseudo-terminal),
reads with a short timeout and feeds the protocol decoder. For every decoded frame it

1. commits each panel event through ``raise_event`` (the agent's durable outbox), with
   ``source = serial`` and the decoded fields in ``detail``;
2. only then writes the frame's answer (GB 26875 confirm/deny, DC-09 ACK/NAK/DUH). If
   the outbox refused an event, the answer is withheld, so the panel sends the frame
   again, as the protocol's retry rule says. Contact ID has no answers: its refused
   events are kept and retried;
3. answers a byte-identical resend of an answered frame (our answer was lost) again
   without raising its events twice (GB 26875 and DC-09 frames carry a serial number
   and a time, so a real repeat differs).

Decoder failures are counted (``decoder.stats``) and never stop the reader; corrupt
bytes never make an event. A failing or vanished port (``SerialException``/``OSError``)
is closed and reopened with bounded backoff, and :class:`~edge_agent.serial.watch.LinkWatch`
decides the link's own ``trouble`` (kind ``trouble``, zone ``<name> serial link``) and
``restore``: one each, no restart needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import serial
from pydantic import ValidationError

from alarmlink import wire
from alarmlink.codecs import Decoded, PanelEvent, make_decoder
from edge_agent.outbox import OutboxError
from edge_agent.serial.config import SerialInput
from edge_agent.serial.naming import zone_and_detail
from edge_agent.serial.watch import LinkWatch

logger = logging.getLogger(__name__)

#: A read returns after this long without bytes, so supervision and stop stay prompt.
READ_TIMEOUT_S = 0.05
#: A reply that cannot be written within this long (flow control stuck) is given up.
WRITE_TIMEOUT_S = 1.0
#: Supervision granularity while waiting to reopen a port.
POLL_S = 0.1
#: Rate limit of the warning about bad frames (each one is logged at DEBUG).
FAILURE_LOG_S = 60.0
#: A byte-identical answered frame within this long is a resend (our answer was lost):
#: answered again, its events not raised twice. Contact ID (no answers, no sequence
#: numbers) is never deduplicated: the same line twice can be two real alarms.
DUPLICATE_WINDOW_S = 60.0

RaiseEvent = Callable[..., wire.Event]
Opener = Callable[[SerialInput], Any]
COUNTERS = ("bytes_in", "events", "replies", "replies_withheld", "reply_timeouts", "opens",
            "open_failures", "losses", "commit_failures", "detail_dropped", "duplicates",
            "internal_errors")


def open_port(config: SerialInput) -> Any:
    """Open ``config.port`` with its framing (the seam tests replace)."""
    port = serial.serial_for_url(config.port, do_not_open=True, **config.pyserial_options())
    port.timeout = READ_TIMEOUT_S
    port.write_timeout = WRITE_TIMEOUT_S
    if "://" not in config.port:
        port.exclusive = True  # a second reader on the line would split the frames
    port.open()
    return port


class SerialLink:
    """One supervised serial port with a panel on it (see the module docstring).

    ``raise_event`` has :meth:`edge_agent.agent.Agent.raise_event`'s signature and commits
    the event durably or raises :class:`~edge_agent.outbox.OutboxError`. ``clock`` gives
    monotonic seconds; ``opener`` opens the port (default :func:`open_port`).
    """

    def __init__(self, config: SerialInput, raise_event: RaiseEvent, *,
                 clock: Callable[[], float] = time.monotonic,
                 opener: Opener = open_port) -> None:
        self.config = config
        self.name = config.name
        self.zone = config.link_zone
        self.decoder = make_decoder(config.protocol, **config.decoder_options())
        self.clock = clock
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self.last_error = ""
        self._raise_event = raise_event
        self._opener = opener
        self.watch = LinkWatch(config.loss_trouble_s, config.silence_trouble_s,
                               config.link_stable_s, now=clock())
        self._lock = threading.Lock()  # decoder stats vs. status readers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list[PanelEvent] = []
        self._recent: dict[bytes, float] = {}  # answered frames with events -> when
        self._next_failure_log = 0.0
        self._last_trouble = ""

    # --- state ---------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``trouble`` while a link trouble is outstanding, else ``normal``."""
        return "trouble" if self.watch.trouble is not None else "normal"

    @property
    def is_open(self) -> bool:
        return self.watch.open

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> dict[str, int]:
        """Reader counters and the decoder's statistics, flat."""
        with self._lock:
            out = dict(self.counters)
            out.update(self.decoder.stats.as_dict())
        return out

    def summary(self) -> str:
        """One line for the self-test report, e.g. ``normal open frames=3 failed=0 ...``."""
        stats = self.stats()
        keys = ("frames", "events", "replies", "failed", "discarded_bytes", "bytes_in",
                "losses")
        text = " ".join([self.state, "open" if self.is_open else "closed",
                         self.config.protocol] + [f"{k}={stats.get(k, 0)}" for k in keys])
        failures = [f"{k[7:]}={v}" for k, v in stats.items() if k.startswith("failed_")]
        if failures:
            text += f" ({', '.join(failures)})"
        if self.last_error and not self.is_open:
            text += f" last error: {self.last_error}"
        return text[:512]

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"serial {self.name}: already started")
        self._stop.clear()
        self.watch = LinkWatch(self.config.loss_trouble_s, self.config.silence_trouble_s,
                               self.config.link_stable_s, now=self.clock())
        self._thread = threading.Thread(target=self._run, name=f"serial-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pending:
            logger.critical("serial %s: stopping with %d decoded event(s) the outbox never "
                            "took: %s", self.name, len(self._pending),
                            ", ".join(f"{e.kind.value} {e.state.value} {e.zone}"
                                      for e in self._pending[:10]))

    # --- the reader thread -----------------------------------------------------------

    def _run(self) -> None:
        cfg = self.config
        delay = cfg.reconnect_min_s
        logger.info("serial %s", cfg.describe())
        while not self._stop.is_set():
            try:
                delay = self._cycle(delay)
            except Exception:  # a bug must not end the alarm path: log it and go on
                logger.exception("serial %s: reader failed; starting over", self.name)
                self.counters["internal_errors"] += 1
                self._stop.wait(cfg.reconnect_max_s)
        self.watch.open = False

    def _cycle(self, delay: float) -> float:
        """Open the port, read it until it fails, wait; returns the next reopen delay."""
        cfg = self.config
        port = self._open()
        if port is None:
            self._idle(delay)
            return min(delay * 2, cfg.reconnect_max_s)
        opened_at = self.clock()
        try:
            self._pump(port)
        except (serial.SerialException, OSError) as exc:
            self._lost(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a decoding or delivery bug: reopen and carry on
            logger.exception("serial %s: reader failed; reopening the port", self.name)
            self.counters["internal_errors"] += 1
            self._lost(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            _close(port)
        if self._stop.is_set():
            return delay
        healthy = self.clock() - opened_at >= cfg.link_stable_s
        delay = cfg.reconnect_min_s if healthy else min(delay * 2, cfg.reconnect_max_s)
        self._idle(delay)
        return delay

    def _open(self) -> Any | None:
        try:
            port = self._opener(self.config)
        except (serial.SerialException, OSError, ValueError) as exc:
            text = str(exc) or type(exc).__name__
            reason = text if self.config.port in text else f"{self.config.port}: {text}"
            self.counters["open_failures"] += 1
            if reason != self.last_error:
                logger.warning("serial %s: cannot open the port (%s); retrying", self.name,
                               reason)
            self.last_error = reason
            self.watch.lost(self.clock(), reason)
            self._supervise()
            return None
        self.counters["opens"] += 1
        self.watch.opened(self.clock())
        logger.info("serial %s: %s open", self.name, self.config.port)
        return port

    def _lost(self, reason: str) -> None:
        self.counters["losses"] += 1
        self.last_error = reason
        self.watch.lost(self.clock(), reason)
        logger.warning("serial %s: port %s lost (%s); reopening", self.name, self.config.port,
                       reason)

    def _idle(self, seconds: float) -> None:
        end = self.clock() + seconds
        while not self._stop.is_set():
            self._supervise()
            remaining = end - self.clock()
            if remaining <= 0:
                break
            self._stop.wait(min(POLL_S, remaining))

    def _pump(self, port: Any) -> None:
        with self._lock:
            self.decoder.reset()  # a partial frame from before the reopen is gone
        while not self._stop.is_set():
            waiting = port.in_waiting
            data = port.read(waiting if waiting > 0 else 1)
            if data:
                self._receive(port, data)
            self._supervise()

    def _receive(self, port: Any, data: bytes) -> None:
        now = self.clock()
        with self._lock:
            self.counters["bytes_in"] += len(data)
            results = self.decoder.feed(data)
        for result in results:
            committed = self._deliver_once(result, now)
            if result.error is None:
                self.watch.frame(now)
            else:
                self._note_failure(result, now)
            if result.reply is None or self.config.listen_only:
                continue
            if committed:
                self._write(port, result.reply)
            else:
                self.counters["replies_withheld"] += 1

    def _write(self, port: Any, reply: bytes) -> None:
        try:
            port.write(reply)
        except serial.SerialTimeoutException:
            self.counters["reply_timeouts"] += 1
            logger.warning("serial %s: answer not written within %.0f s (flow control?)",
                           self.name, WRITE_TIMEOUT_S)
            return
        self.counters["replies"] += 1

    def _note_failure(self, result: Decoded, now: float) -> None:
        if now >= self._next_failure_log:
            self._next_failure_log = now + FAILURE_LOG_S
            logger.warning("serial %s: bad %s frame (%s); %d bad frame(s) so far "
                           "(-vv logs each one in hex)", self.name, self.config.protocol,
                           result.error, self.decoder.stats.failed)

    # --- events ----------------------------------------------------------------------

    def _deliver_once(self, result: Decoded, now: float) -> bool:
        """:meth:`_deliver`, skipping the events of a resent (byte-identical) frame."""
        if not result.events or result.reply is None:
            return self._deliver(result)
        seen = self._recent.get(result.raw)
        if seen is not None and now - seen < DUPLICATE_WINDOW_S:
            self.counters["duplicates"] += 1
            return True  # answer it again: our first answer was lost on the way
        if not self._deliver(result):
            return False
        self._recent[result.raw] = now
        if len(self._recent) > 256:
            del self._recent[next(iter(self._recent))]
        return True

    def _deliver(self, result: Decoded) -> bool:
        """Commit the frame's events; False if the outbox refused one (withhold the answer)."""
        for index, event in enumerate(result.events):
            try:
                self._raise(event)
            except OutboxError as exc:
                self.counters["commit_failures"] += 1
                logger.critical("serial %s: cannot commit %s %s in zone %s (%s)", self.name,
                                event.kind.value, event.state.value, event.zone, exc)
                if result.reply is not None:
                    return False  # unanswered: the panel sends the frame again
                self._pending.extend(result.events[index:])  # no retry on the line: keep it
                return True
        return True

    def _flush_pending(self) -> None:
        while self._pending:
            try:
                self._raise(self._pending[0])
            except OutboxError:
                return
            self._pending.pop(0)

    def _raise(self, event: PanelEvent) -> None:
        zone, detail = zone_and_detail(event, self.config, self.name)
        try:
            self._raise_event(event.kind, event.state, zone, wire.Source.SERIAL, detail=detail,
                              test=event.test, ts=event.ts)
        except ValidationError as exc:
            # The contract refused the decoded fields: an alarm without them beats none.
            self.counters["detail_dropped"] += 1
            logger.error("serial %s: event detail refused by the contract (%s); sending the "
                         "event without it", self.name, exc.errors()[0].get("msg", exc))
            self._raise_event(event.kind, event.state, zone, wire.Source.SERIAL,
                              detail={"protocol": self.config.protocol, "link": self.name,
                                      "note": "decoded detail dropped: invalid"},
                              test=event.test, ts=event.ts)
        self.counters["events"] += 1

    # --- supervision -----------------------------------------------------------------

    def _supervise(self) -> None:
        if self._pending:  # Contact ID events the outbox refused, also while the port is gone
            self._flush_pending()
        transition = self.watch.poll(self.clock())
        if transition is None:
            return
        trouble = transition.state == "trouble"
        detail: dict[str, wire.DetailValue] = {
            "protocol": self.config.protocol, "link": self.name,
            "port": self.config.port[:256], "reason": transition.reason[:256],
            "after_s": round(transition.duration_s, 1),
        }
        try:
            self._raise_event(wire.Kind.TROUBLE,
                              wire.State.TROUBLE if trouble else wire.State.RESTORE,
                              self.zone, wire.Source.SERIAL, detail=detail)
        except OutboxError as exc:
            logger.critical("serial %s: cannot commit link %s (%s); retrying", self.name,
                            transition.state, exc)
            self.watch.trouble = None if trouble else self._last_trouble
            return
        if trouble:
            self._last_trouble = transition.reason
            logger.error("serial %s: link TROUBLE reported: %s", self.name, transition.reason)
        else:
            logger.warning("serial %s: link restored (%s)", self.name, transition.reason)


def _close(port: Any) -> None:
    try:
        port.close()
    except (serial.SerialException, OSError):
        pass


def build_serial_links(configs: list[SerialInput], raise_event: RaiseEvent, *,
                       clock: Callable[[], float] = time.monotonic) -> list[SerialLink]:
    """One :class:`SerialLink` per configured port (nothing is opened yet)."""
    return [SerialLink(config, raise_event, clock=clock) for config in configs]
