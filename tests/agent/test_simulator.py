"""The venue simulator: the real agent on mock pins, driven by actions, scenarios and stdin."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_testkit import FIRMWARE, LOOP, NC_SMOKE, ROOT, make_config
from fixtures.mqtt import CentralStub
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from edge_agent.config import ConfigError, load_config
from simulators.scenario import load_scenario, run_scenario
from simulators.venue import SimulatorError, VenueSimulator

NO_HEAT = {"type": "detector", "zone": "kitchen-heat", "pin": 25, "kind": "heat",
           "contact": "normally_open", "confirm_ms": 0}
NC_UNSUPERVISED = {"type": "detector", "zone": "hall-smoke", "pin": 26,
                   "contact": "normally_closed", "confirm_ms": 0}
INPUTS = [{"type": "button", "zone": "gate-button", "pin": 17}, NC_SMOKE, LOOP, NO_HEAT,
          NC_UNSUPERVISED]


@pytest.fixture
def offline_venue(tmp_path: Path) -> Iterator[tuple[VenueSimulator, io.StringIO]]:
    """A simulator whose broker is unreachable: the agent commits events regardless."""
    out = io.StringIO()
    sim = VenueSimulator(make_config(tmp_path, inputs=INPUTS), out=out)
    sim.start()
    yield sim, out
    sim.stop()


def test_actions_produce_the_right_events(
        offline_venue: tuple[VenueSimulator, io.StringIO]) -> None:
    sim, out = offline_venue
    press = sim.press("gate-button")
    assert (press.kind, press.state, press.zone, press.source) == ("panic", "alarm",
                                                                   "gate-button", "gpio")
    assert sim.stage == "sent"
    assert sim.agent.outbox.contains(press.event_id)

    trip = sim.trip("dorm-smoke")
    assert (trip.kind, trip.state) == ("smoke", "alarm")
    restore = sim.restore("dorm-smoke")
    assert restore is not None and (restore.kind, restore.state) == ("smoke", "restore")

    cut = sim.cut("dorm-smoke")  # supervised: trouble, not an alarm
    assert cut is not None and (cut.kind, cut.state) == ("trouble", "trouble")
    mend = sim.mend("dorm-smoke")
    assert mend is not None and (mend.kind, mend.state) == ("trouble", "restore")

    assert (sim.cut("cabinet") or press).state == "trouble"
    assert (sim.mend("cabinet") or press).state == "restore"

    fail_safe = sim.cut("hall-smoke")  # unsupervised NC: a cut wire is an alarm
    assert fail_safe is not None and fail_safe.state == "alarm"
    assert (sim.mend("hall-smoke") or press).state == "restore"

    assert sim.cut("kitchen-heat") is None  # unsupervised NO: undetectable, and says so
    assert "cannot detect a cut wire" in out.getvalue()
    sim.mend("kitchen-heat")

    seqs = [e.seq for e in sim.events]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 9
    assert f"[school-01] event seq 1: panic alarm in gate-button ({press.event_id})" \
        in out.getvalue()
    assert f"[school-01] LED gate-button alarm {press.event_id}: sent" in out.getvalue()
    assert "NOT connected; outbox 9 unconfirmed" in sim.status()


def test_actions_check_zone_and_input_type(
        offline_venue: tuple[VenueSimulator, io.StringIO]) -> None:
    sim, _out = offline_venue
    with pytest.raises(SimulatorError, match="no input with zone 'nope'"):
        sim.press("nope")
    with pytest.raises(SimulatorError, match="is a loop; this action needs a button"):
        sim.press("cabinet")
    with pytest.raises(SimulatorError, match="is a loop; this action needs a detector or"):
        sim.trip("cabinet")


def test_consecutive_presses_are_separate_alarms(
        offline_venue: tuple[VenueSimulator, io.StringIO]) -> None:
    sim, _out = offline_venue
    events = [sim.press("gate-button") for _ in range(5)]
    assert len({e.event_id for e in events}) == 5
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]


def test_press_reaches_central_and_the_led_follows_receipts(
        tmp_path: Path, fresh_mosquitto: MosquittoBroker, central_stub: CentralStub) -> None:
    out = io.StringIO()
    config = load_config(FIRMWARE / "school.toml", {
        "broker.url": fresh_mosquitto.url, "broker.password": "school-01-pw",
        "state_dir": str(tmp_path)})
    with VenueSimulator(config, out=out) as sim:
        event = sim.press("gate-button")
        assert sim.wait_stage(event.event_id, "stored")
        central_stub.receipt("school-01", event.event_id, "acknowledged", by="officer-li")
        assert sim.wait_stage(event.event_id, "acknowledged")
        assert sim.agent.feedback.led_on is True
        assert sim.wait_drained()
    text = out.getvalue()
    assert f"[school-01] LED gate-button alarm {event.event_id}: stored" in text
    assert f"[school-01] LED gate-button alarm {event.event_id}: acknowledged" in text
    assert f"connected to {fresh_mosquitto.url}" in text
    assert [e.event_id for e in central_stub.events()] == [event.event_id]


def test_scenario_runs_the_timeline(offline_venue: tuple[VenueSimulator, io.StringIO],
                                    tmp_path: Path) -> None:
    sim, out = offline_venue
    path = tmp_path / "s.toml"
    path.write_text("""
