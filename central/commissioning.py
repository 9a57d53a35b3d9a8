"""Commissioning walk tests: every input triggered once, proven, and reported.

While a device is in commissioning mode (one open row in ``commissioning``),
every event it sends is stored as a test event (so it never opens an incident
or reaches an officer, whatever the device's own ``test`` flag says) and its
zone is recorded in ``commissioning_hits`` with the time it was first and last
seen. Stopping the session ends it; the report lists every zone of the
registry (and any extra zone the device sent) as tested or not.

Every session has a ``reason`` (why the venue's alarms are tests meanwhile, shown
on the duty console) and an end time, ``ends_at`` = start + the requested duration
(at most ``[commissioning] max_duration_s``): at that moment the session is over
by itself, and the device's alarms are real again. Expired sessions are closed
(``ended_by = "expired"``, ``ended_at = ends_at``) by the next start, stop or
event; every query in between already treats them as ended.

The device board (``GET /api/devices``) flags ``untested_zones``: registry zones
that no commissioning session ever saw.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from alarmlink.wire import Event
from central.db import iso, parse_iso, query_one, write_tx

logger = logging.getLogger(__name__)


#: The longest walk test when central's config says nothing else
#: (``[commissioning] max_duration_s``); a forgotten session must not silence a device.
MAX_SESSION = timedelta(hours=4)
DEFAULT_DURATION = timedelta(hours=1)
REASON_MAX = 200


class CommissioningError(ValueError):
    """Unknown device, or no session to stop or report."""


def _device(db: Database, device_id: str) -> dict[str, Any]:
    row = query_one(db, "SELECT d.id AS device_id, d.zones, v.id AS venue_id, "
                        "v.name AS venue_name, v.address AS venue_address, "
                        "s.name AS station_name FROM devices d "
                        "JOIN venues v ON v.id = d.venue_id "
                        "JOIN stations s ON s.id = v.station_id WHERE d.id = ?", [device_id])
    if row is None:
        raise CommissioningError(f"device {device_id!r} is not registered")
    return {**row, "zones": json.loads(row["zones"])}


def active_session(db: Database, device_id: str) -> int | None:
    row = query_one(db, "SELECT id FROM commissioning WHERE device_id = ? AND ended_at IS NULL",
                    [device_id])
    return None if row is None else int(row["id"])


def close_expired(db: Database, now: datetime, device_id: str | None = None) -> int:
    """Close the sessions whose end time has come (all, or one device's); returns how many."""
    closed = db.execute(
        "UPDATE commissioning SET ended_at = ends_at, ended_by = 'expired' WHERE "
        "ended_at IS NULL AND ends_at <= ? AND (? IS NULL OR device_id = ?)",
        [iso(now), device_id, device_id]).rowcount
    if closed:
        logger.warning("%s walk test(s) reached their end time%s: their devices' alarms are "
                       "real again", closed, f" ({device_id})" if device_id else "")
    return int(closed)


def start(db: Database, device_id: str, actor: str, now: datetime, installer: str = "", *,
          reason: str, duration: timedelta = DEFAULT_DURATION,
          max_duration: timedelta = MAX_SESSION) -> dict[str, Any]:
    """Put a device into commissioning mode until ``now + duration``.

    Idempotent: an open session is kept as it is (its reason and end time too).
    Raises :class:`CommissioningError` for an empty or too long reason or a duration
    outside (0, ``max_duration``].
    """
    reason = reason.strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise CommissioningError(f"reason: give why the alarms are tests, 1 to {REASON_MAX} "
                                 "characters")
    if not timedelta(0) < duration <= max_duration:
        raise CommissioningError(f"duration_s: must be more than 0 and at most "
                                 f"{int(max_duration.total_seconds())} s")
    _device(db, device_id)
    with write_tx(db):
        close_expired(db, now, device_id)
        if active_session(db, device_id) is None:
            db.execute("INSERT INTO commissioning (device_id, installer, started_at, started_by,"
                       " reason, ends_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [device_id, installer or actor, iso(now), actor, reason,
                        iso(now + duration)])
            logger.info("device %s: commissioning started by %s until %s", device_id, actor,
                        iso(now + duration))
    return session_view(db, device_id)


