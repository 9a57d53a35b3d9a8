"""Every failure a user can reach prints one line with the cause and the fix, never a
traceback (issue 14). Each row runs the real `alarmlink` CLI with the exact bad input.

Rows use ``{st}`` for a station made once by `central init` and ``{tmp}`` for the
test's own directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "alarmlink_tools.cli"]
FIRMWARE = ROOT / "firmware_configs"
PROVISION = ["provision", "device", "--central-db", "{st}/central.db", "--kind", "school",
             "--profile", "pi-header-direct", "--zones", "gate-button", "--device-id", "dev-x",
             "--broker-dir", "{st}/mosquitto", "--out", "{tmp}/bundle"]
COMMISSION = ["provision", "commission", "start", "--device", "school-01", "--reason", "r"]

#: (id, argv, the one line must contain ...)
CASES: list[tuple[str, list[str], list[str]]] = [
    ("broker-config: missing central password file",
     ["central", "broker-config", "--db", "{tmp}/new.db", "--out", "{tmp}/mq",
      "--central-password-file", "{tmp}/nope.password"],
     ["cannot read --central-password-file", "write central's MQTT password"]),
    ("provision: unregistered venue names add-venue",
     [*PROVISION[:4], "--venue", "school-07", *PROVISION[4:], "--broker-url",
      "mqtts://localhost:8883"],
     ["'school-07' is not registered", "alarmlink central registry add-venue"]),
    ("provision: plain mqtt:// to another host",
     [*PROVISION, "--venue", "school-01", "--broker-url", "mqtt://10.1.2.3:1883"],
     ["not encrypted", "use mqtts://10.1.2.3:8883", "--insecure"]),
    ("provision: no such database",
     ["provision", "device", "--central-db", "{tmp}/typo.db", *PROVISION[4:], "--venue",
      "school-01", "--broker-url", "mqtts://localhost:8883"],
     ["no database at", "central init"]),
    ("registry: station without its county",
     ["central", "registry", "add-station", "--db", "{st}/central.db", "--id", "s2",
      "--name", "S2", "--county", "no-county"],
     ["'no-county' is not a known county", "registry add-county --id no-county"]),
    ("registry show: no such database",
     ["central", "registry", "show", "--db", "{tmp}/typo.db"], ["no database at"]),
    ("incidents: no such database",
     ["central", "incidents", "--db", "{tmp}/typo.db"], ["no database at"]),
    ("sim venue: missing password file",
     ["sim", "venue", "--config", str(FIRMWARE / "school.toml"), "--password-file",
      "{tmp}/nope.password"],
     ["broker.password_file: cannot read", "nope.password"]),
    ("sim venue: --live with --walk-test",
     ["sim", "venue", "--config", str(FIRMWARE / "school.toml"), "--live", "--walk-test"],
     ["contradict"]),
    ("agent: config key typo",
     ["agent", "check-config", "{tmp}/typo-agent.toml"],
     ["broker.pasword_file: unknown key", "did you mean 'password_file'"]),
    ("agent: missing config",
     ["agent", "run", "--config", "{tmp}/none.toml"], ["none.toml"]),
    ("central: config key typo",
     ["central", "serve", "--config", "{tmp}/typo-central.toml"],
     ["broker.usrname: unknown key", "did you mean 'username'"]),
    ("central: bad port",
     ["central", "serve", "--db", "{tmp}/c.db", "--port", "99999"], ["http.port"]),
    ("central: bad broker URL",
     ["central", "serve", "--db", "{tmp}/c.db", "--broker-url", "ftp://x"],
     ["broker.url", "mqtt://host:port"]),
    ("init: DIR is a file", ["central", "init", "{tmp}/typo-agent.toml"],
     ["is not a directory"]),
    ("init: bad port", ["central", "init", "{tmp}/st2", "--http-port", "0"],
     ["--http-port 0", "1 to 65535"]),
    ("broker-run: no broker files", ["central", "broker-run", "--broker-dir", "{tmp}/none"],
     ["not found", "central init"]),
    ("try-local: not a bundle", ["provision", "try-local", "--bundle", "{tmp}"],
     ["agent.toml not found", "--out directory"]),
    ("commission: no password file",
     [*COMMISSION, "--central-url", "http://127.0.0.1:9"],
     ["needs --username and --password-file"]),
    ("commission: central not running",
     [*COMMISSION, "--central-url", "http://127.0.0.1:9", "--username", "installer",
      "--password-file", "{st}/secrets/installer.password"],
     ["cannot reach central at http://127.0.0.1:9", "central serve"]),
    ("self-test: broker name does not resolve",
     ["agent", "self-test", "--config", "{tmp}/unresolvable.toml", "--timeout", "2"],
     ["does not resolve", "check the host in broker.url"]),
    ("migrate: no database named", ["central", "migrate"],
     ["name the database", "--db PATH"]),
    ("migrate: PostgreSQL not reachable",
     ["central", "migrate", "--db", "postgresql://alarmlink:pw@127.0.0.1:1/none"],
     ["cannot connect to PostgreSQL at postgresql://alarmlink:***@127.0.0.1:1/none",
      "check the URL"]),
    ("export: not a PostgreSQL URL",
     ["central", "export", "--db", "{st}/central.db", "--to", "sqlite:///x.db"],
     ["is not a PostgreSQL URL", "postgresql://USER@HOST:PORT/DATABASE"]),
]


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("station")
    done = subprocess.run([*CLI, "central", "init", str(path)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return path


def _files(tmp: Path) -> None:
    (tmp / "typo-agent.toml").write_text(
        'device_id = "d"\nvenue = "v"\n[broker]\nurl = "mqtt://127.0.0.1:1883"\n'
        'username = "d"\npasword_file = "pw"\n')
    (tmp / "typo-central.toml").write_text('[broker]\nusrname = "central"\n')
    (tmp / "pw").write_text("secret\n")
    (tmp / "unresolvable.toml").write_text(
        f'device_id = "d"\nvenue = "v"\nstate_dir = "{tmp}/state"\n[broker]\n'
        'url = "mqtt://no-such-broker.invalid:1883"\nusername = "d"\npassword_file = "pw"\n')


def run(argv: list[str], station: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    args = [a.replace("{st}", str(station)).replace("{tmp}", str(tmp)) for a in argv]
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp, env=env)


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_failure_is_one_line_with_cause_and_fix(station: Path, tmp_path: Path,
                                                argv: list[str], expected: list[str]) -> None:
    _files(tmp_path)
    done = run(argv, station, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    if argv[:2] == ["agent", "self-test"]:  # a report: the failing check is one line
        lines = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    else:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, output
    for part in expected:
        assert part in lines[0], lines[0]


def test_broker_config_failure_leaves_no_database(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "central", "broker-config", "--db", str(tmp_path / "c.db"),
                           "--out", str(tmp_path / "mq"), "--central-password-file",
                           str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert not (tmp_path / "c.db").exists()


def test_output_cut_short_by_head_is_no_error() -> None:
    done = subprocess.run(
        f"{' '.join(CLI)} agent check-config {FIRMWARE / 'school.toml'} | head -1",
        shell=True, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout.startswith("OK ")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_init_is_idempotent_and_keeps_what_exists(station: Path) -> None:
    before = (station / "secrets" / "admin.password").read_text()
    again = subprocess.run([*CLI, "central", "init", str(station)], capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"kept    {station / 'central.toml'}" in again.stdout
    assert "kept    user admin" in again.stdout
    assert (station / "secrets" / "admin.password").read_text() == before
    assert oct((station / "secrets" / "admin.password").stat().st_mode & 0o777) == "0o600"
    shown = subprocess.run([*CLI, "central", "registry", "show", "--db",
                            str(station / "central.db")], capture_output=True, text=True,
                           timeout=60)
    assert shown.stdout.splitlines()[:3] == [
        "county example-county  示例县公安局", "  station example-station  示例派出所",
        "    venue school-01  示例小学 (school)"]


@pytest.mark.postgres
def test_broker_config_from_a_postgresql_database(tmp_path: Path, pg_url: str) -> None:
    """A city's broker files come from the shared database (``--db`` a URL: it was read
    as a path, and a SQLite file named ``postgresql:`` was made instead)."""
    secret = tmp_path / "central.password"
    secret.write_text("central-test-pw\n")
    done = subprocess.run([*CLI, "central", "broker-config", "--db", pg_url, "--out",
                           str(tmp_path / "mq"), "--central-password-file", str(secret)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mq" / "passwd").read_text().startswith("central:")
    assert not list(tmp_path.glob("postgresql*"))
