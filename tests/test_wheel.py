"""The wheel carries everything: build it, install it in a fresh venv, run it elsewhere.

A file that exists in the checkout but is missing from the wheel (a package left out of
``pyproject.toml``'s list, package data such as the venue templates, the systemd units,
the console's static files or the demo registry) works in every other test, because
they import from the checkout. Here the wheel is built from a copy of the repository's
files, installed with ``pip install WHEEL[agent,central,demo]`` into a new virtualenv in
a temporary directory, and the installer's commands and the demo run from that venv
with a temporary working directory: nothing of the checkout is on their path.

The wheel and the venv are made once per session (the install is the slow part; pip's
cache makes it a few tens of seconds). Needs the index pip is configured with, and
``mosquitto``, ``mosquitto_passwd`` and ``openssl`` as the rest of the suite does.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = "agent,central,demo"
ZONES = "gate-button,office-button,dorm-smoke,cabinet-tamper"


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def _source_files() -> list[str]:
    """The files a clone would have: tracked, plus new files not ignored (not yet added)."""
    if shutil.which("git") is not None and (ROOT / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True).stdout.decode()
        return [f for f in out.split("\0") if f and (ROOT / f).is_file()]
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
            ".hypothesis", "build", "data", "var"}
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts)
            and not p.name.endswith(".egg-info")]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alarmlink's wheel, built (with pip's build isolation) from a copy of the sources,
    so the build writes nothing into the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    for name in _source_files():
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"),
          str(src)], cwd=base, timeout=600)
    wheels = list((base / "dist").glob("alarmlink-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@dataclass
class Venv:
    path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def alarmlink(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return _run([str(self.bin / "alarmlink"), *args], cwd=cwd, env=self.env)


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Venv:
    """A fresh venv (no system site packages) with ``wheel[agent,central,demo]`` installed."""
    for tool in ("mosquitto_passwd", "openssl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; run the suite through ./scripts/test")
    path = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", str(path)], cwd=path.parent)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PATH=f"{path / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(path),
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONUNBUFFERED="1")
    _run([str(path / "bin" / "python"), "-m", "pip", "install", "-q", f"{wheel}[{EXTRAS}]"],
         cwd=path.parent, env=env, timeout=900)
    return Venv(path, env)


@pytest.mark.timeout(1200)  # the first test also builds the wheel and installs the venv
def test_installed_package_runs_from_the_venv_not_the_checkout(venv: Venv,
                                                               tmp_path: Path) -> None:
    code = ("import alarmlink, alarmlink.codecs, alarmlink_tools, central, edge_agent, "
            "simulators\nfrom alarmlink_tools import resources\n"
            "for m in (alarmlink, alarmlink.codecs, alarmlink_tools, central, edge_agent, "
            "simulators): print(m.__file__)\n"
            "print(resources.firmware_configs()); print(resources.systemd_units())")
    out = _run([str(venv.bin / "python"), "-c", code], cwd=tmp_path, env=venv.env).stdout
    paths = [Path(line) for line in out.splitlines()]
    for path in paths:
        assert path.is_relative_to(venv.path), f"{path} is not from the installed wheel"
    firmware, units = paths[-2], paths[-1]
    shipped = {p.relative_to(firmware).as_posix() for p in firmware.rglob("*") if p.is_file()}
    in_repo = {p.relative_to(ROOT / "firmware_configs").as_posix()
               for p in (ROOT / "firmware_configs").rglob("*") if p.is_file()}
    assert in_repo <= shipped, f"not in the wheel: {sorted(in_repo - shipped)}"
    assert {p.name for p in (ROOT / "systemd").iterdir()} <= {p.name for p in units.iterdir()}


def test_installer_commands_from_the_wheel(venv: Venv, tmp_path: Path) -> None:
    """Registry, broker config and a device's boot bundle, as an installer makes them."""
    run = venv.alarmlink
    db = ["--db", "central.db"]
    run("central", "registry", "add-county", *db, "--id", "duan", "--name", "Du'an County",
        cwd=tmp_path)
    run("central", "registry", "add-station", *db, "--id", "chengxiang", "--name",
        "Chengxiang Police Station", "--county", "duan", cwd=tmp_path)
    run("central", "registry", "add-venue", *db, "--id", "school-01", "--name",
        "Chengxiang Central Primary School", "--kind", "school", "--station", "chengxiang",
        cwd=tmp_path)
    (tmp_path / "central.password").write_text("central-wheel-test-password\n")

    out = run("central", "broker-config", *db, "--out", "broker", "--central-password-file",
              "central.password", "--hostname", "mqtt.example", cwd=tmp_path).stdout
    assert "broker config written" in out
    broker = tmp_path / "broker"
    for name in ("mosquitto.conf", "passwd", "acl", "ca.crt", "ca.key", "server.crt",
                 "server.key", "broker.json"):
        assert (broker / name).is_file(), f"broker-config did not write {name}"
    for secret in ("passwd", "acl", "ca.key", "server.key"):
        assert (broker / secret).stat().st_mode & 0o077 == 0, f"{secret} is readable by others"
    assert re.search(r"^central:\$7\$", (broker / "passwd").read_text(), re.M)
    assert "listener 8883" in (broker / "mosquitto.conf").read_text()

    out = run("provision", "device", "--central-db", "central.db", "--venue", "school-01",
              "--kind", "school", "--profile", "pi-8ch-input-hat", "--zones", ZONES,
              "--device-id", "school-01", "--class", "fast",
              "--broker-url", "mqtts://mqtt.example:8883", "--out", "boot",
              "--broker-dir", "broker", cwd=tmp_path).stdout
    assert "device school-01 provisioned" in out, out
    boot = tmp_path / "boot"
    bundle = boot / "alarmlink"
    for name in ("agent.toml", "ca.crt", "credentials/mqtt-password", "firstboot.sh",
                 "alarmlink-agent.service", "bundle.json"):
        assert (bundle / name).is_file(), f"the boot bundle has no {name}"
    assert "firstboot.sh" in (boot / "user-data").read_text()
    assert (bundle / "alarmlink-agent.service").read_text() == \
        (ROOT / "systemd" / "alarmlink-agent.service").read_text()
    assert (bundle / "ca.crt").read_bytes() == (broker / "ca.crt").read_bytes()
    assert re.search(r"^school-01:\$7\$", (broker / "passwd").read_text(), re.M)
    assert "dev/%u/event" in (broker / "acl").read_text()

    out = run("agent", "check-config", str(bundle / "agent.toml"), cwd=tmp_path).stdout
    assert out.startswith("OK"), out
    for zone in ZONES.split(","):
        assert zone in out


