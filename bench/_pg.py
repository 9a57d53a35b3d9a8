"""A private PostgreSQL cluster for the benchmarks (Debian's ``postgresql`` package).

``initdb`` in a temporary directory, started with ``pg_ctl`` on a free loopback port,
trust authentication for the superuser ``alarmlink`` on 127.0.0.1 only. Unlike the
tests' cluster it keeps ``fsync`` on: the benchmark compares with SQLite's
``synchronous=FULL``, so both pay for durable commits. Run as root, the cluster belongs to
user ``postgres`` (PostgreSQL refuses root). Not shipped; ``bench/`` scripts import it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from alarmlink.broker import free_port

SUPERUSER = "alarmlink"


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                      key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not versions:
        raise SystemExit(f"{name} not found: install Debian's postgresql package "
                         "(scripts/system-deps.sh)")
    return str(versions[-1])


class PgCluster:
    """Started on construction; :meth:`close` stops it and removes its files."""

    def __init__(self) -> None:
        self.user = "postgres" if os.geteuid() == 0 else None
        self.work = Path(tempfile.mkdtemp(prefix="alarmlink-bench-pg-"))
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.work, entry.pw_uid, entry.pw_gid)
        self.port = free_port()
        self.pg_ctl = _binary("pg_ctl")
        self.data = self.work / "data"
        self._run(_binary("initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   "-c unix_socket_directories='' -c max_connections=50")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l",
                  str(self.work / "postgres.log"), "-w", "-t", "60", "start")
        self._names = 0

    def _run(self, *args: str) -> None:
        done = subprocess.run(list(args), user=self.user, capture_output=True, text=True,
                              check=False, cwd=self.work, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"{Path(args[0]).name} failed: "
                             f"{done.stderr.strip() or done.stdout.strip()}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh database; its URL."""
        import psycopg

        self._names += 1
        name = f"bench_{self._names}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def close(self) -> None:
        subprocess.run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       user=self.user, capture_output=True, check=False, timeout=60)
        shutil.rmtree(self.work, ignore_errors=True)
