"""Retention at central: alarm evidence kept for evidence_days after the incident was
resolved (never while open); routine frames pruned after routine_days; files go with
their last index row."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image
from sqlite_utils import Database

from alarmlink import wire
from central import incidents
from central.db import open_db
from central.ingest import Ingestor
from central.registry import load_registry
from central.snapshots import SnapshotFiles, prune

REGISTRY = Path(__file__).resolve().parents[2] / "central" / "demo_registry.toml"
TOPICS = wire.Topics()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


JPEG = _jpeg()


def alarm(ingestor: Ingestor, db: Database, device: str, *, test: bool = False,
          frames: int = 2) -> tuple[str, int | None, list[str]]:
    """Store an alarm event from ``device`` and ``frames`` snapshots of it."""
    event = wire.Event(event_id=wire.new_id(), device_id=device, seq=1, ts=ingestor.clock(),
                       kind="panic", state="alarm", zone="gate-button", source="gpio",
                       test=test)
    ingestor.handle(TOPICS.event(device), wire.encode(event))
    for seq in range(frames):
        meta = wire.SnapshotMeta(event_id=event.event_id, seq=seq, ts=ingestor.clock(),
                                 phase="alarm", camera="main", width=32, height=24)
        ingestor.handle(TOPICS.snapshot(device, event.event_id),
                        wire.encode_snapshot(meta, JPEG))
    rows = db.execute("SELECT sha256 FROM snapshots WHERE event_id = ?",
                      [event.event_id]).fetchall()
    shas = [r[0] for r in rows]
    assert len(shas) == frames
    (incident_id,) = db.execute("SELECT incident_id FROM events WHERE event_id = ?",
                                [event.event_id]).fetchone()
    return event.event_id, incident_id, shas


def test_prune_keeps_evidence_a_year_and_routine_frames_a_month(tmp_path: Path) -> None:
    db = open_db(tmp_path / "central.db")
    load_registry(db, REGISTRY)
    files = SnapshotFiles(tmp_path / "snapshots")
    start = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    clock = Clock(start)
    ingestor = Ingestor(db, TOPICS, lambda _t, _p: None, clock=clock, snapshot_files=files)

    _old_evidence, old_incident, old_shas = alarm(ingestor, db, "school-01")
    assert old_incident is not None
    incidents.transition(db, old_incident, "resolve", "officer-li", start,
                         outcome=wire.Outcome.REAL_FIRE)
    _open_evidence, open_incident, open_shas = alarm(ingestor, db, "hotel-01")
    _test_event, no_incident, test_shas = alarm(ingestor, db, "village-01", test=True)
    assert no_incident is None  # test events open no incident: routine frames

    clock.now = start + timedelta(days=340)
    _recent, recent_incident, recent_shas = alarm(ingestor, db, "school-01")
    assert recent_incident is not None
    incidents.transition(db, recent_incident, "resolve", "officer-li", clock.now,
                         outcome=wire.Outcome.FALSE_ALARM)
    _fresh_test, _none, fresh_test_shas = alarm(ingestor, db, "village-01", test=True)

    def on_disk(shas: list[str]) -> list[bool]:
        return [files.path(sha).exists() for sha in shas]

    assert all(on_disk(old_shas + open_shas + test_shas + recent_shas + fresh_test_shas))
    result = prune(db, files, start + timedelta(days=366), evidence_days=365,
                   routine_days=30)
    assert (result.evidence_rows, result.routine_rows) == (2, 2)
    assert result.files == 4
    assert on_disk(old_shas) == [False, False], "resolved over a year ago: pruned"
    assert on_disk(test_shas) == [False, False], "routine, 366 days old: pruned"
    assert all(on_disk(open_shas)), "the incident is still open: kept whatever its age"
    assert all(on_disk(recent_shas)), "resolved 26 days ago: kept"
    assert all(on_disk(fresh_test_shas)), "routine, 26 days old: kept"
    remaining = {r[0] for r in db.execute("SELECT sha256 FROM snapshots").fetchall()}
    assert remaining == set(open_shas + recent_shas + fresh_test_shas)
    assert prune(db, files, start + timedelta(days=366), evidence_days=365,
                 routine_days=30).files == 0  # idempotent
    db.close()
