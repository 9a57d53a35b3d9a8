"""An AT-command GSM modem on a serial port: SMS in PDU mode, delivery reports, inbound
SMS, voice calls with DTMF where the modem reports it (``+DTMF: <key>``, e.g. SIMCom
after ``AT+DDET=1``).

Not thread-safe: one thread owns a modem (central's notifier, the agent's failover).
Every failure is a :class:`ModemError` with one line saying what the modem answered;
unsolicited lines (``+CMTI``, ``+CDS``, ``+DTMF``, ``RING``, ``NO CARRIER``) met while
waiting are kept and handed out by :meth:`AtModem.poll`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from alarmlink.gsm.pdu import (
    Deliver,
    PduError,
    StatusReport,
    decode_deliver,
    decode_status_report,
    encode_submit,
)

logger = logging.getLogger(__name__)

_FINAL_OK = "OK"
_FINAL_ERRORS = ("ERROR", "+CMS ERROR", "+CME ERROR", "NO CARRIER", "BUSY", "NO ANSWER",
                 "NO DIALTONE")
_UNSOLICITED = ("+CMTI:", "+CDS:", "+DTMF:", "RING", "NO CARRIER", "+CLIP:", "BUSY",
                "NO ANSWER")


class ModemError(RuntimeError):
    """The modem refused, timed out or is gone; the message says which."""


class SerialLike(Protocol):
    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes, /) -> int | None: ...
    def close(self) -> None: ...


def open_serial(port: str, baud: int = 115200) -> SerialLike:
    """The default transport: pyserial (a device path, or a pyserial URL)."""
    import serial  # pyserial: only who talks to a modem needs it

    try:
        port_obj: SerialLike = serial.serial_for_url(port, baudrate=baud, timeout=0.05)
    except serial.SerialException as exc:
        raise ModemError(f"cannot open modem port {port}: {exc}") from None
    return port_obj


@dataclass(frozen=True)
class SentSms:
    """The message references the network gave each part (for delivery reports)."""

    references: list[int]


@dataclass
class CallResult:
    answered: bool
    dtmf: str = ""
    detail: str = ""


@dataclass
class Unsolicited:
    """What the modem said on its own since the last :meth:`AtModem.poll`."""

    new_sms: list[int] = field(default_factory=list)  # +CMTI indexes
    reports: list[StatusReport] = field(default_factory=list)
    dtmf: str = ""
    other: list[str] = field(default_factory=list)


class AtModem:
    """One modem. ``opener`` builds the transport (injectable; default pyserial)."""

    def __init__(self, port: str, *, timeout_s: float = 10.0,
                 opener: Callable[[str], SerialLike] = open_serial,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self._opener = opener
        self._clock = clock
        self._serial: SerialLike | None = None
        self._buf = b""
        self._pending = Unsolicited()
        self._cds_next = False

    # ---------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Open the port and set PDU mode, delivery reports and indications."""
        self.close()
        self._serial = self._opener(self.port)
        self._buf = b""
        self.command("ATE0")
        self.command("AT+CMGF=0")
        self.command("AT+CNMI=2,1,0,1,0")
        self.command("AT+CSMP=49,167,0,8", allow_error=True)
        self.command("AT+DDET=1", allow_error=True)

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except OSError:
                logger.debug("modem %s: close failed", self.port)
        self._serial = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    # ---------------------------------------------------------------- AT core

    def _write(self, data: bytes) -> None:
        if self._serial is None:
            raise ModemError(f"modem {self.port} is not open")
        try:
            self._serial.write(data)
        except OSError as exc:
            self.close()
            raise ModemError(f"modem {self.port}: write failed: {exc}") from None

    def _read_some(self) -> None:
        if self._serial is None:
            raise ModemError(f"modem {self.port} is not open")
        try:
            chunk = self._serial.read(256)
        except OSError as exc:
            self.close()
            raise ModemError(f"modem {self.port}: read failed: {exc}") from None
        self._buf += chunk

    def _next_line(self, deadline: float, *, prompt: bool = False) -> str | None:
        """The next non-empty line (or ``>`` when ``prompt``); None at the deadline."""
        while True:
            stripped = self._buf.lstrip(b"\r\n")
            if prompt and stripped.startswith(b">"):
                self._buf = stripped[1:].lstrip(b" ")
                return ">"
            if b"\n" in stripped or b"\r" in stripped:
                match = re.search(rb"[\r\n]", stripped)
                assert match is not None
                line, self._buf = stripped[:match.start()], stripped[match.end():]
                text = line.decode("ascii", "replace").strip()
                if text:
                    return text
                continue
            self._buf = stripped
            if self._clock() >= deadline:
                return None
            self._read_some()

    def _keep_unsolicited(self, line: str) -> bool:
        if self._cds_next:
            self._cds_next = False
            try:
                self._pending.reports.append(decode_status_report(line))
            except PduError as exc:
                logger.warning("modem %s: unreadable delivery report: %s", self.port, exc)
            return True
        if line.startswith("+CMTI:"):
            index = line.rsplit(",", 1)[-1].strip()
            if index.isdigit():
                self._pending.new_sms.append(int(index))
            return True
        if line.startswith("+CDS:"):
            self._cds_next = True
            return True
        if line.startswith("+DTMF:"):
            self._pending.dtmf += line.split(":", 1)[1].strip()
            return True
        if line.startswith(_UNSOLICITED):
            self._pending.other.append(line)
            return True
        return False

    def command(self, cmd: str, *, timeout_s: float | None = None,
                allow_error: bool = False) -> list[str]:
        """Send ``cmd``; the lines before ``OK``. ModemError on an error or no answer."""
        self._write(cmd.encode("ascii") + b"\r")
        return self._collect(cmd, timeout_s, allow_error)

    def _collect(self, cmd: str, timeout_s: float | None, allow_error: bool) -> list[str]:
        deadline = self._clock() + (self.timeout_s if timeout_s is None else timeout_s)
        lines: list[str] = []
        while True:
            line = self._next_line(deadline)
            if line is None:
                raise ModemError(f"modem {self.port}: no answer to {cmd.split('=')[0]} "
                                 f"within {self.timeout_s if timeout_s is None else timeout_s:g} s")
            if line == cmd:  # echo
                continue
            if line == _FINAL_OK:
                return lines
            if line.startswith(_FINAL_ERRORS) and not (
                    line.startswith(("NO CARRIER", "BUSY", "NO ANSWER"))
                    and not cmd.startswith("ATD")):
                if allow_error:
                    return lines
                raise ModemError(f"modem {self.port}: {cmd.split('=')[0]} answered {line}")
            if self._keep_unsolicited(line):
                continue
            lines.append(line)

    def _drain(self, wait_s: float) -> None:
        deadline = self._clock() + wait_s
        while True:
            line = self._next_line(deadline)
            if line is None:
                return
            if not self._keep_unsolicited(line):
                logger.debug("modem %s: stray line %r", self.port, line)

    def poll(self, wait_s: float = 0.0) -> Unsolicited:
        """Read what the modem said on its own (for up to ``wait_s``) and hand it out."""
        self._drain(wait_s)
        got, self._pending = self._pending, Unsolicited()
        return got

    # ---------------------------------------------------------------- SMS

    def send_sms(self, number: str, text: str, *, reference: int = 0) -> SentSms:
        """Send ``text`` (split, UCS2 as needed) with delivery reports requested."""
        refs = []
        for length, pdu in encode_submit(number, text, reference=reference):
            self._write(f"AT+CMGS={length}\r".encode("ascii"))
            deadline = self._clock() + self.timeout_s
            while True:
                line = self._next_line(deadline, prompt=True)
                if line is None:
                    raise ModemError(f"modem {self.port}: no '>' prompt for AT+CMGS within "
                                     f"{self.timeout_s:g} s")
                if line == ">":
                    break
                if line.startswith(_FINAL_ERRORS):
                    raise ModemError(f"modem {self.port}: AT+CMGS answered {line}")
                self._keep_unsolicited(line)
            self._write(pdu.encode("ascii") + b"\x1a")
            lines = self._collect("AT+CMGS", self.timeout_s * 3, False)
            for line in lines:
                if line.startswith("+CMGS:"):
                    value = line.split(":", 1)[1].strip()
                    refs.append(int(value) if value.isdigit() else -1)
        return SentSms(refs)

    def read_inbox(self) -> tuple[list[Deliver], list[str]]:
        """Read and delete every stored SMS: (decoded messages, one reason per bad one)."""
        lines = self.command("AT+CMGL=4")
        messages: list[Deliver] = []
        bad: list[str] = []
        indexes: list[int] = []
        expect_pdu = False
        for line in lines:
            if line.startswith("+CMGL:"):
                head = line.split(":", 1)[1].split(",")[0].strip()
                if head.isdigit():
                    indexes.append(int(head))
                expect_pdu = True
                continue
            if expect_pdu:
                expect_pdu = False
                try:
                    messages.append(decode_deliver(line))
                except PduError as exc:
                    bad.append(f"unreadable SMS PDU ({exc}): {line[:80]}")
        for index in indexes:
            self.command(f"AT+CMGD={index}", allow_error=True)
        return messages, bad

    # ---------------------------------------------------------------- voice

    def call(self, number: str, *, ring_s: float = 30.0, listen_s: float = 15.0,
             want_dtmf: str = "1") -> CallResult:
        """Dial, wait for an answer (``+CLCC`` state 0), listen for DTMF, hang up."""
        digits = "".join(c for c in number if c.isdigit() or c == "+")
        self._pending.dtmf = ""
        try:
            self.command(f"ATD{digits};", timeout_s=self.timeout_s)
        except ModemError as exc:
            return CallResult(False, detail=str(exc))
        answered = False
        try:
            deadline = self._clock() + ring_s
            while self._clock() < deadline:
                lines = self.command("AT+CLCC")
                states = [line.split(",")[2] for line in lines
                          if line.startswith("+CLCC:") and line.count(",") >= 2]
                if "0" in states:
                    answered = True
                    break
                if not states:
                    return CallResult(False, detail="no answer (call ended)")
                self._drain(0.2)
            if not answered:
                return CallResult(False, detail=f"no answer within {ring_s:g} s")
            deadline = self._clock() + listen_s
            while self._clock() < deadline and want_dtmf not in self._pending.dtmf:
                self._drain(0.2)
            dtmf = self._pending.dtmf
            return CallResult(True, dtmf=dtmf, detail="answered")
        finally:
            try:
                self.command("ATH", allow_error=True)
            except ModemError:
                logger.warning("modem %s: hang-up not answered", self.port)
