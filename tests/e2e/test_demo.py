"""`alarmlink demo` works as the README says: alarms arrive, Ctrl-C stops everything."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from e2e.harness import ALARMLINK
from fixtures.auth import Session, api, login
from helpers import wait_for

from alarmlink_tools.demo import DEMO_USERS


def _incidents(url: str, session: Session) -> list[dict[str, object]]:
    result: list[dict[str, object]] = api(url, session, "GET", "/api/incidents?status=all")
    return result


def _password(lines: list[str], username: str) -> str | None:
    return next((m.group(1) for line in list(lines)
                 if (m := re.match(rf"\s+{username}\s+.*password (\S+)$", line))), None)


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
        def console_url() -> re.Match[str] | None:
            found = next((m for line in list(lines)
                          if (m := re.search(r"Console:\s+(http://\S+)/", line))), None)
            if found is None and proc.poll() is not None:
                raise AssertionError(f"the demo exited ({proc.returncode}):\n"
                                     + "".join(lines[-40:]))
            return found
        match = wait_for(console_url, timeout=60, what="the demo's console URL")
        url = match.group(1)
        password = wait_for(lambda: _password(lines, "duty-chengxiang"), what="the demo's "
                            "duty officer and password")
        session = login(url, "duty-chengxiang", password)
        incidents = wait_for(lambda: _incidents(url, session), timeout=60, what="a demo alarm")
        assert {i["station_id"] for i in incidents} == {"chengxiang"}
        for user, *_ in DEMO_USERS:
            assert _password(lines, user), f"the demo printed no password for {user}"
        assert incidents[0]["venue_name"]
        wait_for(lambda: any(": stored" in line for line in list(lines)), timeout=30,
                 what="a venue's LED line reaching 'stored'")
        # the console's requests (login, incidents, each poll) are not printed: access logs
        # are off in the demo so the LED lines stay readable (--access-log turns them on)
        _incidents(url, session)
        assert not [line for line in list(lines) if 'HTTP/1.1"' in line], "".join(lines)
        assert any("[central] " in line for line in list(lines))  # central's output is shown
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
        reader.join(10)
    assert code == 0, "".join(lines[-30:])
    assert "demo: stopped" in "".join(lines)


def test_demo_piped_into_a_reader_that_goes_away_leaves_nothing_running(
        tmp_path: Path) -> None:
    """`alarmlink demo | head`: the reader closes the pipe; the demo still stops central,
    the venues and the broker (a clean-up print failing half way used to orphan them)."""
    proc = subprocess.Popen([*ALARMLINK, "demo", "--port", "0", "--venues", "school",
                             "--data-dir", str(tmp_path / "demo")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:   # like head: read until the banner, then go away
            if b"Console:" in line:
                break
        proc.stdout.close()
        proc.wait(60)
    finally:
        if proc.poll() is None:   # it hung: stop it as Ctrl-C would
            proc.send_signal(signal.SIGINT)
            proc.wait(60)

    def left() -> list[str]:
        mine = str(tmp_path / "demo")
        found = subprocess.run(["pgrep", "-af", mine], capture_output=True, text=True)
        return [p for p in found.stdout.splitlines() if "pgrep" not in p]
    wait_for(lambda: not left(), timeout=30, what="no process of the demo left")
