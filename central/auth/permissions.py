"""The roles and the permission matrix: written once, as data, and tested as a table.

An action is allowed when the user's role is in :data:`MATRIX` for it **and** the
object lies inside the user's node of the organisation tree (see
:mod:`central.auth.principal`). Admins act everywhere.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Role = Literal["admin", "county_command", "station_leader", "duty_officer", "installer",
               "auditor", "viewer", "inspector", "village_assistant", "venue_manager"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

#: What each role is for (``alarmlink central user roles`` prints this).
ROLE_DESCRIPTIONS: Final[dict[Role, str]] = {
    "admin": "system administrator: users, the registry, every station",
    "county_command": "county command centre: reads and acts for every station of its "
                      "county; escalation target",
    "station_leader": "station leader: everything at the station, including reboot, "
                      "reload and revoke",
    "duty_officer": "duty officer: receives, acknowledges, dispatches and resolves the "
                    "station's alarms; snapshots and live view",
    "installer": "installer: provisions and commissions the station's venue devices; "
                 "sees no incidents",
    "auditor": "auditor: reads the audit log, nothing else",
    "viewer": "viewer: reads the station's incidents and devices, acts on nothing",
    "inspector": "inspector (检查民警): inspects the station's venues, records hazards, "
                 "issues rectification notices, re-inspects, proposes penalty cases",
    "village_assistant": "village police assistant (村警务助理): the village's alarms, "
                         "patrols, volunteer team and drills",
    "venue_manager": "venue manager (场所负责人): one venue only: its devices, hazards, "
                     "notices and proof uploads",
}

Action = Literal[
    "incident.read", "incident.acknowledge", "incident.dispatch", "incident.resolve",
    "incident.close", "incident.note", "snapshot.read", "snapshot.live",
    "device.read", "device.self_test", "device.silence", "device.reload", "device.reboot",
    "device.revoke",
    "commissioning.read", "commissioning.start", "commissioning.stop",
    "registry.read", "dead_letter.read", "user.manage", "audit.read",
    "incident.notify", "roster.read", "roster.manage",
    # one-key management and assessment (central/management/)
    "mgmt.read", "org.manage", "team.manage", "checklist.manage", "plan.manage",
    "inspection.record", "hazard.record", "notice.issue", "notice.proof", "notice.pdf",
    "reinspection.record", "penalty.propose", "penalty.approve", "penalty.decide",
    "investigation.record", "score.read", "score.compute", "score.rules", "stats.read",
    "telemetry.run",
]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

_OFFICERS: Final = frozenset({"admin", "county_command", "station_leader", "duty_officer"})
_LEADERS: Final = frozenset({"admin", "station_leader"})
_READERS: Final = _OFFICERS | {"viewer"}
_FIELD: Final = _OFFICERS | {"installer", "viewer"}
_INSPECTORS: Final = _LEADERS | {"inspector"}
_STATION: Final = _OFFICERS | {"inspector"}
#: who reads management records (a venue manager and a village assistant: their scope)
_MGMT_READERS: Final = _READERS | {"inspector", "village_assistant", "venue_manager"}

#: action -> the roles that may do it (inside their scope).
MATRIX: Final[dict[Action, frozenset[str]]] = {
    "incident.read": _READERS,
    "incident.acknowledge": _OFFICERS,
    "incident.dispatch": _OFFICERS,
    "incident.resolve": _OFFICERS,
    "incident.close": _OFFICERS,
    "incident.note": _OFFICERS,
    "snapshot.read": _OFFICERS,
    "snapshot.live": _OFFICERS,
    "device.read": _FIELD,
    "device.self_test": _OFFICERS | {"installer"},
    "device.silence": _OFFICERS,
    "device.reload": _LEADERS,
    "device.reboot": _LEADERS,
    "device.revoke": _LEADERS,
    "commissioning.read": _OFFICERS | {"installer"},
    "commissioning.start": _LEADERS | {"installer"},
    "commissioning.stop": _LEADERS | {"installer"},
    "registry.read": _FIELD,
    "dead_letter.read": frozenset({"admin"}),
    "user.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin", "auditor"}),
    # notify 119 / 120 / the village team from an incident
    "incident.notify": _OFFICERS,
    "roster.read": _READERS,
    "roster.manage": _LEADERS | {"county_command"},
    # one-key management and assessment
    "mgmt.read": _MGMT_READERS,
    "org.manage": _LEADERS,
    "team.manage": _LEADERS | {"village_assistant"},
    "checklist.manage": _LEADERS,
    "plan.manage": _LEADERS,
    "inspection.record": _INSPECTORS,
    "hazard.record": _INSPECTORS,
    "notice.issue": _INSPECTORS,
    "notice.proof": frozenset({"admin", "venue_manager"}),
    "notice.pdf": _MGMT_READERS,
    "reinspection.record": _INSPECTORS,
    "penalty.propose": _INSPECTORS,
    "penalty.approve": _LEADERS,
    "penalty.decide": _INSPECTORS,
    "investigation.record": _STATION,
    "score.read": _READERS | {"inspector", "village_assistant", "venue_manager"},
    "score.compute": _LEADERS | {"county_command"},
    "score.rules": frozenset({"admin", "county_command"}),
    "stats.read": _READERS | {"inspector"},
    "telemetry.run": _LEADERS | {"county_command"},
}


def allowed(role: str, action: Action) -> bool:
    """True when ``role`` may do ``action`` (scope is checked separately)."""
    return role in MATRIX[action]
