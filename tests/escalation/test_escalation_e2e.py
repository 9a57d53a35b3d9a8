"""Escalation end to end: what reaches whom, and when (counted at the simulated modem).

On SQLite (each takes 10-20 s); the escalation store and scheduler on PostgreSQL, across a
node's death, are tests/escalation/test_escalation_leader_failover.py (escalating_central
runs either backend: ``@pytest.mark.parametrize("central_backend", BOTH_BACKENDS)``)."""

from __future__ import annotations

from collections.abc import Callable

from escalation_kit import COUNTY, LEADER, OFF_DUTY, OFFICER, Escalating, press, put_on_duty
from fixtures.mqtt import MqttTestClient
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from central.db import parse_iso
from simulators.modem import FakeModem

Client = Callable[..., MqttTestClient]


def _incident(central):  # type: ignore[no-untyped-def]
    return wait_for(lambda: central.api("GET", "/api/incidents"), what="an incident")[0]


def _sent_offsets(central, incident_id: int) -> dict[tuple[str, str], float]:  # type: ignore[no-untyped-def]
    opened = parse_iso(central.rows("SELECT opened_at FROM incidents WHERE id = ?",
                                    (incident_id,))[0]["opened_at"])
    return {(r["recipient"], r["channel"]): (parse_iso(r["sent_at"]) - opened).total_seconds()
            for r in central.rows("SELECT recipient, channel, sent_at FROM notifications "
                                  "WHERE incident_id = ? AND sent_at IS NOT NULL",
                                  (incident_id,))}


def test_unacknowledged_fire_reaches_officer_leader_county_in_turn_and_nobody_else(
        escalating_central: Escalating, fake_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Client) -> None:
    central = escalating_central()
    put_on_duty(central, "officer-zhang", "officer")
    put_on_duty(central, "leader-wang", "leader")
    press(mqtt_test_client, fresh_mosquitto)
    incident = _incident(central)
    wait_for(lambda: central.rows("SELECT 1 FROM escalations WHERE stopped_reason = "
                                  "'all stages run'") and
             len(fake_modem.dialled) >= 3 and fake_modem.messages_to(COUNTY),
             timeout=30, what="all three stages")
    text = fake_modem.messages_to(OFFICER)[0]
    for number in (OFFICER, LEADER, COUNTY):
        assert fake_modem.messages_to(number) == [text]
    assert sorted(fake_modem.recipients()) == sorted([OFFICER, LEADER, COUNTY])
    assert fake_modem.dialled == [OFFICER, LEADER, COUNTY]
    assert OFF_DUTY not in fake_modem.recipients()
    offsets = _sent_offsets(central, incident["id"])
    for who, stage_at in (("officer-zhang", 2), ("leader-wang", 4), ("county-liu", 6)):
        assert stage_at <= offsets[(who, "sms")] < stage_at + 2.5, offsets
    assert text.startswith("【报警】") and f"事件{incident['id']}" in text


def test_acknowledging_in_stage_1_stops_every_later_message(
        escalating_central: Escalating, fake_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Client) -> None:
    central = escalating_central(stages="0, 1, 4, 5")
    put_on_duty(central, "officer-zhang", "officer")
    put_on_duty(central, "leader-wang", "leader")
    press(mqtt_test_client, fresh_mosquitto)
    incident = _incident(central)
    wait_for(lambda: fake_modem.messages_to(OFFICER), timeout=15, what="stage 1 SMS")
    central.api("POST", f"/api/incidents/{incident['id']}/acknowledge", {})
    wait_for(lambda: central.rows("SELECT 1 FROM escalations WHERE stopped_at IS NOT NULL"),
             what="escalation stopped")
    # past stage 3's time, polled on the escalation's own state rather than slept
    wait_for(lambda: (parse_iso(central.rows("SELECT MAX(at) AS at FROM incident_log")[0]["at"])
                      and central.api("GET", "/healthz") and
                      fake_modem.commands.count("AT+CMGL=4") > 40), timeout=20,
             what="central polling past stage 3")
    assert LEADER not in fake_modem.recipients() and COUNTY not in fake_modem.recipients()


