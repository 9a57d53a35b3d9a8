"""A panel with its own IP communicator: SIA DC-09 over TCP or UDP to central's receiver.

::

    alarmlink sim panel --receiver tcp://127.0.0.1:9000 --account 1234 --alarm FA:12
    alarmlink sim panel --receiver udp://127.0.0.1:9000 --account 1234 \\
        --key-file panel.key --link-test 10 --alarm FA:12 --alarm FR:12

Each message waits for its answer (``--answer-timeout``) and is retransmitted with the
same sequence number up to ``--retries`` times, as a real communicator does; with
``--key-file`` (a file holding the hex key, so it never shows in ``ps``) messages are
AES-encrypted and the encrypted ``*ACK`` is decrypted. ``--corrupt RATE`` sends a copy
with a broken CRC before a message. ``--link-test S`` then sends a ``NULL`` link test
every S seconds until interrupted.
"""

from __future__ import annotations

import argparse
import logging
import random
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from alarmlink.codecs.dc09_crypto import decrypt_content, parse_key
from alarmlink.codecs.sia_dc09 import DecodeError, decode_frame, encode_message

logger = logging.getLogger(__name__)


@dataclass
class Answer:
    """What the receiver answered a message: ``"ACK"``, ``"NAK"``, ``"DUH"`` or ``None``."""

    kind: str | None
    raw: bytes
    seconds: float


class Dc09IpPanel:
    """One panel account talking to a receiver at ``tcp://`` or ``udp://HOST:PORT``."""

    def __init__(self, url: str, account: str, *, key: str | bytes | None = None,
                 receiver: str | None = "1", line: str = "0", answer_timeout: float = 3.0,
                 retries: int = 3, corrupt: float = 0.0, seed: int | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("tcp", "udp") or not parts.hostname or not parts.port:
            raise ValueError(f"{url!r}: the receiver is tcp://HOST:PORT or udp://HOST:PORT")
        self.scheme = parts.scheme
        self.address = (parts.hostname, parts.port)
        self.account = account
        self.key = parse_key(key) if key is not None else None
        self.receiver = receiver
        self.line = line
        self.answer_timeout = answer_timeout
        self.retries = retries
        self.corrupt = corrupt
        self.random = random.Random(seed)
        self.seq = 0
        self._sock: socket.socket | None = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Dc09IpPanel:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _socket(self) -> socket.socket:
        if self._sock is None:
            if self.scheme == "tcp":
                self._sock = socket.create_connection(self.address, self.answer_timeout)
            else:
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sock.connect(self.address)
            self._sock.settimeout(self.answer_timeout)
        return self._sock

    def frame(self, data: str, *, id: str = "SIA-DCS", seq: int | None = None,
              timestamp: datetime | None = None) -> bytes:
        """A message of this account (encrypted when the panel has a key)."""
        ts = timestamp or datetime.now(UTC).replace(microsecond=0)
        return encode_message(seq=self.seq if seq is None else seq, account=self.account,
                              data=data, id=id, receiver=self.receiver, line=self.line,
                              timestamp=ts, key=self.key)

    def alarm(self, code: str, zone: str | int, area: str | int = "") -> Answer:
        """Send one SIA event (e.g. ``FA``, zone 12) and wait for its answer."""
        prefix = f"ri{area}/" if area != "" else ""
        return self.send(f"|N{prefix}{code}{zone}")

    def link_test(self) -> Answer:
        return self.send("", id="NULL")

    def send(self, data: str, *, id: str = "SIA-DCS") -> Answer:
        """Send a new message (next sequence number), retransmitting until answered."""
        self.seq = self.seq % 9999 + 1
        answer = Answer(None, b"", 0.0)
        for _attempt in range(1 + self.retries):
            raw = self.frame(data, id=id)  # a retransmission carries a fresh timestamp
            answer = self.transmit(raw)
            if answer.kind == "ACK":
                break
        return answer

    def transmit(self, raw: bytes) -> Answer:
        """Send ``raw`` as is (optionally after a corrupted copy); read the answer."""
        sock = self._socket()
        if self.corrupt and self.random.random() < self.corrupt:
            bad = raw[:1] + (b"0000" if raw[1:5] != b"0000" else b"FFFF") + raw[5:]
            sock.sendall(bad)
            self._read(sock)  # its NAK
        started = time.monotonic()
        sock.sendall(raw)
        reply = self._read(sock)
        return Answer(self._kind(reply), reply, time.monotonic() - started)

    def _read(self, sock: socket.socket) -> bytes:
        buf = b""
        try:
            while not buf.endswith(b"\r"):
                chunk = sock.recv(4096)
                if not chunk:
                    self.close()
                    break
                buf += chunk
        except TimeoutError:
            logger.info("no answer within %g s", self.answer_timeout)
        except OSError as exc:
            logger.info("connection lost: %s", exc)
            self.close()
        return buf[buf.rfind(b"\n"):] if b"\n" in buf else buf

    def _kind(self, reply: bytes) -> str | None:
        if reply[9:14] == b'"NAK"':  # "NAK"0000R0L0A0[]_time: no "#account", not parsed
            return "NAK"
        try:
            msg = decode_frame(reply)
        except DecodeError:
            return None
        if msg.encrypted and self.key is not None:
            try:
                decrypt_content(self.key, msg.data)
            except DecodeError:
                return None  # an ACK we cannot decrypt is no ACK
        return msg.id


def run_cli(args: argparse.Namespace) -> int:
    """``alarmlink sim panel --receiver URL``: 0 if every message was ACKed, 1 if not,
    2 for bad arguments."""
    try:
        key = Path(args.key_file).read_text().strip() if args.key_file else None
        panel = Dc09IpPanel(args.receiver, args.account, key=key,
                            answer_timeout=args.answer_timeout, retries=args.retries,
                            corrupt=args.corrupt, seed=args.seed)
        alarms = [item.split(":", 1) for item in args.alarm]
        if any(len(a) != 2 or len(a[0]) != 2 for a in alarms):
            raise ValueError("--alarm is CODE:ZONE, e.g. FA:12")
    except (OSError, ValueError) as exc:
        print(f"sim panel: {exc}", file=sys.stderr)
        return 2
    failed = 0
    try:
        with panel:
            for code, zone in alarms:
                answer = panel.alarm(code.upper(), zone)
                print(f"seq {panel.seq:04d} {code}{zone}: {answer.kind or 'no answer'} "
                      f"({answer.seconds * 1000:.0f} ms)", flush=True)
                failed += answer.kind != "ACK"
            while args.link_test:
                answer = panel.link_test()
                print(f"seq {panel.seq:04d} NULL: {answer.kind or 'no answer'}", flush=True)
                time.sleep(args.link_test)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"sim panel: receiver {args.receiver}: {exc}", file=sys.stderr)
        return 1
    return 1 if failed else 0
