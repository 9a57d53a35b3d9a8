"""Central started while the broker is down says why, keeps retrying, and /healthz
carries the cause (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from helpers import wait_for

from alarmlink.broker import free_port


def _health(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:  # 503 while unhealthy, with the same body
        return dict(json.loads(exc.read()))
    except OSError:
        return None


def test_broker_down_at_start_is_logged_and_in_healthz(tmp_path: Path) -> None:
    broker_port, http_port = free_port(), free_port()
    (tmp_path / "pw").write_text("x\n")
    (tmp_path / "pw").chmod(0o600)
    log = tmp_path / "central.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "alarmlink_tools.cli", "central", "serve", "--db",
         str(tmp_path / "c.db"), "--broker-url", f"mqtt://127.0.0.1:{broker_port}",
         "--password-file", str(tmp_path / "pw"), "--port", str(http_port),
         "--no-access-log"], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{http_port}/healthz"
        health = wait_for(lambda: (h := _health(url)) and h.get("mqtt_error") and h,
                          timeout=30, what="/healthz with mqtt_error")
        assert health["mqtt"] == "disconnected"
        assert f"nothing listens on 127.0.0.1:{broker_port}" in str(health["mqtt_error"])
        wait_for(lambda: "(attempt 2); retrying in" in log.read_text(), timeout=30,
                 what="the retry logged")
        text = log.read_text()
        assert "cannot reach broker" in text and "is the broker running" in text
        assert "GET /healthz" not in text  # --no-access-log
    finally:
        proc.terminate()
        proc.wait(15)
