"""``alarmlink central incidents``: the same listing as ``GET /api/incidents``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from central_testkit import TOPICS, Recorder, event_message, make_event
from sqlite_utils import Database

from alarmlink_tools.cli import main
from central import incidents
from central.ingest import Ingestor


def test_incidents_command_lists_what_the_api_lists(db: Database, db_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    ingestor = Ingestor(db, TOPICS, Recorder())
    ingestor.handle(*event_message(make_event("school-01")))
    ingestor.handle(*event_message(make_event("hotel-01", zone="lobby-button")))
    assert main(["central", "incidents", "--db", str(db_path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == incidents.list_incidents(db)
    assert {i["venue_id"] for i in listed} == {"school-01", "hotel-01"}
    assert main(["central", "incidents", "--db", str(db_path), "--station", "dading"]) == 0
    assert json.loads(capsys.readouterr().out) == []