def stop(db: Database, device_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """End the open session; its events are test events no longer."""
    _device(db, device_id)
    with write_tx(db):
        close_expired(db, now, device_id)
        session = active_session(db, device_id)
        if session is None:
            raise CommissioningError(f"device {device_id!r} is not in commissioning mode")
        db.execute("UPDATE commissioning SET ended_at = ?, ended_by = ? WHERE id = ?",
                   [iso(now), actor, session])
    logger.info("device %s: commissioning ended by %s", device_id, actor)
    return session_view(db, device_id)


def open_sessions(db: Database, now: datetime) -> dict[str, int]:
    """Close what has expired, then ``{device_id: session id}`` of every open session.

    Ingest reads this once per batch (sessions start and stop on the same writer thread,
    between batches) instead of two statements per event.
    """
    close_expired(db, now)
    return {r["device_id"]: int(r["id"]) for r in db.query(
        "SELECT id, device_id FROM commissioning WHERE ended_at IS NULL")}


def record_hit(db: Database, event: Event, now: datetime,
               sessions: dict[str, int] | None = None) -> bool:
    """Inside ingest's transaction: True (and the zone noted) if the device is commissioning.

    ``sessions``: :func:`open_sessions` read at the start of ingest's batch.
    """
    if sessions is None:
        close_expired(db, now, event.device_id)
        session = active_session(db, event.device_id)
    else:
        session = sessions.get(event.device_id)
    if session is None:
        return False
    db.execute(
        "INSERT INTO commissioning_hits (session_id, zone, first_at, last_at, first_event_id, "
        "kind) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, zone) DO UPDATE SET "
        "last_at = excluded.last_at, hits = hits + 1",
        [session, event.zone, iso(now), iso(now), event.event_id, event.kind.value])
    logger.info("walk test %s: zone %s seen (%s %s)", event.device_id, event.zone,
                event.kind.value, event.state.value)
    return True


def _latest_session(db: Database, device_id: str) -> dict[str, Any] | None:
    return query_one(db, "SELECT id, installer, started_at, started_by, ended_at, ended_by, "
                         "reason, ends_at FROM commissioning WHERE device_id = ? "
                         "ORDER BY id DESC LIMIT 1", [device_id])


def session_view(db: Database, device_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The latest session with every zone tested or not (the report's data).

    ``active`` is False for a session past its end time at ``now`` (when given).
    """
    device = _device(db, device_id)
    session = _latest_session(db, device_id)
    if session is None:
        raise CommissioningError(f"device {device_id!r} was never in commissioning mode")
    hits = {r["zone"]: {"first_at": r["first_at"], "last_at": r["last_at"], "hits": r["hits"],
                        "kind": r["kind"]}
            for r in db.query("SELECT zone, first_at, last_at, hits, kind FROM "
                              "commissioning_hits WHERE session_id = ?", [session["id"]])}
    zones = list(device["zones"]) + sorted(z for z in hits if z not in device["zones"])
    rows = [{"zone": z, "tested": z in hits, "registered": z in device["zones"],
             **hits.get(z, {"first_at": None, "last_at": None, "hits": 0, "kind": None})}
            for z in zones]
    state = query_one(db, "SELECT last_heartbeat, temperature_c, version FROM "
                          "device_state WHERE device_id = ?", [device_id])
    last_beat = state["last_heartbeat"] if state else None
    beat_in_session = bool(last_beat and last_beat >= session["started_at"])
    active = session["ended_at"] is None and (
        now is None or session["ends_at"] is None or session["ends_at"] > iso(now))
    return {**device, "session": session, "active": active,
            "zones": rows, "all_tested": bool(rows) and all(r["tested"] for r in rows),
            "heartbeat_seen": beat_in_session, "last_heartbeat": last_beat,
            "temperature_c": state["temperature_c"] if state else None,
            "agent_version": state["version"] if state else "",
            # The heartbeat carries no radio or link measure (wire contract v1).
            "signal_quality": None}


def untested_zones(db: Database, device_ids: list[str] | None = None) -> dict[str, list[str]]:
    """Device id -> registry zones no commissioning session ever saw (for the board);
    every device, or only ``device_ids`` (one page of the board)."""
    only, params = "", []
    if device_ids is not None:
        only = f" IN ({', '.join('?' for _ in device_ids)})"
        params = list(device_ids)
    seen: dict[str, set[str]] = {}
    for hit in db.query("SELECT DISTINCT c.device_id, h.zone FROM commissioning_hits h "
                        "JOIN commissioning c ON c.id = h.session_id"
                        + (f" WHERE c.device_id{only}" if only else ""), params):
        seen.setdefault(hit["device_id"], set()).add(hit["zone"])
    return {device["id"]: [z for z in json.loads(device["zones"])
                           if z not in seen.get(device["id"], set())]
            for device in db.query("SELECT id, zones FROM devices"
                                   + (f" WHERE id{only}" if only else ""), params)}


def commissioning_devices(db: Database, now: datetime | None = None) -> set[str]:
    """Devices in a walk test (at ``now``: sessions past their end time are not)."""
    return {r["device_id"] for r in db.query(
        "SELECT device_id FROM commissioning WHERE ended_at IS NULL AND "
        "(? IS NULL OR ends_at > ?)", [None if now is None else iso(now)] * 2)}


def active_walk_tests(db: Database, now: datetime, timezone: str) -> list[dict[str, Any]]:
    """The walk tests running at ``now``, for the console's banner, by venue.

    ``ends_at_local`` is the end time as HH:MM in ``timezone`` (the stations' zone).
    """
    zone = ZoneInfo(timezone)
    rows = db.query(
        "SELECT c.device_id, v.id AS venue_id, v.name AS venue_name, v.station_id, "
        "s.name AS station_name, c.reason, c.started_by, c.started_at, c.ends_at "
        "FROM commissioning c JOIN devices d ON d.id = c.device_id "
        "JOIN venues v ON v.id = d.venue_id JOIN stations s ON s.id = v.station_id "
        "WHERE c.ended_at IS NULL AND c.ends_at > ? ORDER BY v.id, c.device_id", [iso(now)])
    return [{**r, "ends_at_local": parse_iso(r["ends_at"]).astimezone(zone).strftime("%H:%M")}
            for r in rows]


def render_report(view: dict[str, Any], generated_at: datetime) -> str:
    """A self-contained, printable HTML commissioning report."""
    e = html.escape
    session = view["session"]
    rows = "".join(
        f"<tr class=\"{'ok' if r['tested'] else 'missing'}\"><td>{e(r['zone'])}"
        f"{'' if r['registered'] else ' <em>(not in registry)</em>'}</td>"
        f"<td>{'yes' if r['tested'] else '<strong>NO</strong>'}</td>"
        f"<td>{e(r['first_at'] or '-')}</td><td>{e(r['kind'] or '-')}</td>"
        f"<td>{r['hits']}</td></tr>" for r in view["zones"])
    signal = view["signal_quality"]
    temperature = view["temperature_c"]
    facts = [
        ("Device", view["device_id"]),
        ("Venue", f"{view['venue_name']} ({view['venue_id']}) {view['venue_address']}"),
        ("Police station", view["station_name"]),
        ("Installer", session["installer"] or "-"),
        ("Walk test started", f"{session['started_at']} by {session['started_by']}"),
        ("Reason", session["reason"] or "-"),
        ("Walk test ended", f"{session['ended_at']} by {session['ended_by']}"
         if session["ended_at"] else f"still running (until {session['ends_at']})"),
        ("Heartbeat seen", f"yes, last {view['last_heartbeat']}" if view["heartbeat_seen"]
         else "NO heartbeat during the walk test"),
        ("Signal quality", "n/a (the agent's heartbeat does not report it)"
         if signal is None else str(signal)),
        ("CPU temperature", "n/a" if temperature is None else f"{temperature:.1f} °C"),
        ("Agent version", view["agent_version"] or "-"),
        ("Result", "ALL ZONES TESTED" if view["all_tested"] else
         "INCOMPLETE: zones marked NO were not tested"),
    ]
    facts_html = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in facts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Commissioning report {e(view['device_id'])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #999; padding: .3em .6em; text-align: left; }}
tr.missing td {{ background: #fdd; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>Commissioning report: {e(view['device_id'])}</h1>
<table class="facts">{facts_html}</table>
<h2>Zones</h2>
<table class="zones"><tr><th>Zone</th><th>Tested</th><th>First seen (UTC)</th><th>Kind</th>
<th>Hits</th></tr>{rows}</table>
<p>Walk-test events are stored as test events: none of them reached a duty officer.</p>
<p>Generated {e(iso(generated_at))}. Installer signature: ____________________
Station signature: ____________________</p>
</body></html>
"""