def test_restart_between_stages_fires_the_next_stage_once(
        escalating_central: Escalating, fake_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Client) -> None:
    central = escalating_central(stages="0, 1, 12, 40")
    put_on_duty(central, "officer-zhang", "officer")
    put_on_duty(central, "leader-wang", "leader")
    press(mqtt_test_client, fresh_mosquitto)
    incident = _incident(central)
    wait_for(lambda: len(central.rows("SELECT 1 FROM notifications WHERE stage = '1' AND "
                                      "state IN ('sent', 'delivered')")) == 2,
             timeout=15, what="stage 1 sent")
    assert central.proc is not None
    central.proc.kill()  # no clean stop
    central.proc.wait()
    central.start()
    wait_for(lambda: LEADER in fake_modem.dialled, timeout=30, what="stage 2 after restart")
    assert fake_modem.dialled == [OFFICER, LEADER]
    assert fake_modem.recipients() == sorted([OFFICER, LEADER])
    assert len(fake_modem.messages_to(OFFICER)) == len(fake_modem.messages_to(LEADER)) == 1
    offset = _sent_offsets(central, incident["id"])[("leader-wang", "sms")]
    assert 12 <= offset < 16


def test_nobody_on_duty_skips_stage_1_and_stage_2_fires_at_once(
        escalating_central: Escalating, fake_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Client) -> None:
    central = escalating_central(stages="0, 2, 20, 40")
    put_on_duty(central, "leader-wang", "leader")
    press(mqtt_test_client, fresh_mosquitto)
    incident = _incident(central)
    wait_for(lambda: LEADER in fake_modem.dialled, timeout=15, what="stage 2")
    offset = _sent_offsets(central, incident["id"])[("leader-wang", "sms")]
    assert 2 <= offset < 4.5
    log = central.api("GET", f"/api/incidents/{incident['id']}")["log"]
    assert any(e["action"] == "stage_skipped" and e["detail"]["stage"] == 1 for e in log)
    assert OFFICER not in fake_modem.recipients()


def test_sms_reply_1_acknowledges_as_the_officer_unknown_number_is_logged(
        escalating_central: Escalating, fake_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Client) -> None:
    central = escalating_central(stages="0, 1, 30, 40")
    put_on_duty(central, "officer-zhang", "officer")
    press(mqtt_test_client, fresh_mosquitto)
    incident = _incident(central)
    wait_for(lambda: fake_modem.messages_to(OFFICER), timeout=15, what="stage 1 SMS")
    fake_modem.deliver("13700000000", "1")
    wait_for(lambda: central.rows("SELECT reason FROM inbound_sms WHERE sender = "
                                  "'13700000000'"), what="unknown number logged")
    assert central.api("GET", f"/api/incidents/{incident['id']}")["incident"][
        "acknowledged_by"] is None
    fake_modem.deliver("+86" + OFFICER, "1")
    acked = wait_for(lambda: central.api("GET", f"/api/incidents/{incident['id']}")[
        "incident"]["acknowledged_by"], what="acknowledged by SMS")
    assert acked == "officer-zhang"
    rows = central.rows("SELECT sender, result, reason FROM inbound_sms ORDER BY id")
    assert [r["result"] for r in rows] == ["rejected", "accepted"]
    assert "unknown number" in rows[0]["reason"]
    # the audit entry is appended just after the acknowledgement's commit: poll for it
    wait_for(lambda: central.rows("SELECT 1 FROM audit_log WHERE username = 'officer-zhang' "
                                  "AND action = 'incident.acknowledge' AND source = 'sms'"),
             what="the acknowledgement audited with source sms")


