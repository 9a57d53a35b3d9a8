"""``alarmlink central incidents``: the same listing as ``GET /api/incidents`` (both
backends: ``--db`` a file or a PostgreSQL URL)."""

from __future__ import annotations

import json
from pathlib import Path

import both_backends
import pytest
from central_testkit import event_message, make_event
from sqlite_utils import Database

from alarmlink_tools.cli import main
from central import incidents
from central.ingest import Ingestor

backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor
db_target = both_backends.db_target


def test_incidents_command_lists_what_the_api_lists(db: Database, ingestor: Ingestor,
                                                    db_target: Path | str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    ingestor.handle(*event_message(make_event("school-01")))
    ingestor.handle(*event_message(make_event("hotel-01", zone="lobby-button")))
    assert main(["central", "incidents", "--db", str(db_target)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == incidents.list_incidents(db)
    assert {i["venue_id"] for i in listed} == {"school-01", "hotel-01"}
    assert main(["central", "incidents", "--db", str(db_target), "--station", "dading"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_db_may_be_a_postgresql_url_and_an_unreachable_one_is_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    """``--db postgresql://...`` is a URL, not a path (it was read as one and mangled)."""
    import argparse

    from central.cli import add_central_commands, build_config

    parser = argparse.ArgumentParser()
    add_central_commands(parser.add_subparsers(), "central", "central")
    url = "postgresql://alarmlink@127.0.0.1:1/nowhere"
    config = build_config(parser.parse_args(["central", "serve", "--db", url]))
    assert config.database_url == url and config.on_postgresql
    for command in (["incidents"], ["registry", "list"],
                    ["registry", "add-city", "--id", "c", "--name", "C"]):
        assert main(["central", *command, "--db", url]) == 2, command
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "cannot connect to PostgreSQL at" in err, err
