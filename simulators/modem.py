"""A GSM modem simulator on a pseudo-terminal: ``alarmlink sim modem``.

It speaks the AT commands :class:`alarmlink.gsm.AtModem` uses (``ATE0``, ``AT+CMGF``,
``AT+CNMI``, ``AT+CMGS`` in PDU mode, ``AT+CMGL``/``AT+CMGD``, ``ATD``/``AT+CLCC``/
``ATH``) and plays the network and the phones behind it: every SMS sent is decoded and,
for concatenated texts, reassembled on the recipient's simulated phone; a delivery
report (``+CDS``) follows each part; a phone answers calls and may press a key
(``+DTMF``); a phone may send an SMS to the modem (``+CMTI``). Faults on demand:
``error`` (next commands answer ERROR), ``silent`` (next commands get no answer),
``no_network`` (sends and calls fail with ``+CMS ERROR: 331`` / ``NO CARRIER``),
``slow`` (answers after a delay) and :meth:`FakeModem.reset` (stored messages lost).
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from dataclasses import dataclass, field

from alarmlink.gsm.pdu import (
    PduError,
    Submit,
    decode_submit,
    encode_deliver,
    encode_status_report,
    normalize_number,
)

logger = logging.getLogger(__name__)


@dataclass
class Phone:
    """A simulated handset: what it received, and how it answers calls."""

    number: str
    parts: list[Submit] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    calls: int = 0
    answer: bool = True
    press: str = ""


class GsmNetwork:
    """A simulated operator network joining several :class:`FakeModem`: an SMS sent to a
    number another modem on the network owns arrives at that modem (``+CMTI``), as from
    the sender modem's own number. Numbers nobody owns stay simulated phones."""

    def __init__(self) -> None:
        self._modems: dict[str, FakeModem] = {}
        self._lock = threading.Lock()

    def join(self, modem: FakeModem) -> None:
        with self._lock:
            self._modems[normalize_number(modem.number)] = modem

    def modem_for(self, number: str) -> FakeModem | None:
        with self._lock:
            return self._modems.get(normalize_number(number))


