"""Issue 3, "Serial input": the reader thread between a simulated panel and the agent's
``raise_event`` (a recorder here): events, answers after commit, outbox refusals,
listen-only, TCP serial servers and statistics."""

from __future__ import annotations

from pathlib import Path

from helpers import wait_for
from serial_testkit import Made, Recorder

from simulators.panel_ports import TcpServerPort
from simulators.panel_scenario import PanelStep

FIRE = PanelStep(at=0, flags=["fire"], component_type=40, address="0A000200",
                 description="2F east corridor smoke detector")


def test_frame_becomes_a_serial_event_and_is_confirmed(tmp_path: Path, made: Made) -> None:
    recorder = Recorder()
    panel = made.panel("gb26875", link=tmp_path / "ttyPANEL")
    link = made.link(tmp_path / "ttyPANEL", recorder, zone_prefix="B1",
                     zone_names={"sys1-loop2-pt10": "stairwell"})
    assert panel.wait_peer(10)
    panel.send(FIRE)
    assert [a.kind for a in panel.answers] == ["confirm"]  # send() waited for it
    (event,) = recorder.events
    assert (event.kind, event.state) == ("smoke", "alarm")
    assert event.zone == "B1 sys1-loop2-pt10 2F east corridor smoke detector stairwell"
    assert event.detail["description"] == "2F east corridor smoke detector"
    assert event.detail["link"] == "fire-panel" and event.detail["component_type"] == 40
    stats = link.stats()
    assert (stats["frames"], stats["events"], stats["replies"], stats["failed"]) == (1, 1, 1, 0)
    assert link.summary().startswith("normal open gb26875 frames=1 events=1 replies=1 failed=0")


def test_refused_commit_withholds_the_confirm_and_the_resend_is_delivered(
        tmp_path: Path, made: Made) -> None:
    recorder = Recorder()
    recorder.fail = 1  # the SD card refuses the first write
    panel = made.panel("gb26875", link=tmp_path / "ttyPANEL", answer_timeout_s=0.5)
    link = made.link(tmp_path / "ttyPANEL", recorder)
    assert panel.wait_peer(10)
    panel.send(FIRE)
    assert [(s.kind, s.ref) for s in panel.sent] == [("data", 1), ("data", 1)]  # resent
    assert [a.kind for a in panel.answers] == ["confirm"]
    assert recorder.triples() == [("smoke", "alarm",
                                   "sys1-loop2-pt10 2F east corridor smoke detector")]
    assert link.stats()["replies_withheld"] == 1 and link.stats()["commit_failures"] == 1


def test_a_bug_while_delivering_does_not_end_the_reader(tmp_path: Path, made: Made) -> None:
    recorder = Recorder()
    recorder.crash = 1
    panel = made.panel("gb26875", link=tmp_path / "ttyPANEL", answer_timeout_s=0.5)
    link = made.link(tmp_path / "ttyPANEL", recorder)
    assert panel.wait_peer(10)
    panel.send(FIRE)  # unanswered at first (the reader reopens the port), then resent
    assert [a.kind for a in panel.answers] == ["confirm"] and panel.unanswered == []
    assert [e.state for e in recorder.events] == ["alarm"]
    assert link.stats()["internal_errors"] == 1 and link.state == "normal"


def test_contact_id_events_refused_by_the_outbox_are_retried(tmp_path: Path,
                                                             made: Made) -> None:
    recorder = Recorder()
    recorder.fail = 3
    panel = made.panel("contactid", link=tmp_path / "ttyCID")
    made.link(tmp_path / "ttyCID", recorder, "contactid",
              zone_names={"cid-1234-g01-z015": "2F east corridor smoke"})
    assert panel.wait_peer(10)
    panel.send(PanelStep(at=0, code=111, group=1, zone=15))
    (event,) = wait_for(lambda: recorder.events, what="the retried Contact ID event")
    assert (event.kind, event.state, event.zone) == (
        "smoke", "alarm", "cid-1234-g01-z015 2F east corridor smoke")
    assert event.detail["description"] == "2F east corridor smoke"
    assert event.detail["event_code"] == 111


def test_listen_only_never_writes_to_the_line(tmp_path: Path, made: Made) -> None:
    recorder = Recorder()
    panel = made.panel("sia-dc09", link=tmp_path / "ttyDC09", retries=0,
                       answer_timeout_s=0.3)
    made.link(tmp_path / "ttyDC09", recorder, "sia-dc09", listen_only=True)
    assert panel.wait_peer(10)
    panel.send(PanelStep(at=0, code="FA", zone=129, text="2F east corridor"))
    wait_for(lambda: recorder.events, what="the DC-09 event")
    assert panel.answers == []
    assert recorder.events[0].detail["text"] == "2F east corridor"


def test_tcp_serial_server_link_is_supervised_and_reconnects(made: Made) -> None:
    recorder = Recorder()
    server = TcpServerPort("tcp://127.0.0.1:0")
    url = f"socket://127.0.0.1:{server.port}"
    panel = made.panel("sia-dc09", server)
    link = made.link(url, recorder, "sia-dc09", loss_trouble_s=1)
    assert panel.wait_peer(10)
    panel.send(PanelStep(at=0, code="FA", zone=7))
    assert [a.kind for a in panel.answers] == ["ACK"]
    panel.stop()  # the serial server goes away
    wait_for(lambda: recorder.where(zone="fire-panel serial link", state="trouble"),
             what="link trouble for the lost TCP serial server")
    again = made.panel("sia-dc09", TcpServerPort(f"tcp://127.0.0.1:{server.port}"))
    assert again.wait_peer(15)
    again.send(PanelStep(at=0, code="FH", zone=7))
    wait_for(lambda: recorder.where(zone="fire-panel serial link", state="restore"),
             what="link restore")
    assert [(e.kind, e.state, e.zone) for e in recorder.events if e.zone != link.zone] == [
        ("fire", "alarm", "sia-1234-z7"), ("fire", "restore", "sia-1234-z7")]
    assert link.stats()["losses"] >= 1
