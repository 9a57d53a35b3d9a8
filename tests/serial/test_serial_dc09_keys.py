"""``[[serials]] key_file``: encrypted SIA DC-09 on a serial line or a serial/IP adapter
(AES keys per account from a 0600 TOML file, never logged)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import wait_for
from serial_testkit import Made, Recorder, serial_input
from test_serial_config import config, problems

from alarmlink.codecs import sia_dc09
from simulators.panel_ports import PtyPort

KEY = "00112233445566778899AABBCCDDEEFF0011223344556677"  # AES-192


def key_file(tmp_path: Path, mode: int = 0o600, text: str = f'"1234" = "{KEY}"\n') -> Path:
    path = tmp_path / "dc09-keys.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def read_answer(port: PtyPort) -> bytes:
    """The reader's answer to one message (up to its CR)."""
    answer = b""
    for _ in range(50):  # each read waits up to 0.2 s for bytes: no sleep
        answer += port.read(0.2)
        if answer.endswith(b"\r"):
            return answer
    raise AssertionError(f"no complete answer: {answer!r}")


def test_key_file_is_checked_with_the_config(tmp_path: Path) -> None:
    key_file(tmp_path)
    item = config(tmp_path, serial_input("/dev/ttyUSB0", "sia-dc09",
                                         key_file="dc09-keys.toml")).serials[0]
    assert item.key_file == tmp_path / "dc09-keys.toml"  # relative to the config file
    assert item.decoder_options() == {"keys": {"1234": bytes.fromhex(KEY)}}
    assert "key_file: only for protocol 'sia-dc09', not 'gb26875'" in problems(
        tmp_path, serial_input("/dev/ttyUSB0", key_file="dc09-keys.toml"))
    key_file(tmp_path, 0o644)
    message = problems(tmp_path, serial_input("/dev/ttyUSB0", "sia-dc09",
                                              key_file="dc09-keys.toml"))
    assert "must not be readable by group or others" in message and "chmod 600" in message
    key_file(tmp_path, 0o600, '"1234" = "00112233"\n')
    message = problems(tmp_path, serial_input("/dev/ttyUSB0", "sia-dc09",
                                              key_file="dc09-keys.toml"))
    assert "account '1234'" in message and "00112233" not in message  # never the key
    assert "cannot read" in problems(tmp_path, serial_input(
        "/dev/ttyUSB0", "sia-dc09", key_file="missing.toml"))


def test_encrypted_dc09_on_a_serial_line_is_decoded_and_acked(
        tmp_path: Path, made: Made, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    keys = key_file(tmp_path)
    port = PtyPort(tmp_path / "ttyPANEL")
    try:
        recorder = Recorder()
        link = made.link(tmp_path / "ttyPANEL", recorder, "sia-dc09", key_file=str(keys))
        # opened (pyserial flushes the input while opening, before this counter)
        wait_for(lambda: link.stats()["opens"] == 1, timeout=10, what="the reader opens")
        now = datetime.now(UTC)
        port.write(sia_dc09.encode_message(seq=1, account="1234", data="|Nri1/FA12",
                                           timestamp=now, key=KEY))
        answer = read_answer(port)
        assert b'"*ACK"' in answer  # the encrypted ACK: the panel's key was used
        assert recorder.triples() == [("fire", "alarm", "sia-1234-z12-a1")]
        port.write(sia_dc09.encode_message(seq=2, account="1234", data="|Nri1/FA13",
                                           timestamp=now, key="AB" * 24))  # wrong key
        answer = read_answer(port)
        assert b'"NAK"' in answer and len(recorder.events) == 1
    finally:
        port.close()
    assert KEY not in caplog.text and KEY.lower() not in caplog.text
