"""Issue 11, fairness and limits, end to end (real broker, real `alarmlink central serve`
with a tight ``[limits]``): a device flooding garbage is throttled (a few dead letters
stored, every one counted), raises ONE trouble at its station, and its neighbour's fire
alarm is still stored and answered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fixtures.central import running_central
from fixtures.mqtt import MqttTestClient
from helpers import device_user, wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker

topics = wire.Topics()
LIMITS = """
[limits]
dead_letter_rate_per_s = 0.01
dead_letter_burst = 5
dead_letters_per_device = 3
"""


def test_a_flooding_device_is_throttled_and_raises_one_trouble(
        fresh_mosquitto: MosquittoBroker, tmp_path: Path,
        mqtt_test_client: Callable[..., MqttTestClient]) -> None:
    with running_central(tmp_path / "central", fresh_mosquitto, extra=LIMITS) as central:
        flooder = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
        neighbour = mqtt_test_client(fresh_mosquitto.url, device_user("hotel-01"))
        for n in range(40):
            flooder.publish(topics.event("school-01"), b'{"v": 1, "garbage": ' +
                            str(n).encode(), wait=None)
        alarm = wire.Event(event_id=wire.new_id(), device_id="hotel-01", seq=1,
                           ts=wire.utcnow(), kind=wire.Kind.FIRE, state=wire.State.ALARM,
                           zone="fire-panel", source=wire.Source.GPIO)
        neighbour.publish(topics.event("hotel-01"), wire.encode(alarm))
        wait_for(lambda: central.rows("SELECT 1 FROM events WHERE event_id = ?",
                                      (alarm.event_id,)), what="the neighbour's alarm stored")
        wait_for(lambda: central.rows(
            "SELECT received FROM dead_letter_counts WHERE device_key = 'school-01' "
            "AND received = 40"), what="all 40 refused messages counted")
        (count,) = central.rows("SELECT * FROM dead_letter_counts "
                                "WHERE device_key = 'school-01'")
        assert count["not_stored"] == 35, "over the budget of 5: counted, not stored"
        assert count["deleted"] == 2, "the cap of 3 deleted the 2 oldest"
        assert len(central.rows("SELECT 1 FROM dead_letters WHERE device_id = 'school-01'")) \
            == 3
        troubles = wait_for(lambda: central.rows(
            "SELECT id, zones FROM incidents WHERE category = 'trouble' AND zones LIKE "
            "'%flood:school-01%'"), what="the flood trouble")
        assert len(troubles) == 1
        log = central.rows("SELECT action FROM incident_log WHERE incident_id = ? AND "
                           "action LIKE 'device floods%'", (troubles[0]["id"],))
        assert len(log) == 1, "one trouble, not one per message"
