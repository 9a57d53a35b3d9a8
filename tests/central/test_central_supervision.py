"""Supervision at central: last will, clean stop and heartbeat silence become a `device
offline` trouble after the class's grace; restores; short dropouts; central's own deafness.

The real Ingestor and Supervisor on a real database, driven by a fake clock (no waiting).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import both_backends
import pytest
from central_testkit import TOPICS, Recorder, event_message, make_event
from sqlite_utils import Database

from alarmlink.wire import Heartbeat, Status, encode
from central.config import ConfigError, load_config
from central.ingest import Ingestor
from central.snapshots import SnapshotFiles
from central.supervision import Supervisor
from central.supervision_config import SupervisionConfig

# every storage test here runs on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor

FAST = SupervisionConfig().classes["fast"]  # bound 20, heartbeat 5, silence 11, grace 5


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Rig:
    """Ingest + supervision on one database, one fake clock."""

    def __init__(self, db: Database, config: SupervisionConfig | None = None) -> None:
        self.db = db
        self.clock = Clock()
        self.pushed: list[dict[str, Any]] = []
        # no snapshots here: a directory that is never written (PostgreSQL needs one named)
        unused = SnapshotFiles(Path(tempfile.gettempdir()) / "alarmlink-unused-snapshots")
        self.ingestor = Ingestor(db, TOPICS, Recorder(), self.pushed.append, self.clock,
                                 snapshot_files=unused)
        self.supervisor = Supervisor(db, config or SupervisionConfig(), self.clock)
        self.supervisor.set_listening(True)

    def status(self, device_id: str, state: str) -> None:
        self.ingestor.handle(TOPICS.status(device_id),
                             encode(Status(state=state, ts=self.clock(), boot_id="b1")))

    def beat(self, device_id: str, ts: datetime | None = None) -> None:
        self.ingestor.handle(TOPICS.heartbeat(device_id), encode(
            Heartbeat(ts=ts or self.clock(), uptime_s=1.0, outbox_depth=0)))

    def tick(self) -> list[dict[str, Any]]:
        changed = self.supervisor.tick()
        self.pushed += changed
        return changed

    def run(self, seconds: float, step: float = 0.5,
            each: Callable[[], None] | None = None) -> list[dict[str, Any]]:
        """Advance time in steps, ticking (and calling ``each``) at every step."""
        changed: list[dict[str, Any]] = []
        elapsed = 0.0
        while elapsed < seconds - 1e-9:
            self.clock.advance(step)
            elapsed += step
            if each is not None:
                each()
            changed += self.tick()
        return changed

    def troubles(self) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM incidents WHERE category = 'trouble'")
        return [{**r, "zones": json.loads(r["zones"]), "kinds": json.loads(r["kinds"])}
                for r in rows]

    def sup(self, device_id: str) -> dict[str, Any]:
        return next(self.db.query("SELECT * FROM supervision WHERE device_id = ?", [device_id]))

    def log(self, incident_id: int) -> list[str]:
        return [r["action"] for r in self.db.query(
            "SELECT action FROM incident_log WHERE incident_id = ? ORDER BY id", [incident_id])]


@pytest.fixture
def rig(db: Database) -> Rig:
    db.execute("UPDATE devices SET device_class = 'fast' WHERE id IN ('school-01', 'hotel-01')")
    db.conn.commit()
    return Rig(db)


def test_last_will_becomes_a_trouble_after_the_grace_and_restores(rig: Rig) -> None:
    rig.status("school-01", "online")
    rig.beat("school-01")
    rig.run(3)
    rig.status("school-01", "offline")  # the broker published the last will
    assert rig.run(FAST.grace_s - 0.5) == []
    [incident] = rig.run(1.0)
    assert incident["category"] == "trouble" and incident["status"] == "new"
    assert incident["station_id"] == "chengxiang" and incident["venue_id"] == "school-01"
    assert incident["zones"] == {"device:school-01": "offline"}
    assert incident["kinds"] == ["device_offline"]
    assert rig.sup("school-01")["incident_id"] == incident["id"]

    rig.run(30)  # still offline: nothing new, nothing repeated
    assert len(rig.troubles()) == 1 and len(rig.pushed) == 1

    rig.status("school-01", "online")
    [restored] = rig.tick()
    assert restored["id"] == incident["id"] and restored["version"] > incident["version"]
    assert restored["zones"] == {"device:school-01": "restored"}
    assert restored["status"] == "new", "stays in the list until an officer resolves it"
    assert rig.log(incident["id"]) == ["device offline", "device online"]
    assert rig.sup("school-01")["state"] == "up"


def test_clean_stop_is_a_trouble_labelled_stopped(rig: Rig) -> None:
    rig.status("hotel-01", "online")
    rig.status("hotel-01", "stopped")
    [incident] = rig.run(FAST.grace_s + 1)
    assert incident["zones"] == {"device:hotel-01": "stopped"}
    detail = json.loads(rig.db.execute("SELECT detail FROM incident_log WHERE incident_id = ?",
                                       [incident["id"]]).fetchone()[0])
    assert "stopped" in detail["reason"] and detail["class"] == "fast"


def test_heartbeat_silence_is_a_trouble_within_the_bound(rig: Rig) -> None:
    rig.status("school-01", "online")
    for _ in range(4):  # healthy: a heartbeat every 5 s
        rig.beat("school-01")
        assert rig.run(FAST.heartbeat_s) == []
    rig.beat("school-01")
    lost_at = rig.clock()  # the device dies right after this heartbeat; no will ever comes
    opened: list[dict[str, Any]] = []
    while not opened:
        opened = rig.run(0.5)
        assert rig.clock() - lost_at <= timedelta(seconds=FAST.bound_s)
    took = (rig.clock() - lost_at).total_seconds()
    assert FAST.silence_s + FAST.grace_s <= took <= FAST.silence_s + FAST.grace_s + 1
    assert rig.sup("school-01")["reason"] == "silent"
    assert opened[0]["zones"] == {"device:school-01": "offline"}

    rig.beat("school-01")  # it comes back
    [restored] = rig.tick()
    assert restored["zones"] == {"device:school-01": "restored"}


def test_short_dropout_under_the_grace_raises_nothing_even_between_checks(rig: Rig) -> None:
    rig.status("school-01", "online")
    rig.tick()
    rig.clock.advance(0.2)
    rig.status("school-01", "offline")
    rig.clock.advance(1.5)
    rig.status("school-01", "online")  # back before any check ran
    rig.run(60, each=lambda: rig.beat("school-01"))
    assert rig.troubles() == []
    sup = rig.sup("school-01")
    assert sup["dropouts"] == 1 and sup["last_dropout_s"] == pytest.approx(1.5)

    rig.status("school-01", "offline")  # a dropout seen by a check still flaps nothing
    rig.run(FAST.grace_s - 1)
    rig.status("school-01", "online")
    rig.run(30, each=lambda: rig.beat("school-01"))
    assert rig.troubles() == [] and rig.sup("school-01")["dropouts"] == 2


def test_central_that_cannot_hear_the_broker_declares_nobody_silent(rig: Rig) -> None:
    rig.status("school-01", "online")
    rig.beat("school-01")
    rig.supervisor.set_listening(False)  # central's own MQTT link is down
    rig.run(120)
    assert rig.troubles() == []
    rig.supervisor.set_listening(True)  # back: devices get a full silence + grace
    assert rig.run(FAST.silence_s + FAST.grace_s - 1) == []
    assert len(rig.run(2)) == 1


def test_never_connected_devices_raise_nothing(rig: Rig) -> None:
    rig.run(600, step=10)
    assert rig.troubles() == []
    board = rig.supervisor.board()
    assert board["village-01"]["state"] == "never"


def test_offline_device_joins_the_venues_open_trouble(rig: Rig) -> None:
    tamper = make_event("school-01", kind="tamper", state="trouble", zone="cabinet-tamper")
    rig.ingestor.handle(*event_message(tamper))
    [existing] = rig.troubles()
    rig.status("school-01", "offline")
    [joined] = rig.run(FAST.grace_s + 1)
    assert joined["id"] == existing["id"]
    assert joined["zones"] == {"cabinet-tamper": "trouble", "device:school-01": "offline"}
    assert joined["kinds"] == ["tamper", "device_offline"]
    assert len(rig.troubles()) == 1
    alarms = rig.db.execute("SELECT count(*) FROM incidents WHERE category = 'alarm'")
    assert alarms.fetchone()[0] == 0, "a device trouble never becomes an alarm"


def test_standard_class_is_the_default_and_retained_redelivery_keeps_down_since(
        rig: Rig) -> None:
    standard = SupervisionConfig().classes["standard"]
    rig.status("village-01", "online")  # class "slow" in the demo registry
    rig.db.execute("UPDATE devices SET device_class = '' WHERE id = 'village-01'")
    rig.db.conn.commit()
    rig.status("village-01", "offline")
    rig.run(standard.grace_s - 2)
    rig.status("village-01", "offline")  # central restarted: the retained will again
    assert len(rig.run(3)) == 1, "the grace counts from the first will, not the redelivery"
    assert rig.supervisor.board()["village-01"]["device_class"] == "standard"


def test_board_flags_clock_skew_unknown_class_and_pending_trouble(rig: Rig) -> None:
    rig.db.execute("UPDATE devices SET device_class = 'nonesuch' WHERE id = 'hotel-01'")
    rig.db.conn.commit()
    rig.status("school-01", "online")
    rig.beat("school-01", ts=rig.clock() + timedelta(minutes=5))  # device clock 5 min ahead
    rig.status("hotel-01", "online")
    rig.beat("hotel-01")
    rig.status("hotel-01", "offline")
    rig.tick()
    board = rig.supervisor.board()
    assert board["school-01"]["clock_skewed"] is True and board["school-01"]["state"] == "online"
    assert board["school-01"]["bound_s"] == 20 and board["school-01"]["device_class"] == "fast"
    hotel = board["hotel-01"]
    assert hotel["clock_skewed"] is False
    assert hotel["class_known"] is False and hotel["device_class"] == "standard"
    assert hotel["state"] == "offline" and hotel["down_reason"] == "offline"
    assert hotel["trouble_due_at"] is not None and hotel["trouble_incident_id"] is None


def test_class_config_must_keep_its_bound(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"11 \+ grace_s 10 \+ check_interval_s 1 = 22 s > "
                                         r"bound_s 20"):
        SupervisionConfig.model_validate({"classes": {"fast": {
            "bound_s": 20, "heartbeat_s": 5, "silence_s": 11, "grace_s": 10}}})
    with pytest.raises(ValueError, match="at least twice heartbeat_s"):
        SupervisionConfig.model_validate({"classes": {"x": {
            "bound_s": 60, "heartbeat_s": 20, "silence_s": 30, "grace_s": 5}}})
    path = tmp_path / "central.toml"
    path.write_text("[supervision]\ncheck_interval_s = 0.5\n"
                    "[supervision.classes.sprint]\nbound_s = 10\nheartbeat_s = 2\n"
                    "silence_s = 5\ngrace_s = 3\n")
    config = load_config(path)
    assert set(config.supervision.classes) == {"standard", "fast", "slow", "sprint"}
    path.write_text("[supervision]\ndefault_class = 'turbo'\n")
    with pytest.raises(ConfigError, match="supervision.*default_class 'turbo'"):
        load_config(path)


@pytest.mark.parametrize("wired", [False, True], ids=["from-db", "heard-in-memory"])
def test_a_pass_reads_only_the_devices_that_change_not_the_fleet(rig: Rig, wired: bool) -> None:
    """No sweeps (issue 17): after the first pass, heartbeats cost supervision nothing;
    a pass looks only at status changes and devices whose silence deadline came
    (wired as in central: ingest tells supervision each heartbeat, in memory)."""
    if wired:
        rig.ingestor.on_heard = rig.supervisor.heard
    devices = [r["id"] for r in rig.db.query("SELECT id FROM devices ORDER BY id")]
    assert len(devices) >= 3
    for device in devices:
        rig.status(device, "online")
        rig.beat(device)
    rig.tick()
    assert rig.supervisor.examined == len(devices)  # the first pass builds the deadlines
    rig.run(3, each=lambda: [rig.beat(d) for d in devices])
    assert rig.supervisor.examined == 0  # all heard, none due, no status changed
    quiet = devices[0]
    rig.run(FAST.silence_s + 1, step=1.0, each=lambda: [rig.beat(d) for d in devices[1:]])
    assert rig.sup(quiet)["state"] == "down" and rig.sup(quiet)["reason"] == "silent"
    others = [rig.sup(d)["state"] for d in devices[1:]]
    assert others == ["up"] * (len(devices) - 1)
    rig.tick()
    assert rig.supervisor.examined <= 1  # only the down device is looked at again
    rig.run(FAST.silence_s * 3, step=1.0, each=lambda: [rig.beat(d) for d in devices[1:]])
    assert [rig.sup(d)["state"] for d in devices[1:]] == ["up"] * (len(devices) - 1)
    assert rig.sup(quiet)["state"] == "trouble"
