"""HTTPS for the console (issue 18): `central init --hostname` issues the console's
certificate from the deployment CA and turns on `[http] tls_cert/tls_key`; a real
`central serve` then answers HTTPS that verifies against ``ca.crt`` and a login sets
``Secure`` cookies. A missing key file is one line naming the file and the fix.
"""

from __future__ import annotations

import os
import signal
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import wait_for

from alarmlink.broker import free_port

CLI = [sys.executable, "-m", "alarmlink_tools.cli"]


def _init(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    ports = [str(free_port()) for _ in range(3)]
    done = subprocess.run([*CLI, "central", "init", str(root), "--plain-port", ports[0],
                           "--tls-port", ports[1], "--http-port", ports[2], *extra],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def https_station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("https") / "station"
    done = _init(root, "--hostname", "localhost")
    assert "certutil -addstore -f ROOT ca.crt" in done.stdout
    assert "update-ca-certificates" in done.stdout
    url = next(line.split()[1] for line in done.stdout.splitlines()
               if line.startswith("console: ")).rstrip("/")
    assert url.startswith("https://localhost:")
    log = (root / "serve.log").open("wb")
    proc = subprocess.Popen([*CLI, "central", "serve", "--config", str(root / "central.toml")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield root, url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def _client(root: Path, url: str) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(root / "mosquitto" / "ca.crt"))
    return httpx.Client(base_url=url, verify=context, timeout=5)


def _answers(client: httpx.Client) -> bool:
    try:
        client.get("/healthz")
    except httpx.TransportError:
        return False
    return True


def test_init_issues_the_console_certificate_and_serve_speaks_https(
        https_station: tuple[Path, str]) -> None:
    root, url = https_station
    key = root / "tls" / "console.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with _client(root, url) as client:
        wait_for(lambda: _answers(client), timeout=30, what="central over HTTPS")
        health = client.get("/healthz")
        assert health.status_code in (200, 503) and "db" in health.json()
        password = (root / "secrets" / "admin.password").read_text().strip()
        login = client.post("/api/login", json={"username": "admin", "password": password},
                            headers={"Origin": url})
        assert login.status_code == 200, login.text
        cookies = login.headers.get_list("set-cookie")
        assert cookies and all("secure" in c.lower() for c in cookies), cookies
    # the certificate does not verify without the deployment CA, and plain HTTP is gone
    with httpx.Client(base_url=url, timeout=5) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get("/healthz")
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("https://", "http://") + "/healthz", timeout=5)
    log = (root / "serve.log").read_text(errors="replace")
    assert "BEGIN" not in log and "PRIVATE" not in log


def test_localhost_init_stays_plain_http(tmp_path: Path) -> None:
    _init(tmp_path / "st")
    config = (tmp_path / "st" / "central.toml").read_text()
    assert '# tls_cert = "tls/console.crt"' in config
    assert (tmp_path / "st" / "tls" / "console.crt").exists()  # ready for --https later


def test_missing_key_file_is_one_line_with_the_fix(https_station: tuple[Path, str],
                                                   tmp_path: Path) -> None:
    root, _url = https_station
    config = tmp_path / "central.toml"
    text = (root / "central.toml").read_text().replace('"tls/console.key"',
                                                       f'"{tmp_path}/gone.key"')
    config.write_text(text.replace('"central.db"', f'"{root}/central.db"').replace(
        'tls_cert = "tls/', f'tls_cert = "{root}/tls/'))
    done = subprocess.run([*CLI, "central", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    line = [x for x in done.stderr.splitlines() if "gone.key" in x]
    assert len(line) == 1 and "no such file" in line[0] and "--https" in line[0], done.stderr
