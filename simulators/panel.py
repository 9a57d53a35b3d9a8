"""A simulated fire panel / transmission device that talks to the edge agent in real bytes.

:class:`PanelSimulator` writes GB/T 26875.3 frames, Contact ID lines or SIA DC-09 frames
(built with the protocol encoders of :mod:`alarmlink.codecs`) onto a
:mod:`~simulators.panel_ports` port, and reads back what the agent answers: GB 26875
confirms and denies, DC-09 ACK/NAK/DUH, decoded and printed::

    with PanelSimulator("gb26875", PtyPort(link=tmp / "ttyPANEL")) as panel:
        panel.wait_peer(10)                    # the agent opened the port
        panel.send(PanelStep(at=0, flags=["fire"], description="2F east corridor"))
        panel.answers                          # [Answer("confirm", 1, ...)]

Like a real device, it waits for the answer to each data frame and sends it again after
a deny/NAK or a timeout (``retries``; GB/T 26875.3 allows 3). Contact ID has no answers.
``noise`` and ``corrupt`` are probabilities per frame: a burst of random bytes before
the frame, or a copy with a broken checksum before the good one (which the agent must
deny, then accept the resend).
"""

from __future__ import annotations

import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from alarmlink.codecs.gb26875 import CMD_CONFIRM, CMD_DENY, Checksum, Gb26875Decoder
from alarmlink.codecs.sia_dc09 import crc16_arc
from simulators.panel_ports import PanelPort, PortGone, PtyPort
from simulators.panel_scenario import (
    PanelScenario,
    PanelStep,
    corrupt,
    describe_step,
    encode_step,
)

#: After the agent opens the port, wait this long before talking: pyserial flushes its
#: input when it opens a port, so bytes written in that instant would be lost.
SETTLE_S = 0.2
_DC09 = re.compile(rb'\n([0-9A-F]{4})0([0-9A-F]{3})("(\*?)([A-Z-]+)"([0-9]{4})[^\r]*)\r')


@dataclass(frozen=True)
class Sent:
    ref: int  # GB serial / DC-09 seq; 0 for Contact ID and noise
    kind: str  # data | corrupt | noise
    raw: bytes
    text: str


@dataclass(frozen=True)
class Answer:
    kind: str  # confirm | deny | ACK | NAK | DUH | command N | bytes | bad
    ref: int | None
    raw: bytes