def test_error_then_silence_retries_then_the_next_channel(
        escalating_central: Escalating, fake_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Client) -> None:
    central = escalating_central(stages="0, 1, 30, 40", channels='"sms"')
    wait_for(lambda: "AT+CNMI=2,1,0,1,0" in fake_modem.commands, what="modem opened")
    put_on_duty(central, "officer-zhang", "officer")
    fake_modem.fault("error", 1, only="AT+CMGS")
    fake_modem.fault("silent", 1, only="AT+CMGS")
    press(mqtt_test_client, fresh_mosquitto)
    incident = _incident(central)
    wait_for(lambda: central.rows("SELECT 1 FROM notifications WHERE channel = 'sms' AND "
                                  "state = 'failed'"), timeout=20, what="sms failed")
    wait_for(lambda: central.rows("SELECT 1 FROM notifications WHERE channel = 'call' AND "
                                  "state = 'sent'"), timeout=15, what="the call")
    assert fake_modem.dialled == [OFFICER]
    attempts = central.rows(
        "SELECT n.channel, a.result, a.detail FROM notification_attempts a JOIN notifications "
        "n ON n.id = a.notification_id WHERE n.incident_id = ? ORDER BY a.id",
        (incident["id"],))
    sms = [(r["result"], r["detail"]) for r in attempts if r["channel"] == "sms"]
    assert sms[0][0] == "error" and "ERROR" in sms[0][1]
    assert sms[1][0] == "error" and "no '>' prompt" in sms[1][1]
    assert len(sms) == 2
    assert [r["result"] for r in attempts if r["channel"] == "call"][-1] == "ok"
    log = central.api("GET", f"/api/incidents/{incident['id']}")["log"]
    assert any(e["action"] == "notify_failed" and e["detail"]["channel"] == "sms"
               and e["detail"]["fallback"] == "call" for e in log)


VILLAGE_TEAM = ["13800000031", "13800000032", "13800000033", "13800000034"]


def test_village_alarm_reaches_assistant_and_every_team_member(
        escalating_central: Escalating, fake_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Client) -> None:
    central = escalating_central(stages="0, 30, 40, 50")
    press(mqtt_test_client, fresh_mosquitto, device="village-01", zone="workshop-smoke")
    wait_for(lambda: all(fake_modem.messages_to(n) for n in VILLAGE_TEAM), timeout=20,
             what="the village team's phones")
    assert all(len(fake_modem.messages_to(n)) == 1 for n in VILLAGE_TEAM)
    # the keyholder and the village head are not the team
    assert "13800000022" not in fake_modem.recipients()
    assert central.rows("SELECT 1 FROM escalations")


def test_notify_119_records_time_and_countdown_and_gb26875_fire_notifies_by_itself(
        escalating_central: Escalating, fake_modem: FakeModem,
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Client) -> None:
    central = escalating_central(stages="0, 30, 40, 50", extra="auto_fire_119 = true")
    press(mqtt_test_client, fresh_mosquitto, kind=wire.Kind.PANIC)
    incident = _incident(central)
    answer = central.api("POST", f"/api/incidents/{incident['id']}/notify", {"service": "119"})
    assert 0 < answer["countdown_s"] <= 120
    log = central.api("GET", f"/api/incidents/{incident['id']}")["log"]
    entry = next(e for e in log if e["action"] == "notify_119")
    assert entry["actor"] == "officer-li" and entry["detail"]["countdown_s"] == \
        answer["countdown_s"]
    wait_for(lambda: fake_modem.messages_to("119"), what="SMS to 119")
    # a GB 26875 fire alarm from the hotel's fire panel: 119 without any officer
    press(mqtt_test_client, fresh_mosquitto, device="hotel-01", zone="fire-panel",
          kind=wire.Kind.FIRE, source=wire.Source.SERIAL, detail={"protocol": "gb26875"})
    hotel = wait_for(lambda: [i for i in central.api("GET", "/api/incidents")
                              if i["venue_id"] == "hotel-01"], what="hotel incident")[0]
    auto = wait_for(lambda: [e for e in central.api("GET", f"/api/incidents/{hotel['id']}")[
        "log"] if e["action"] == "notify_119"], what="automatic 119")
    assert auto[0]["actor"] == "auto:gb26875"
    wait_for(lambda: len(fake_modem.messages_to("119")) == 2, what="second SMS to 119")
    figures = central.api("GET", "/api/escalation/figures")
    assert figures["time_to_119"]["chengxiang"]["count"] == 2
