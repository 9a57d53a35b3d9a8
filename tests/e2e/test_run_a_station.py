"""The README's "Run a station", followed literally on a fresh directory.

Every command of the section's code block runs as written, from a temporary directory,
with a real Mosquitto (`central broker-run`) and a real central (`central serve`).
The only change: the three ports (1883, 8883, 8080) are swapped for free ones, given to
`central init` as its --*-port flags and replaced in the later commands' URLs, so the
test can run beside other brokers. The last command's report must show every zone
tested.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from helpers import wait_for

from alarmlink.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def station_commands() -> list[tuple[str, bool]]:
    """(command, long-running?) for each command of the "Run a station" code block."""
    section = README.split("## Run a station", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "README 'Run a station' has no ```sh block"
    joined = block.group(1).replace("\\\n", " ")
    return [(line.split("#", 1)[0].strip(), "# terminal" in line)
            for line in joined.splitlines() if line.strip()]


def _alive(proc: subprocess.Popen[bytes], log: Path) -> bool:
    assert proc.poll() is None, log.read_text(errors="replace")
    return True


@pytest.fixture
def station_dir() -> Iterator[Path]:
    """A fresh directory Mosquitto (which drops root for its own user) can pass through."""
    path = Path(tempfile.mkdtemp(prefix="alarmlink-station-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.broker
def test_run_a_station_as_the_readme_says(station_dir: Path) -> None:
    tmp_path = station_dir
    ports = {"1883": str(free_port()), "8883": str(free_port()), "8080": str(free_port())}
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONUNBUFFERED": "1"}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    children: list[tuple[subprocess.Popen[bytes], Path]] = []
    health_url = f"http://127.0.0.1:{ports['8080']}/healthz"
    commands = station_commands()
    assert [c.split()[:3] for c, _ in commands][:3] == [
        ["alarmlink", "central", "init"], ["alarmlink", "central", "broker-run"],
        ["alarmlink", "central", "serve"]]
    try:
        for index, (command, background) in enumerate(commands):
            for default, port in ports.items():
                command = command.replace(f":{default}", f":{port}")
            argv = shlex.split(command)
            if argv[:3] == ["alarmlink", "central", "init"]:
                argv += ["--plain-port", ports["1883"], "--tls-port", ports["8883"],
                         "--http-port", ports["8080"]]
            if background:
                log = tmp_path / f"step{index}.log"
                proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=log.open("wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
                children.append((proc, log))
                ready = ((lambda p=proc, f=log: _alive(p, f) and _healthy(health_url))
                         if argv[2] == "serve" else
                         (lambda p=proc, f=log: _alive(p, f) and _listening(int(ports["1883"]))))
                wait_for(ready, timeout=60, what=f"{argv[2]} ready")
                continue
            done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=180)
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stdout + done.stderr
            if argv[2] == "init":
                assert "alarmlink central broker-run" in done.stdout
            if argv[1:3] == ["provision", "try-local"]:
                assert "every event stored by central" in done.stdout
                assert "[test]" in done.stdout
        report = (tmp_path / "report.html").read_text(encoding="utf-8")
        for zone in ("gate-button", "dormitory-smoke"):
            assert zone in report
        assert "(all zones tested)" in done.stdout, done.stdout
        _wrong_urls_are_named(tmp_path, ports["8883"], env)
    finally:
        for proc, _log in reversed(children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return b'"mqtt":"connected"' in resp.read().replace(b" ", b"")
    except OSError:
        return False


def _wrong_urls_are_named(station: Path, tls_port: str, env: dict[str, str]) -> None:
    """The device's self-test against the station's broker with the URL an installer
    might get wrong: plain mqtt:// to the TLS port, and a name the certificate lacks."""
    bundle = station / "station" / "bundles" / "school-01" / "alarmlink"
    config = tomllib.loads((bundle / "agent.toml").read_text(encoding="utf-8"))
    config["state_dir"] = str(station / "selftest-state")
    config["broker"]["password_file"] = str(bundle / "credentials" / "mqtt-password")
    cases = {f"mqtt://localhost:{tls_port}": f"use mqtts://localhost:{tls_port}",
             f"mqtts://127.0.0.2:{tls_port}": "certificate is not valid for the name"}
    for url, expected in cases.items():
        config["broker"]["url"] = url
        if url.startswith("mqtts"):
            config["broker"]["ca_file"] = str(bundle / "ca.crt")
        else:
            config["broker"].pop("ca_file", None)
        path = station / "selftest.toml"
        path.write_text(tomli_w.dumps(config), encoding="utf-8")
        done = subprocess.run(["alarmlink", "agent", "self-test", "--config", str(path),
                               "--timeout", "3"], env={**env, "GPIOZERO_PIN_FACTORY": "mock"},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stdout + done.stderr
        failing = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
        assert len(failing) == 1 and failing[0].startswith("FAIL broker: "), done.stdout
        assert expected in failing[0], failing[0]
        assert "Traceback" not in done.stdout + done.stderr