class PanelSimulator:
    """One simulated panel on one port (see the module docstring)."""

    def __init__(self, protocol: str, port: PanelPort, *, out: TextIO | None = sys.stdout,
                 noise: float = 0.0, corrupt_rate: float = 0.0, seed: int | None = None,
                 checksum: Checksum = "sum", retries: int = 3, answer_timeout_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if protocol not in ("gb26875", "contactid", "sia-dc09"):
            raise ValueError(f"unknown protocol {protocol!r}")
        self.protocol = protocol
        self.port = port
        self.out = out
        self.noise = noise
        self.corrupt_rate = corrupt_rate
        self.random = random.Random(seed)
        self.checksum: Checksum = checksum
        self.retries = retries
        self.answer_timeout_s = answer_timeout_s
        self.clock = clock
        self.sent: list[Sent] = []
        self.answers: list[Answer] = []
        self.unanswered: list[int] = []
        self._ref = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._framer = Gb26875Decoder(checksum=checksum)
        self._buf = b""

    @property
    def replies(self) -> bool:
        """Whether the protocol answers every frame (GB 26875, DC-09)."""
        return self.protocol != "contactid"

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> PanelSimulator:
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"panel-{self.protocol}")
        self._reader.start()
        self.say(f"{self.protocol} panel on {self.port.describe()}")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        self.port.close()

    def __enter__(self) -> PanelSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def say(self, text: str) -> None:
        if self.out is not None:
            print(f"[panel {self.protocol}] {text}", file=self.out, flush=True)

    def wait_peer(self, timeout: float | None = None,
                  stop: threading.Event | None = None) -> bool:
        """Wait until the agent has the port open (then a short settle); False on timeout
        or when ``stop`` is set."""
        stop = stop or self._stop
        deadline = None if timeout is None else self.clock() + timeout
        announced = False
        while not self.port.peer_open():
            if not announced:
                self.say(f"waiting for the agent to open {self.port.describe()}")
                announced = True
            if stop.wait(0.02) or (deadline is not None and self.clock() > deadline):
                return False
        return not stop.wait(SETTLE_S)

    # --- sending ---------------------------------------------------------------------

    def send(self, step: PanelStep) -> Sent | None:
        """Do one step; for a data frame, until answered (or retries run out)."""
        if step.note:
            self.say(step.note)
        if step.action in ("unplug", "replug"):
            self._plug(step.action)
            return None
        if step.action == "noise":
            return self._write(Sent(0, "noise", self._noise(step.size or 16),
                                    f"{step.size} bytes of noise"))
        self._ref += 1
        ref = {"gb26875": self._ref & 0xFFFF, "sia-dc09": self._ref % 10000}.get(
            self.protocol, 0)
        frame = encode_step(self.protocol, step, self._ref, checksum=self.checksum)
        text = describe_step(self.protocol, step)
        if step.action == "corrupt":
            mark = len(self.answers)
            sent = self._write(Sent(ref, "corrupt", corrupt(self.protocol, frame), text))
            if self.replies:
                self._await(ref, mark, resend=None)
            return sent
        if self.noise and self.random.random() < self.noise:
            size = self.random.randint(1, 48)
            self._write(Sent(0, "noise", self._noise(size), f"{size} bytes of noise"))
        if self.corrupt_rate and self.random.random() < self.corrupt_rate:
            mark = len(self.answers)
            self._write(Sent(ref, "corrupt", corrupt(self.protocol, frame), text))
            if self.replies:
                self._await(ref, mark, resend=None)
        mark = len(self.answers)
        sent = self._write(Sent(ref, "data", frame, text))
        if self.replies and sent is not None:
            self._await(ref, mark, resend=sent)
        return sent

    def _noise(self, size: int) -> bytes:
        data = self.random.randbytes(size)
        # A burst on an idle line: end it so the next Contact ID line starts clean.
        return data + b"\r\n" if self.protocol == "contactid" else data

    def _write(self, sent: Sent) -> Sent | None:
        try:
            self.port.write(sent.raw)
        except PortGone as exc:
            self.say(f"-> NOT SENT ({exc}): {sent.text}")
            return None
        with self._cond:
            self.sent.append(sent)
        label = {"data": "->", "corrupt": "-> CORRUPT", "noise": "-> NOISE"}[sent.kind]
        ref = f" #{sent.ref}" if sent.ref else ""
        self.say(f"{label}{ref} {sent.text}")
        return sent

    def _await(self, ref: int, mark: int, resend: Sent | None) -> None:
        """Wait for the answer to frame ``ref`` after answer index ``mark``; resend on
        deny/NAK/timeout up to ``retries`` times when ``resend`` is given."""
        for attempt in range(self.retries + 1):
            answer = self._wait_answer(ref, mark)
            if answer is not None and answer.kind in ("confirm", "ACK"):
                return
            if resend is None:
                return
            if attempt == self.retries:
                break
            mark = len(self.answers)
            self.say(f"resending #{ref} ({answer.kind if answer else 'no answer'})")
            self._write(Sent(ref, "data", resend.raw, resend.text))
        self.unanswered.append(ref)
        self.say(f"NO CONFIRM for #{ref} after {self.retries} resend(s)")

    def _wait_answer(self, ref: int, mark: int) -> Answer | None:
        deadline = self.clock() + self.answer_timeout_s
        with self._cond:
            while True:
                for answer in self.answers[mark:]:
                    if answer.ref == ref or answer.kind in ("NAK", "bad"):
                        return answer
                remaining = deadline - self.clock()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(min(remaining, 0.1))

    def _plug(self, action: str) -> None:
        if not isinstance(self.port, PtyPort):
            self.say(f"{action}: only for --port pty; skipped")
            return
        if action == "unplug":
            self.port.unplug()
            self.say("UNPLUGGED (pty closed and removed)")
        else:
            path = self.port.plug()
            self.say(f"plugged in again: {self.port.describe() or path}")
            self.wait_peer(30)

    def play(self, scenario: PanelScenario, *, repeat: bool = False,
             stop: threading.Event | None = None) -> bool:
        """Play the timeline (forever with ``repeat``). False if ``stop`` interrupted it."""
        stop = stop or self._stop
        if scenario.name:
            self.say(f"scenario {scenario.name!r}{' (repeating)' if repeat else ''}")
        start = self.clock()
        cycle = 0
        while True:
            for step in scenario.step:
                remaining = start + cycle * scenario.period + step.at - self.clock()
                if (remaining > 0 and stop.wait(remaining)) or stop.is_set():
                    return False
                self.send(step)
            if not repeat:
                return True
            cycle = max(cycle + 1, int((self.clock() - start) // scenario.period))

    # --- reading the agent's answers ---------------------------------------------------

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            data = self.port.read(0.05)
            if data:
                for answer in self._parse(data):
                    with self._cond:
                        self.answers.append(answer)
                        self._cond.notify_all()
                    self._print_answer(answer)

    def _parse(self, data: bytes) -> list[Answer]:
        if self.protocol == "gb26875":
            out = []
            for result in self._framer.feed(data):
                if result.error is not None:
                    out.append(Answer("bad", None, result.raw))
                    continue
                command = result.raw[26]
                kind = {CMD_CONFIRM: "confirm", CMD_DENY: "deny"}.get(command,
                                                                       f"command {command}")
                out.append(Answer(kind, result.raw[2] | result.raw[3] << 8, result.raw))
            return out
        if self.protocol == "contactid":
            return [Answer("bytes", None, data)]
        self._buf = (self._buf + data)[-8192:]
        out = []
        while (cr := self._buf.find(b"\r")) >= 0:
            segment, self._buf = self._buf[: cr + 1], self._buf[cr + 1:]
            lf = segment.rfind(b"\n")
            m = _DC09.fullmatch(segment, lf) if lf >= 0 else None
            body = m.group(3) if m else b""
            if m is None or crc16_arc(body) != int(m.group(1), 16) or \
                    len(body) != int(m.group(2), 16):
                out.append(Answer("bad", None, segment))
            else:
                out.append(Answer(m.group(5).decode(), int(m.group(6)), segment))
        return out

    def _print_answer(self, answer: Answer) -> None:
        if answer.kind == "bytes":
            self.say(f"<- {answer.raw!r} (Contact ID expects no answer)")
        elif answer.kind == "bad":
            self.say(f"<- UNREADABLE answer {answer.raw.hex(' ')}")
        else:
            loud = answer.kind.upper() if answer.kind in ("deny", "NAK", "DUH") else answer.kind
            self.say(f"<- {loud}" + ("" if answer.kind == "NAK" else f" #{answer.ref}"))

    def summary(self) -> str:
        data = sum(1 for s in self.sent if s.kind == "data")
        kinds: dict[str, int] = {}
        for answer in self.answers:
            kinds[answer.kind] = kinds.get(answer.kind, 0) + 1
        answers = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no answers"
        bad = sum(1 for s in self.sent if s.kind == "corrupt")
        return (f"sent {data} frame(s), {bad} corrupt, "
                f"{sum(1 for s in self.sent if s.kind == 'noise')} noise burst(s); {answers}"
                + (f"; UNCONFIRMED: {self.unanswered}" if self.unanswered else ""))
