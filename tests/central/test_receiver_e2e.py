"""Central as a DC-09 IP receiver, end to end: a real `alarmlink central serve` child
process with [receiver] on, the panel simulator (simulators/dc09_ip.py) over TCP and UDP.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures.central import (
    ALARMLINK,
    REGISTRY,
    CentralProcess,
    private_file,
    running_central,
)
from helpers import wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alarmlink.broker import MosquittoBroker, free_port
from simulators.dc09_ip import Dc09IpPanel

KEY = "000102030405060708090A0B0C0D0E0F1011121314151617"  # AES-192
DEVICES = """
[[devices]]
id = "school-01-panel"
venue = "school-01"
dc09_account = "1234"
class = "dc09test"

[[devices]]
id = "village-01-panel"
venue = "village-01"
dc09_account = "5678"
class = "dc09test"
"""


@pytest.fixture
def receiver_central(fresh_mosquitto: MosquittoBroker,
                     tmp_path: Path) -> Iterator[CentralProcess]:
    registry = tmp_path / "registry.toml"
    registry.write_text(REGISTRY.read_text() + DEVICES)
    keys = private_file(tmp_path / "dc09-keys.toml", f'"5678" = "{KEY}"\n')
    port = free_port()
    extra = (f'[receiver]\nhost = "127.0.0.1"\ntcp_port = {port}\nudp_port = {port}\n'
             f'keys_file = "{keys}"\n'
             "[supervision]\ncheck_interval_s = 1\n"
             "[supervision.classes.dc09test]\n"
             "bound_s = 4\nheartbeat_s = 1\nsilence_s = 2\ngrace_s = 1\n")
    with running_central(tmp_path / "central", fresh_mosquitto, registry=registry,
                         extra=extra) as central:
        central.dc09_port = port  # type: ignore[attr-defined]
        yield central


def url(central: CentralProcess, scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{central.dc09_port}"  # type: ignore[attr-defined]


def events(central: CentralProcess, device: str) -> list[dict[str, object]]:
    return [dict(r) for r in central.rows(
        "SELECT event_id, kind, state, zone, deliveries, incident_id FROM events "
        "WHERE device_id = ?", (device,))]


@pytest.mark.parametrize("scheme", ["tcp", "udp"])
def test_panel_alarm_opens_incident_acked_after_commit_and_stored_once(
        receiver_central: CentralProcess, scheme: str) -> None:
    central = receiver_central
    with Dc09IpPanel(url(central, scheme), "1234") as panel:
        answer = panel.alarm("FA", 12, area=1)
        assert answer.kind == "ACK"
        stored = events(central, "school-01-panel")  # read right after the ACK: committed
        assert [(e["kind"], e["state"], e["zone"]) for e in stored] == [
            ("fire", "alarm", "sia-1234-z12-a1")]
        again = panel.transmit(panel.frame("|Nri1/FA12", seq=panel.seq))  # lost-ACK resend
        assert again.kind == "ACK"
    stored = events(central, "school-01-panel")
    assert len(stored) == 1 and stored[0]["deliveries"] == 2
    incidents = central.api("GET", "/api/incidents?station=chengxiang")
    mine = [i for i in incidents if i["id"] == stored[0]["incident_id"]]
    assert mine and mine[0]["venue_id"] == "school-01" and mine[0]["kind"] == "fire"
    if scheme == "tcp":  # the command an installer types
        done = subprocess.run([*ALARMLINK, "sim", "panel", "--receiver", url(central, scheme),
                               "--account", "1234", "--alarm", "PA:3"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "PA3: ACK" in done.stdout
        assert ("panic", "alarm", "sia-1234-z3") in [
            (e["kind"], e["state"], e["zone"]) for e in events(central, "school-01-panel")]


def test_encrypted_panel_and_bad_messages_are_nakked_and_dead_lettered(
        receiver_central: CentralProcess) -> None:
    central = receiver_central
    with Dc09IpPanel(url(central, "tcp"), "5678", key=KEY) as panel:
        ok = panel.frame("|Nri1/PA3")
        assert panel.transmit(ok).kind == "ACK"
        assert panel.transmit(ok).kind == "NAK"  # the same ciphertext again: a replay
        old = panel.frame("|Nri1/PA4", timestamp=datetime.now(UTC) - timedelta(minutes=10))
        assert panel.transmit(old).kind == "NAK"
    with Dc09IpPanel(url(central, "tcp"), "5678", key="AB" * 24) as wrong:
        assert wrong.transmit(wrong.frame("|Nri1/PA5")).kind == "NAK"
    stored = events(central, "village-01-panel")
    assert [(e["kind"], e["zone"]) for e in stored] == [("panic", "sia-5678-z3-a1")]
    reasons = [r["reason"] for r in central.rows(
        "SELECT reason FROM dead_letters WHERE topic LIKE 'dc09/tcp/%' ORDER BY id")]
    assert [r.split(":")[1].strip() for r in reasons] == ["replay", "stale", "decrypt"]
    log = central.log.read_text()
    assert KEY not in log and KEY.lower() not in log


def test_missing_link_tests_raise_an_offline_trouble(receiver_central: CentralProcess) -> None:
    central = receiver_central
    with Dc09IpPanel(url(central, "udp"), "1234") as panel:
        assert panel.link_test().kind == "ACK"
    # no more link tests: silence_s 2 + grace_s 1 + check 1 = the class's bound of 4 s
    def trouble() -> list[object]:
        return central.rows(
            "SELECT i.id FROM incidents i JOIN supervision s ON s.incident_id = i.id "
            "WHERE s.device_id = 'school-01-panel' AND s.state = 'trouble'")
    wait_for(trouble, timeout=4 + 3, what="device offline trouble for the DC-09 panel")


@settings(deadline=None, max_examples=40,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=600), udp=st.booleans())
def test_arbitrary_bytes_never_crash_central_or_make_events(
        receiver_central: CentralProcess, blob: bytes, udp: bool) -> None:
    central = receiver_central
    address = ("127.0.0.1", central.dc09_port)  # type: ignore[attr-defined]
    if udp:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(blob or b"\n", address)
    else:
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(blob)
    assert central.rows("SELECT count(*) AS n FROM events")[0]["n"] == 0
    assert central.proc is not None and central.proc.poll() is None
    with Dc09IpPanel(url(central, "tcp"), "9999") as probe:  # still answering
        assert probe.link_test().kind == "NAK"  # unknown account
