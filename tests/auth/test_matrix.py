"""The permission matrix through the real HTTP API: each role x each action.

For every action of :data:`central.auth.permissions.MATRIX` one request exercises it
on an object inside the user's scope (station ``chengxiang``); a role in the matrix
gets anything but 403, any other role gets 403 and a ``denied`` audit row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fixtures.auth import ApiError, Session
from fixtures.central import CentralProcess
from fixtures.mqtt import MqttTestClient
from helpers import device_user, wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from central.auth.permissions import ACTIONS, MATRIX, ROLES

#: where each role's test user sits in the tree (all of them see chengxiang)
NODES = {"admin": "root", "county_command": "county:duan",
         "station_leader": "station:chengxiang", "duty_officer": "station:chengxiang",
         "installer": "station:chengxiang", "auditor": "root", "viewer": "station:chengxiang",
         "inspector": "station:chengxiang", "village_assistant": "station:chengxiang",
         "venue_manager": "venue:school-01"}
#: actions with no HTTP route (revoking a device is the provisioning CLI's: it rewrites
#: the broker's password file on the broker's machine)
NO_ROUTE = {"device.revoke"}

INC = "{incident}"
MG = "/api/management"
REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "incident.read": ("GET", f"/api/incidents/{INC}", None),
    "incident.acknowledge": ("POST", f"/api/incidents/{INC}/acknowledge", {}),
    "incident.dispatch": ("POST", f"/api/incidents/{INC}/dispatch", {}),
    "incident.resolve": ("POST", f"/api/incidents/{INC}/resolve", {"outcome": "test"}),
    "incident.close": ("POST", f"/api/incidents/{INC}/close", {}),
    "incident.note": ("POST", f"/api/incidents/{INC}/notes", {"text": "called the venue"}),
    "snapshot.read": ("GET", f"/api/incidents/{INC}/snapshots", None),
    "snapshot.live": ("POST", f"/api/incidents/{INC}/snapshots/stop", {}),
    "device.read": ("GET", "/api/devices/school-01/commands", None),
    "device.self_test": ("POST", "/api/devices/school-01/commands", {"name": "self_test"}),
    "device.silence": ("POST", "/api/devices/school-01/commands", {"name": "silence"}),
    "device.reload": ("POST", "/api/devices/school-01/commands", {"name": "reload_config"}),
    "device.reboot": ("POST", "/api/devices/school-01/commands", {"name": "reboot"}),
    "commissioning.read": ("GET", "/api/devices/school-01/commissioning", None),
    "commissioning.start": ("POST", "/api/devices/hotel-01/commissioning",
                            {"action": "start"}),
    "commissioning.stop": ("POST", "/api/devices/hotel-01/commissioning", {"action": "stop"}),
    "registry.read": ("GET", "/api/stations", None),
    "dead_letter.read": ("GET", "/api/dead-letters", None),
    "user.manage": ("GET", "/api/users", None),
    "audit.read": ("GET", "/api/audit", None),
    "incident.notify": ("POST", f"/api/incidents/{INC}/notify", {"service": "119"}),
    "roster.read": ("GET", "/api/roster?station=chengxiang", None),
    "roster.manage": ("DELETE", "/api/roster/shifts/999999", None),
    "mgmt.read": ("GET", f"{MG}/hazards", None),
    "org.manage": ("POST", f"{MG}/villages", {"id": "v-m", "name": "上村",
                                              "station": "chengxiang"}),
    "team.manage": ("POST", f"{MG}/drills", {"kind": "drill", "venue": "school-01",
                                             "held_at": "2026-03-02T09:00:00+08:00"}),
    "checklist.manage": ("PUT", f"{MG}/checklists", {
        "station": "chengxiang", "category": "school",
        "items": [{"code": "exit-clear", "text": "出口畅通", "rule": "GB 35181"}]}),
    "plan.manage": ("PUT", f"{MG}/plans", {"venue": "school-01", "every_days": 30,
                                          "inspectors": []}),
    "inspection.record": ("POST", f"{MG}/inspections", {
        "venue": "school-01", "inspected_at": "2026-03-02T09:00:00+08:00", "place": "x",
        "inspectors": ["nobody-1", "nobody-2"], "results": []}),
    "hazard.record": ("POST", f"{MG}/hazards", {"venue": "school-01", "severity": "general",
                                               "description": "x"}),
    "notice.issue": ("POST", f"{MG}/notices", {"hazards": [999999], "kind": "immediate"}),
    "notice.proof": ("POST", f"{MG}/notices/999999/proof", {"text": "x"}),
    "notice.pdf": ("GET", f"{MG}/notices/999999/pdf", None),
    "reinspection.record": ("POST", f"{MG}/notices/999999/reinspection",
                            {"passed": True, "inspectors": ["a", "b"]}),
    "penalty.propose": ("POST", f"{MG}/penalties", {"venue": "school-01", "proposal": "x"}),
    "penalty.approve": ("POST", f"{MG}/penalties/999999/approval", {"approve": True}),
    "penalty.decide": ("POST", f"{MG}/penalties/999999/decision", {"decision": "warning"}),
    "investigation.record": ("POST", f"{MG}/investigations",
                             {"venue": "school-01", "summary": "x"}),
    "score.read": ("GET", f"{MG}/scores/station/chengxiang?period=2026-03", None),
    "score.compute": ("POST", f"{MG}/scores/compute", {"subject": "station",
                                                       "period": "2026-03"}),
    "score.rules": ("POST", f"{MG}/score-rules", {"subject": "village", "base": 60,
                                                  "terms": []}),
    "stats.read": ("GET", f"{MG}/dashboard?station=chengxiang", None),
    "telemetry.run": ("POST", f"{MG}/telemetry/run", {}),
}


def test_every_action_has_a_request_or_is_named_as_having_none() -> None:
    assert set(REQUESTS) | NO_ROUTE == set(ACTIONS)
    assert set(NODES) == set(ROLES)


def _status(central: CentralProcess, session: Session, method: str, path: str,
            body: dict[str, Any] | None) -> int:
    try:
        central.api(method, path, body, session=session)
    except ApiError as exc:
        return exc.code
    return 200


def test_each_role_each_action(fresh_mosquitto: MosquittoBroker,
                               central_process: CentralProcess,
                               mqtt_test_client: Callable[..., MqttTestClient]) -> None:
    central = central_process
    school = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    event = wire.Event(event_id=wire.new_id(), device_id="school-01", seq=1, ts=wire.utcnow(),
                       kind=wire.Kind.PANIC, state=wire.State.ALARM, zone="gate-button",
                       source=wire.Source.GPIO)
    school.publish(wire.Topics().event("school-01"), wire.encode(event), wait=5)
    incident = wait_for(lambda: central.api("GET", "/api/incidents"), what="an incident")[0]

    sessions = {}
    for role in ROLES:
        central.add_user(f"u-{role}", role, NODES[role])
        sessions[role] = central.login(f"u-{role}")

    outcome: dict[tuple[str, str], int] = {}
    for action, (method, path, body) in REQUESTS.items():
        path = path.replace(INC, str(incident["id"]))
        for role in ROLES:
            outcome[(role, action)] = _status(central, sessions[role], method, path, body)

    wrong = {key: status for key, status in outcome.items()
             if (status == 403) == (key[0] in MATRIX[key[1]])}  # type: ignore[index]
    assert not wrong, f"role, action -> status against the matrix: {wrong}"
    assert all(status < 500 for status in outcome.values()), outcome

    denied = {(r["username"], r["action"]) for r in central.rows(
        "SELECT username, action FROM audit_log WHERE result = 'denied'")}
    expected = {(f"u-{role}", action) for (role, action), status in outcome.items()
                if status == 403}
    assert expected and expected <= denied