def _our_processes(marker: str) -> list[int]:
    """Pids of processes whose command line mentions ``marker`` (our demo's data dir)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


class Output:
    """Collects a child's output lines on a thread, for waiting on a pattern."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text)
            if match:
                return match
            if self._proc.poll() is not None:
                raise AssertionError(f"demo exited ({self._proc.returncode}) before "
                                     f"{pattern!r}:\n{self.text[-4000:]}")
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} within {timeout}s:\n{self.text[-4000:]}")


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode()


@pytest.fixture
def demo(venv: Venv, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Output, Path]]:
    data = tmp_path / "demo-data"
    proc = subprocess.Popen(
        [str(venv.bin / "alarmlink"), "demo", "--port", "0", "--venues", "school",
         "--data-dir", str(data)],
        cwd=tmp_path, env=venv.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
        # a shell may start us with SIGINT ignored, which the child would inherit
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        yield proc, Output(proc), data
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in _our_processes(str(data)):  # children of a demo that died uncleanly
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_demo_from_the_wheel_serves_the_console_and_stops_cleanly(
        demo: tuple[subprocess.Popen[str], Output, Path]) -> None:
    proc, output, data = demo
    url = output.wait_for(r"Console:\s+(http://127\.0\.0\.1:\d+)/", timeout=120).group(1)
    status, page = _get(f"{url}/")
    assert status == 200 and "<html" in page.lower()
    assert _get(f"{url}/healthz")[0] == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert assets, "the console page references no assets"
    for asset in assets:  # the console's static files are package data
        assert _get(f"{url}{asset}")[0] == 200, asset
    # the school scenario presses the gate button after 5 s: broker, central and the
    # agent from the wheel carry it to central's database and the receipt back
    output.wait_for(r"LED gate-button alarm \S+: stored", timeout=90)
    assert (data / "central" / "central.db").is_file()

    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(60) == 0, output.text[-4000:]
    output.wait_for(r"demo: stopped", timeout=5)
    deadline = time.monotonic() + 10
    while _our_processes(str(data)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _our_processes(str(data)), "the demo left child processes running"
