"""Issue 3, "Panel simulator": scenario files, real byte formats, and the
``alarmlink sim panel`` command against a reader over a pty and over TCP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_for
from serial_testkit import ROOT, SCENARIOS, Made, Recorder

from alarmlink.broker import free_port
from alarmlink.codecs import make_decoder
from alarmlink.config_base import ConfigError
from simulators.panel_scenario import corrupt, encode_step, load_panel_scenario

ALARMLINK = [sys.executable, "-m", "alarmlink_tools.cli"]


@pytest.mark.parametrize("protocol", ["gb26875", "contactid", "sia-dc09"])
def test_shipped_scenarios_encode_to_frames_the_decoder_accepts_and_corrupt_ones_it_refuses(
        protocol: str) -> None:
    scenario = load_panel_scenario(SCENARIOS / f"panel-{protocol}.toml")
    assert scenario.protocol == protocol
    decoder = make_decoder(protocol)
    sends = [s for s in scenario.step if s.action in ("send", "corrupt")]
    for ref, step in enumerate(sends, 1):
        frame = encode_step(protocol, step, ref)
        (good,) = decoder.feed(frame)
        assert good.error is None, (step, good.error)
        (bad,) = decoder.feed(corrupt(protocol, frame))
        assert bad.error is not None and bad.events == ()
    assert decoder.stats.failed == len(sends)


@pytest.mark.parametrize(("text", "message"), [
    ('protocol = "gb26875"\n[[step]]\nat = 1\ncode = 111\n',
     "step[0].code: not a gb26875 field"),
    ('protocol = "gb26875"\n[[step]]\nat = 1\nflags = ["smoke"]\n',
     "step[0].flags: unknown 'smoke' for a component record"),
    ('protocol = "gb26875"\n[[step]]\nat = 1\ndescription = "%s"\n' % ("长" * 16),
     "step[0].description: must fit 31 bytes of GB 18030"),
    ('protocol = "contactid"\n[[step]]\nat = 2\ncode = 111\n[[step]]\nat = 1\ncode = 1\n',
     "step[1].at (1) is before step[0].at (2)"),
    ('protocol = "sia-dc09"\n[[step]]\nat = 1\ncode = "FA"\nqualifier = 3\n',
     "qualifier and group are for ADM-CID (numeric) codes"),
    ('protocol = "contactid"\n[[step]]\nat = 1\ncod = 111\n',
     "step.0.cod: unknown key (did you mean 'code'?)"),
])
def test_scenario_mistakes_name_file_key_and_reason(tmp_path: Path, text: str,
                                                    message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_panel_scenario(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message.replace("step.0", "step[0]") in str(caught.value)


SMALL = """protocol = "gb26875"
[[step]]
at = 0
flags = ["fire"]
description = "2F east corridor"
[[step]]
at = 0.1
action = "corrupt"
flags = ["fault"]
[[step]]
at = 0.2
flags = []
description = "2F east corridor"
"""


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_sim_panel_command_plays_a_scenario_and_prints_the_answers(
        transport: str, tmp_path: Path, made: Made) -> None:
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    if transport == "pty":
        agent_port, args = str(tmp_path / "ttyPANEL"), ["--link", str(tmp_path / "ttyPANEL")]
    else:
        port = free_port()
        agent_port, args = f"socket://127.0.0.1:{port}", ["--port", f"tcp://127.0.0.1:{port}"]
    recorder = Recorder()
    link = made.link(agent_port, recorder)
    proc = subprocess.run([*ALARMLINK, "sim", "panel", "--protocol", "gb26875", *args,
                           "--scenario", str(scenario), "--once", "--answer-timeout", "5"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "-> #1 component 01000000 fire '2F east corridor'" in out
    assert "<- confirm #1" in out and "<- DENY #2" in out and "<- confirm #3" in out
    assert "sent 2 frame(s), 1 corrupt, 0 noise burst(s); 2 confirm, 1 deny" in out
    # (A slow start or the exit may add this link's own trouble/restore: not counted.)
    def panel_events() -> list[str]:
        return [e.state for e in recorder.events if e.zone != link.zone]

    wait_for(lambda: len(panel_events()) >= 2, what="alarm and restore at the reader")
    assert panel_events() == ["alarm", "restore"]


def test_sim_panel_refuses_a_scenario_of_another_protocol() -> None:
    proc = subprocess.run([*ALARMLINK, "sim", "panel", "--protocol", "contactid", "--scenario",
                           str(SCENARIOS / "panel-gb26875.toml")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert "is a gb26875 scenario, not contactid" in proc.stderr
