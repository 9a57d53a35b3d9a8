"""`alarmlink demo` works as the README says: alarms arrive, Ctrl-C stops everything."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import urllib.request

import pytest
from e2e.harness import ALARMLINK
from helpers import wait_for


def _incidents(url: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{url}/api/incidents?status=all", timeout=5) as resp:
        result: list[dict[str, object]] = json.loads(resp.read())
        return result


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_shows_alarms_and_stops_cleanly_on_ctrl_c(broker: str) -> None:
    cmd = [*ALARMLINK, "demo", "--port", "0"]
    if broker == "embedded":
        cmd.append("--embedded-broker")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        match = wait_for(lambda: next((m for line in list(lines)
                                       if (m := re.search(r"Console:\s+(http://\S+)/", line))),
                                      None), timeout=60, what="the demo's console URL")
        url = match.group(1)
        incidents = wait_for(lambda: _incidents(url), timeout=60, what="a demo alarm")
        assert incidents[0]["venue_name"]
        wait_for(lambda: any(": stored" in line for line in list(lines)), timeout=30,
                 what="a venue's LED line reaching 'stored'")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
        reader.join(10)
    assert code == 0, "".join(lines[-30:])
    assert "demo: stopped" in "".join(lines)
