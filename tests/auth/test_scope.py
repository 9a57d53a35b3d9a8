"""An officer sees and acts on their own station only: HTTP and WebSocket pushes.

Station A is ``chengxiang`` (school-01, hotel-01), station B is ``dading``
(village-01) in central's demo registry. Alarms come in through real MQTT ingest.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e.conftest import Console
from fixtures.auth import ApiError, login
from fixtures.central import CentralProcess
from fixtures.mqtt import MqttTestClient
from helpers import device_user, wait_for
from websockets.exceptions import InvalidStatus

from alarmlink import wire
from alarmlink.broker import MosquittoBroker

topics = wire.Topics()


def _alarm(client: MqttTestClient, device_id: str, zone: str) -> wire.Event:
    event = wire.Event(event_id=wire.new_id(), device_id=device_id, seq=1, ts=wire.utcnow(),
                       kind=wire.Kind.PANIC, state=wire.State.ALARM, zone=zone,
                       source=wire.Source.GPIO)
    client.publish(topics.event(device_id), wire.encode(event), wait=5)
    return event


def _status(central: CentralProcess, session: object, method: str, path: str,
            body: dict[str, object] | None = None) -> int:
    try:
        central.api(method, path, body, session=session)  # type: ignore[arg-type]
    except ApiError as exc:
        return exc.code
    return 200


def test_an_officer_of_station_a_never_sees_station_b(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Callable[..., MqttTestClient]) -> None:
    central = central_process
    central.add_user("wang-a", "duty_officer", "station:chengxiang")
    central.add_user("zhao-b", "duty_officer", "station:dading")
    officer_a, officer_b = central.login("wang-a"), central.login("zhao-b")
    console_a = Console(central.ws_url, officer_a.cookie)
    # asking for B's station narrows nothing open: A still gets only A
    console_a_asks_b = Console(central.ws_url + "?station=dading", officer_a.cookie)
    console_b = Console(central.ws_url, officer_b.cookie)
    try:
        village = mqtt_test_client(fresh_mosquitto.url, device_user("village-01"))
        school = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
        _alarm(village, "village-01", "square-button")
        at_b = wait_for(lambda: next(iter(console_b.incidents()), None),
                        what="B's incident pushed to B's console")
        assert at_b["station_id"] == "dading"
        # then an alarm at A: once A's console has it, B's was pushed before it (one queue)
        _alarm(school, "school-01", "gate-button")
        wait_for(lambda: console_a.incidents(), what="A's incident pushed to A's console")
        assert {i["station_id"] for i in console_a.incidents()} == {"chengxiang"}
        assert console_a_asks_b.incidents() == []
        wait_for(lambda: len(console_b.incidents()) >= 1, what="B")
        assert {i["station_id"] for i in console_b.incidents()} == {"dading"}
    finally:
        for console in (console_a, console_a_asks_b, console_b):
            console.close()

    b_id = at_b["id"]
    # lists: filtered; ?station=B gives nothing
    listed = central.api("GET", "/api/incidents", session=officer_a)
    assert [i["station_id"] for i in listed] == ["chengxiang"]
    assert central.api("GET", "/api/incidents?station=dading", session=officer_a) == []
    assert {d["device_id"] for d in central.api("GET", "/api/devices", session=officer_a)} == {
        "school-01", "hotel-01"}
    assert [s["id"] for s in central.api("GET", "/api/stations", session=officer_a)] == [
        "chengxiang"]
    # single objects of B: 403
    for method, path, body in [
            ("GET", f"/api/incidents/{b_id}", None),
            ("POST", f"/api/incidents/{b_id}/acknowledge", {}),
            ("GET", f"/api/incidents/{b_id}/snapshots", None),
            ("POST", f"/api/incidents/{b_id}/snapshots/now", {}),
            ("GET", "/api/devices/village-01/commands", None),
            ("POST", "/api/devices/village-01/commands", {"name": "self_test"}),
            ("GET", "/api/devices/village-01/commissioning", None)]:
        assert _status(central, officer_a, method, path, body) == 403, (method, path)
    denied = central.rows("SELECT action, object FROM audit_log WHERE username = 'wang-a' "
                          "AND result = 'denied'")
    assert {(r["action"], r["object"]) for r in denied} >= {
        ("incident.read", f"incident:{b_id}"), ("incident.acknowledge", f"incident:{b_id}"),
        ("device.self_test", "device:village-01")}
    assert central.rows("SELECT status FROM incidents WHERE id = ?", (b_id,))[0][0] == "new"
    assert central.rows("SELECT count(*) FROM commands")[0][0] == 0
    # B's own officer may
    assert central.api("GET", f"/api/incidents/{b_id}", session=officer_b)["incident"]["id"] == b_id
    acked = central.api("POST", f"/api/incidents/{b_id}/acknowledge", {}, session=officer_b)
    assert acked["acknowledged_by"] == "zhao-b"


def test_a_role_that_may_not_read_incidents_gets_no_console(
        central_process: CentralProcess) -> None:
    central_process.add_user("fitter", "installer", "station:chengxiang")
    installer = login(central_process.url, "fitter")
    with pytest.raises(InvalidStatus) as info:
        Console(central_process.ws_url, installer.cookie)
    assert info.value.response.status_code == 403