name = "quick"
[[step]]
at = 0.0
action = "press"
zone = "gate-button"
[[step]]
at = 0.05
action = "cut"
zone = "cabinet"
[[step]]
at = 0.1
action = "status"
[[step]]
at = 0.1
action = "trip"
zone = "no-such-zone-is-caught-at-load"
""")
    with pytest.raises(ConfigError, match=r"step\[3\].zone: 'no-such-zone-is-caught-at-load'"):
        load_scenario(path, sim.config)
    path.write_text(path.read_text().replace("no-such-zone-is-caught-at-load", "dorm-smoke"))
    assert run_scenario(sim, load_scenario(path, sim.config))
    assert [(e.zone, e.state.value) for e in sim.events] == [
        ("gate-button", "alarm"), ("cabinet", "trouble"), ("dorm-smoke", "alarm")]
    assert "scenario 'quick'" in out.getvalue()
    assert "NOT connected; outbox 2 unconfirmed" in out.getvalue()


@pytest.mark.parametrize(("text", "expected"), [
    ("[[step]]\nat = 1\naction = 'press'\nzone = 'x'\nholdd = 1\n",
     "step[0] (zone 'x').holdd: unknown key (did you mean 'hold_s'?)"),
    ("[[step]]\nat = 1\naction = 'push'\nzone = 'x'\n",
     "step[0] (zone 'x').action: Input should be 'press'"),
    ("[[step]]\nat = 2\naction = 'press'\nzone = 'x'\n[[step]]\nat = 1\naction = 'status'\n",
     ": step[1].at (1) is before step[0].at (2)"),
    ("[[step]]\nat = 1\naction = 'press'\n", "action 'press' needs a zone"),
    ("name = 'x'\n", "step: required section missing"),
])
def test_bad_scenarios_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert any(line.startswith(f"{path}: ") and expected in line
               for line in info.value.problems), info.value.problems


@pytest.mark.parametrize("venue", ["school", "hotel", "village"])
def test_demo_scenarios_match_their_venues(venue: str) -> None:
    config = load_config(FIRMWARE / f"{venue}.toml")
    scenario = load_scenario(FIRMWARE / "scenarios" / f"demo-{venue}.toml", config)
    assert any(step.action in ("press", "trip") for step in scenario.step)


def run_cli(*args: str, stdin: str | None = None, timeout: float = 60) -> \
        subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "alarmlink_tools.cli", "sim", "venue", *args],
                          input=stdin, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=env)


@pytest.mark.parametrize("live", [False, True])
def test_sim_venue_cli_scenario_once_until_stored(
        tmp_path: Path, fresh_mosquitto: MosquittoBroker, central_stub: CentralStub,
        live: bool) -> None:
    """A simulation marks every event test unless --live, which says so first."""
    (tmp_path / "pw").write_text("school-01-pw")
    scenario = tmp_path / "scenario.toml"
    scenario.write_text("[[step]]\nat = 0.0\naction = 'press'\nzone = 'gate-button'\n"
                        "[[step]]\nat = 0.0\naction = 'trip'\nzone = 'dormitory-smoke'\n")
    proc = run_cli("--config", str(FIRMWARE / "school.toml"), "--scenario", str(scenario),
                   "--once", "--broker", fresh_mosquitto.url, "--password-file",
                   str(tmp_path / "pw"), *(["--live"] if live else []))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert ("LIVE: events are REAL alarms" in first) if live else ("marked test" in first)
    assert "every event stored by central" in proc.stdout
    assert "LED gate-button alarm" in proc.stdout and ": stored" in proc.stdout
    events = central_stub.events()
    assert [(e.zone, e.test) for e in events] == [("gate-button", not live),
                                                  ("dormitory-smoke", not live)]


def test_sim_venue_cli_interactive(tmp_path: Path) -> None:
    proc = run_cli("--config", str(FIRMWARE / "hotel.toml"), "--interactive",
                   "--broker", "mqtt://127.0.0.1:9", "--set", "broker.password=x",
                   stdin="press reception-button\ntrip corridor-2f-smoke\nfly away\nstatus\nquit\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "[hotel-01] event seq 1: panic alarm in reception-button" in out
    assert "[hotel-01] event seq 2: smoke alarm in corridor-2f-smoke" in out
    assert "? 'fly away'" in out
    assert "NOT connected; outbox 2 unconfirmed" in out


def test_sim_venue_cli_bad_config_and_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[step]]\nat = 0\naction = 'press'\nzone = 'kitchen'\n")
    proc = run_cli("--config", str(FIRMWARE / "school.toml"), "--scenario", str(bad))
    assert proc.returncode == 2
    assert "step[0].zone: 'kitchen' is not a zone of school-01" in proc.stderr


def test_events_carry_wire_fields(offline_venue: tuple[VenueSimulator, io.StringIO]) -> None:
    sim, _out = offline_venue
    event = sim.press("gate-button")
    assert wire.decode(wire.Event, wire.encode(event)) == event
    assert event.detail == {"input": "button", "pin": "GPIO17", "note": "contact closed"}
    wait_for(lambda: sim.agent.inputs["gate-button"].state == "normal", what="release")
