"""Issue 16, line 3: escalation continues on another central node when its node dies.

Two ``central serve`` nodes on one PostgreSQL database and one Mosquitto, each with its
own simulated GSM modem. The first node leads (escalation runs there); it is killed with
SIGKILL after stage 1's messages went out and before stage 2 is due. The second node takes
the leadership (advisory lock) and sends stages 2 and 3: counted at the two modems
together, every stage's SMS and call went out exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from escalation_kit import COUNTY, LEADER, OFFICER, add_users, escalation_toml, press, put_on_duty
from fixtures.broker import running_mosquitto
from fixtures.central_pg import NODE_USERS, PgCentralProcess
from fixtures.mqtt import MqttTestClient
from helpers import TEST_DEVICES, device_user, wait_for

from alarmlink.broker import MosquittoBroker
from simulators.modem import FakeModem

pytestmark = [pytest.mark.broker, pytest.mark.postgres]

Client = Callable[..., MqttTestClient]


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    with running_mosquitto([*NODE_USERS, *map(device_user, TEST_DEVICES)]) as running:
        yield running


@pytest.fixture
def modems() -> Iterator[list[FakeModem]]:
    started = [FakeModem().start(), FakeModem().start()]
    yield started
    for modem in started:
        modem.stop()


def role(node: PgCentralProcess) -> str:
    return str(node.api("GET", "/healthz")["role"])


def test_escalation_survives_its_node_each_stage_sent_once(
        tmp_path: Path, broker: MosquittoBroker, pg_url: str, modems: list[FakeModem],
        mqtt_test_client: Client) -> None:
    nodes = [PgCentralProcess(tmp_path / f"node-{n}", broker, NODE_USERS[n - 1], pg_url,
                              f"node-{n}", extra=escalation_toml(modems[n - 1].path,
                                                                 "0, 2, 8, 10"))
             for n in (1, 2)]
    first, second = nodes
    try:
        first.start()
        wait_for(lambda: role(first) == "leader", what="node-1 leading")
        second.start()
        assert role(second) == "follower"
        add_users(first)
        put_on_duty(first, "officer-zhang", "officer")
        put_on_duty(second, "leader-wang", "leader")  # any node serves the API
        press(mqtt_test_client, broker)
        wait_for(lambda: len(first.rows("SELECT 1 FROM notifications WHERE stage = '1' AND "
                                        "state IN ('sent', 'delivered')")) == 2,
                 timeout=20, what="stage 1 sent by node-1")
        later = first.rows("SELECT count(*) AS n FROM notifications WHERE stage IN ('2', '3')")
        assert later[0]["n"] == 0, "killed between stages: stage 2 not yet planned"
        first.kill()
        wait_for(lambda: role(second) == "leader", timeout=10, what="node-2 taking over")
        wait_for(lambda: modems[1].messages_to(COUNTY) and COUNTY in modems[1].dialled,
                 timeout=30, what="stage 3 from node-2")
        assert modems[0].messages_to(OFFICER) and modems[0].dialled == [OFFICER]
        assert modems[1].dialled == [LEADER, COUNTY]
        for number in (OFFICER, LEADER, COUNTY):  # both modems together: exactly once
            sms = modems[0].messages_to(number) + modems[1].messages_to(number)
            calls = (modems[0].dialled + modems[1].dialled).count(number)
            assert (len(sms), calls) == (1, 1), (number, sms, calls)

        def recorded() -> list[dict[str, str]]:
            rows = second.rows("SELECT stage, recipient, channel, state FROM notifications "
                               "WHERE stage IN ('1', '2', '3') ORDER BY id")
            done = {r["state"] for r in rows} <= {"sent", "delivered"}
            return rows if done and len(rows) == 6 else []

        rows = wait_for(recorded, timeout=10, what="every stage's results recorded")
        assert [(r["stage"], r["channel"]) for r in rows] == [
            (stage, channel) for stage in "123" for channel in ("sms", "call")], rows
    finally:
        for node in nodes:
            if node.proc is not None:
                node.stop()
