"""The generated broker config's identity and size rules, on the real Mosquitto:
a client id is its account's user name (no takeover across accounts), packets above
the largest snapshot are refused, Mosquitto drops root, the queue is bounded."""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Callable
from pathlib import Path

from fixtures.mqtt import MqttTestClient
from helpers import CENTRAL_USER, PROBE_USER, device_user, wait_for
from sqlite_utils import Database

from alarmlink.broker import (
    BROKER_USER,
    MAX_PACKET_SIZE,
    MAX_QUEUED_BYTES,
    MAX_QUEUED_MESSAGES,
    MosquittoBroker,
    render_config,
)
from alarmlink.wire import MAX_SNAPSHOT_BYTES, Topics
from central.credentials import BrokerSettings, set_password, write_broker_config
from central.db import open_db

Connect = Callable[..., MqttTestClient]
topics = Topics()


def test_config_has_the_limits_the_identity_rule_and_drops_root(tmp_path: Path) -> None:
    conf = render_config(port=1883, data_dir=tmp_path, password_file=tmp_path / "p",
                         acl_file=tmp_path / "a")
    lines = conf.splitlines()
    assert "user mosquitto" in lines and "user root" not in conf
    assert lines.index("use_username_as_clientid true") == lines.index(
        "listener 1883 127.0.0.1") + 1
    assert f"max_packet_size {MAX_PACKET_SIZE}" in lines
    assert MAX_SNAPSHOT_BYTES < MAX_PACKET_SIZE <= MAX_SNAPSHOT_BYTES + 128 * 1024
    assert f"max_queued_bytes {MAX_QUEUED_BYTES}" in lines
    assert f"max_queued_messages {MAX_QUEUED_MESSAGES}" in lines


def test_deployment_config_binds_client_ids_on_every_listener(tmp_path: Path) -> None:
    """broker-config: the plain listener for central and the TLS one for devices."""
    db = open_db(tmp_path / "central.db")
    assert isinstance(db, Database)
    set_password(db, "central", "pw", role="central")
    conf = write_broker_config(db, tmp_path / "broker", BrokerSettings()).read_text()
    blocks = re.split(r"^(?=listener )", conf, flags=re.M)[1:]
    assert len(blocks) == 2
    for block in blocks:
        assert block.splitlines()[1] == "use_username_as_clientid true", block
    assert "user mosquitto" in conf.splitlines() and "user root" not in conf


def test_broker_started_as_root_runs_as_mosquitto(fresh_mosquitto: MosquittoBroker) -> None:
    assert fresh_mosquitto.proc is not None
    status = Path(f"/proc/{fresh_mosquitto.proc.pid}/status").read_text()
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert uid == (pwd.getpwnam(BROKER_USER).pw_uid if os.geteuid() == 0 else os.geteuid())


def test_a_device_cannot_take_over_another_accounts_client_id(
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Connect) -> None:
    victim = mqtt_test_client(fresh_mosquitto.url, device_user("hotel-01"),
                              client_id="hotel-01")
    watcher = mqtt_test_client(fresh_mosquitto.url, PROBE_USER)
    assert victim.accepted and watcher.accepted
    for stolen in ("hotel-01", PROBE_USER.username, "alarmlink-central"):
        intruder = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"),
                                    client_id=stolen)
        assert intruder.accepted
        intruder.close()
    # the broker replaced each client id the intruder sent with its own user name
    log = fresh_mosquitto.log_tail(200)
    assert len(re.findall(r"New client connected from \S+ as school-01 .*u'school-01'", log)) \
        == 3, log
    assert not re.search(r"as (hotel-01|central-probe|alarmlink-central) .*u'school-01'", log)
    assert victim.disconnects == [] and watcher.disconnects == []
    # the victim still works: it publishes and the watcher receives it
    watcher.subscribe(topics.all_devices("event"))
    victim.publish(topics.event("hotel-01"), b"still here")
    wait_for(lambda: watcher.received(), what="the victim's message")
    # the same account twice is a takeover (Mosquitto 2.0.11 closes the old connection
    # without flushing its DISCONNECT 0x8E; later versions send it)
    again = mqtt_test_client(fresh_mosquitto.url, device_user("hotel-01"), client_id="other")
    assert again.accepted
    wait_for(lambda: victim.disconnects, what="the takeover")
    assert "Client hotel-01 already connected, closing old connection" in \
        fresh_mosquitto.log_tail(200)


def test_oversize_message_is_refused_and_largest_snapshot_passes(
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Connect) -> None:
    central = mqtt_test_client(fresh_mosquitto.url, CENTRAL_USER)
    central.subscribe(topics.all_devices("snapshot/+"))
    device = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    topic = topics.snapshot("school-01", "01JDQ3ZK6N8Y4W2V7T5R3P1M0H")
    largest = b"\xff\xd8\xff" + b"\x00" * (MAX_SNAPSHOT_BYTES - 3)
    info = device.publish(topic, largest)
    assert info.is_published()
    wait_for(lambda: central.received(), what="the largest snapshot")
    assert central.received() == [(topic, largest)]

    huge = b"\x00" * (100 * 1024 * 1024)
    info = device.publish(topic, huge, wait=None)
    wait_for(lambda: device.disconnects, timeout=60, what="the sender dropped")
    assert not info.is_published()
    # the broker is fine and forwarded nothing: a marker after it arrives alone
    other = mqtt_test_client(fresh_mosquitto.url, device_user("hotel-01"))
    marker = topics.snapshot("hotel-01", "01JDQ3ZK6N8Y4W2V7T5R3P1M0J")
    other.publish(marker, b"\xff\xd8\xffmarker")
    wait_for(lambda: len(central.received()) == 2, what="the marker")
    assert [t for t, _ in central.received()] == [topic, marker]


def test_central_can_have_a_listener_of_its_own(mqtt_test_client: Connect) -> None:
    """``central_listener``: a second loopback listener (as ``central init`` gives central
    the plain one and devices the TLS one), the same accounts and client-id rule; a
    message from a device on the devices' listener reaches central on its own."""
    broker = MosquittoBroker([CENTRAL_USER, device_user("school-01")], central_listener=True)
    try:
        broker.start()
        assert broker.central_url != broker.url
        central = mqtt_test_client(broker.central_url, CENTRAL_USER)
        device = mqtt_test_client(broker.url, device_user("school-01"))
        assert central.accepted and device.accepted
        central.subscribe(topics.all_devices("event"))
        device.publish(topics.event("school-01"), b"over the other listener")
        wait_for(lambda: central.received(), what="the device's message at central")
    finally:
        broker.close()