class FakeModem:
    """The simulator. :attr:`path` is the pty the client opens. ``number``: its own SIM's
    number; ``network``: a :class:`GsmNetwork` it is reachable on."""

    def __init__(self, number: str = "", network: GsmNetwork | None = None) -> None:
        self.number = number
        self.network = network
        if network is not None:
            if not number:
                raise ValueError("a modem on a network needs a number")
            network.join(self)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.path = os.ttyname(self._slave)
        self.phones: dict[str, Phone] = {}
        self.lock = threading.Lock()
        #: (number, text) for every SMS part sent, in order
        self.sent: list[tuple[str, str]] = []
        #: number for every call placed, in order
        self.dialled: list[str] = []
        self.commands: list[str] = []
        self.faults: dict[str, float] = {}
        self.fault_only: dict[str, str] = {}
        self._store: dict[int, str] = {}
        self._next_index = 1
        self._next_mr = 1
        self._call: str | None = None
        self._buf = b""
        self._pdu_len: int | None = None
        self._pdu_mode = False
        self._reset_after: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-modem", daemon=True)

    # ---------------------------------------------------------------- control

    def start(self) -> FakeModem:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)

    def phone(self, number: str) -> Phone:
        key = normalize_number(number)
        with self.lock:
            return self.phones.setdefault(key, Phone(key))

    def fault(self, name: str, value: float = 1, *, only: str = "") -> None:
        """``error``/``silent``: that many next commands (``only``: just those starting so,
        e.g. ``AT+CMGS``); ``no_network``: on (1) / off (0); ``slow``: seconds per answer."""
        with self.lock:
            self.faults[name] = value
            self.fault_only[name] = only.upper()

    def reset(self) -> None:
        """A modem reset: stored messages, any call and the settings (PDU mode) are gone:
        until the client sends ``AT+CMGF=0`` again, ``AT+CMGS`` answers ``+CMS ERROR: 302``."""
        with self.lock:
            self._store.clear()
            self._call = None
            self._pdu_len = None
            self._pdu_mode = False

    def reset_after(self, sends: int) -> None:
        """Reset in the middle of the client's send queue: after ``sends`` more SMS parts
        went out, the next ``AT+CMGS`` is lost in the reset (no answer at all)."""
        with self.lock:
            self._reset_after = sends

    def deliver(self, sender: str, text: str) -> None:
        """A phone sends ``text`` to this modem: stored, announced with ``+CMTI``."""
        self.deliver_pdus(encode_deliver(sender, text, reference=self._next_mr))

    def deliver_pdus(self, pdus: list[str]) -> None:
        for pdu in pdus:
            with self.lock:
                index = self._next_index
                self._next_index += 1
                self._store[index] = pdu
            self._out(f'+CMTI: "SM",{index}')

    def messages_to(self, number: str) -> list[str]:
        with self.lock:
            return list(self.phone_nolock(number).messages)

    def phone_nolock(self, number: str) -> Phone:
        key = normalize_number(number)
        return self.phones.setdefault(key, Phone(key))

    def recipients(self) -> list[str]:
        """Numbers that received at least one SMS or call."""
        with self.lock:
            return sorted({n for n, _ in self.sent} | set(self.dialled))

    # ---------------------------------------------------------------- the pty

    def _out(self, line: str) -> None:
        try:
            os.write(self._master, f"\r\n{line}\r\n".encode())
        except OSError:
            logger.debug("fake modem: write failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                continue
            self._buf += chunk
            self._consume()

    def _consume(self) -> None:
        while True:
            if self._pdu_len is not None:
                if b"\x1a" not in self._buf:
                    return
                pdu, self._buf = self._buf.split(b"\x1a", 1)
                self._pdu_len = None
                self._submit(pdu.decode("ascii", "replace").strip())
                continue
            if b"\r" not in self._buf:
                return
            raw, self._buf = self._buf.split(b"\r", 1)
            cmd = raw.decode("ascii", "replace").strip()
            if cmd:
                self._command(cmd)

    def _take_fault(self, name: str, cmd: str) -> bool:
        with self.lock:
            left = self.faults.get(name, 0)
            if left <= 0 or not cmd.upper().startswith(self.fault_only.get(name, "")):
                return False
            self.faults[name] = left - 1
            return True

    def _command(self, cmd: str) -> None:
        with self.lock:
            self.commands.append(cmd)
            slow = self.faults.get("slow", 0)
            no_network = self.faults.get("no_network", 0) > 0
        if self._take_fault("error", cmd):
            self._out("ERROR")
            return
        if self._take_fault("silent", cmd):
            return
        if slow:
            time.sleep(slow)
        upper = cmd.upper()
        if upper.startswith("AT+CMGS=") and self._reset_pending():
            return
        if upper.startswith("AT+CMGF="):
            with self.lock:
                self._pdu_mode = upper.endswith("=0")
            self._out("OK")
        elif upper.startswith("AT+CMGS="):
            if not self._pdu_mode:
                self._out("+CMS ERROR: 302")
                return
            if no_network:
                self._out("+CMS ERROR: 331")
                return
            self._pdu_len = 0
            os.write(self._master, b"\r\n> ")
        elif upper.startswith("AT+CMGL"):
            with self.lock:
                stored = sorted(self._store.items())
            for index, pdu in stored:
                self._out(f"+CMGL: {index},0,,{len(pdu) // 2 - 1}\r\n{pdu}")
            self._out("OK")
        elif upper.startswith("AT+CMGD="):
            with self.lock:
                self._store.pop(int(upper.split("=")[1].split(",")[0] or 0), None)
            self._out("OK")
        elif upper.startswith("ATD"):
            self._dial(cmd[3:].rstrip(";"), no_network)
        elif upper.startswith("AT+CLCC"):
            with self.lock:
                call = self._call
            if call is not None:
                answers = self.phone(call).answer
                self._out(f'+CLCC: 1,0,{0 if answers else 3},0,0,"{call}",129')
            self._out("OK")
        elif upper.startswith(("ATH", "AT+CHUP")):
            with self.lock:
                self._call = None
            self._out("OK")
        else:  # ATE0, AT+CMGF, AT+CNMI, AT+CSMP, AT+DDET, AT ...
            self._out("OK")

    def _reset_pending(self) -> bool:
        with self.lock:
            if self._reset_after is None:
                return False
            if self._reset_after > 0:
                self._reset_after -= 1
                return False
            self._reset_after = None
        logger.info("fake modem: reset in the middle of a send")
        self.reset()
        return True

    def _dial(self, number: str, no_network: bool) -> None:
        if no_network:
            self._out("NO CARRIER")
            return
        phone = self.phone(number)
        with self.lock:
            self.dialled.append(phone.number)
            phone.calls += 1
            self._call = phone.number
        self._out("OK")
        if phone.answer and phone.press:
            for key in phone.press:
                self._out(f"+DTMF: {key}")

    def _submit(self, pdu: str) -> None:
        try:
            submit = decode_submit(pdu)
        except PduError as exc:
            logger.warning("fake modem: bad PDU: %s", exc)
            self._out("+CMS ERROR: 304")
            return
        with self.lock:
            mr = self._next_mr
            self._next_mr = (self._next_mr % 255) + 1
            phone = self.phone_nolock(submit.number)
            phone.parts.append(submit)
            self.sent.append((phone.number, submit.text))
            complete = _reassemble_on(phone, submit)
        self._out(f"+CMGS: {mr}")
        self._out("OK")
        if submit.status_report:
            report = encode_status_report(mr, submit.number, 0)
            self._out(f"+CDS: {len(report) // 2 - 1}\r\n{report}")
        other = self.network.modem_for(submit.number) if self.network is not None else None
        if complete is not None and other is not None:
            other.deliver(self.number, complete)


def _reassemble_on(phone: Phone, submit: Submit) -> str | None:
    """Store the part on the phone; the whole text once its last part arrived."""
    if submit.concat is None:
        phone.messages.append(submit.text)
        return submit.text
    ref, total, _seq = submit.concat
    parts = {p.concat[2]: p.text for p in phone.parts
             if p.concat is not None and p.concat[0] == ref and p.concat[1] == total}
    if len(parts) == total:
        whole = "".join(parts[i] for i in range(1, total + 1))
        phone.messages.append(whole)
        return whole
    return None
