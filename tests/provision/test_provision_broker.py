"""Issue 5, line 2: the GENERATED broker config (TLS + auth + ACL) against the real
Mosquitto: confinement, no anonymous access, rotation, and revocation on reload."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from helpers import wait_for
from provision.provision_testkit import GeneratedBroker, TlsClient

from alarmlink.mqtt import paho_client
from alarmlink.wire import Topics
from central.credentials import account, revoke, set_password
from central.db import open_db
from central.registry import (
    County,
    Device,
    Station,
    Venue,
    add_county,
    add_device,
    add_station,
    add_venue,
)

topics = Topics()
PASSWORDS = {"central": "central-pw", "dev-a": "dev-a-pw-0123456789", "dev-b": "dev-b-pw-987"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[GeneratedBroker]:
    db = open_db(tmp_path / "central.db")
    add_county(db, County(id="c", name="County"))
    add_station(db, Station(id="s", name="Station", county="c"))
    add_venue(db, Venue(id="v", name="Venue", kind="school", station="s"))
    for device in ("dev-a", "dev-b"):
        add_device(db, Device(id=device, venue="v"))
        set_password(db, device, PASSWORDS[device])
    set_password(db, "central", PASSWORDS["central"], role="central")
    generated = GeneratedBroker(db, tmp_path / "broker").start()
    try:
        yield generated
    finally:
        generated.stop()


def dev(broker: GeneratedBroker, name: str, password: str | None = None) -> TlsClient:
    return TlsClient(broker, name, password or PASSWORDS[name])


def central(broker: GeneratedBroker) -> TlsClient:
    return TlsClient(broker, "central", PASSWORDS["central"], tls=False)


def test_files_are_private_and_hold_no_plaintext(broker: GeneratedBroker) -> None:
    for name in ("passwd", "acl", "ca.key", "server.key", "broker.json"):
        assert (broker.dir / name).stat().st_mode & 0o077 == 0, name
    passwd = (broker.dir / "passwd").read_text()
    assert all(pw not in passwd for pw in PASSWORDS.values())
    assert passwd.count("$7$") == 3
    conf = broker.conf.read_text()
    assert "allow_anonymous false" in conf and "certfile" in conf
    rows = broker.db.execute("SELECT password_hash FROM mqtt_accounts").fetchall()
    assert all(r[0].startswith("$7$") for r in rows)


def test_tls_listener_needs_tls_and_credentials(broker: GeneratedBroker) -> None:
    assert dev(broker, "dev-a").accepted
    assert not dev(broker, "dev-a", "wrong").accepted
    anonymous = TlsClient(broker, "", "")
    assert not anonymous.accepted
    # plain MQTT (no TLS) to the device listener: the broker drops it, no CONNACK
    connacks: list[mqtt.ReasonCode] = []
    drops: list[object] = []
    plain = paho_client()
    plain.username_pw_set("dev-a", PASSWORDS["dev-a"])
    plain.on_connect = lambda c, u, f, rc, p: connacks.append(rc)
    plain.on_disconnect = lambda c, u, f, rc, p: drops.append(rc)
    plain.connect("127.0.0.1", broker.settings.tls_port)
    plain.loop_start()
    wait_for(lambda: drops, what="plain client dropped by the TLS listener")
    plain.loop_stop()
    assert not connacks
    # a client that does not trust the deployment CA refuses the broker
    stranger = paho_client()
    stranger.tls_set(cert_reqs=ssl.CERT_REQUIRED)  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        stranger.connect("127.0.0.1", broker.settings.tls_port)


def test_device_cannot_publish_into_or_read_another_device(broker: GeneratedBroker) -> None:
    hub = central(broker)
    hub.subscribe(f"{topics.prefix}/#")
    a = dev(broker, "dev-a")
    a.subscribe(topics.cmd("dev-b"))
    a.subscribe(topics.all_devices("event"))
    a.subscribe(topics.cmd("dev-a"))
    b = dev(broker, "dev-b")
    b.subscribe(topics.cmd("dev-b"))
    a.client.publish(topics.event("dev-b"), b"spoofed", qos=1).wait_for_publish(5)
    a.client.publish(topics.cmd("dev-b"), b"fake command", qos=1).wait_for_publish(5)
    a.client.publish(topics.event("dev-a"), b"mine", qos=1).wait_for_publish(5)
    hub.client.publish(topics.cmd("dev-b"), b"for b", qos=1).wait_for_publish(5)
    b.client.publish(topics.event("dev-b"), b"b event", qos=1).wait_for_publish(5)
    wait_for(lambda: len(b.messages) >= 1 and len(hub.messages) >= 3, what="legit traffic")
    # marker last: anything forbidden delivered to dev-a would already be there
    hub.client.publish(topics.cmd("dev-a"), b"marker", qos=1).wait_for_publish(5)
    wait_for(lambda: a.messages, what="marker on dev-a's own cmd topic")
    assert a.messages == [(topics.cmd("dev-a"), b"marker")]
    assert b.messages == [(topics.cmd("dev-b"), b"for b")]
    assert (topics.event("dev-b"), b"spoofed") not in hub.messages
    assert (topics.cmd("dev-b"), b"fake command") not in hub.messages
    assert (topics.event("dev-a"), b"mine") in hub.messages


def test_revocation_disconnects_the_device_and_keeps_the_others(
        broker: GeneratedBroker) -> None:
    hub = central(broker)
    hub.subscribe(topics.all_devices("event"))
    a, b = dev(broker, "dev-a"), dev(broker, "dev-b")
    assert a.accepted and b.accepted
    assert revoke(broker.db, "dev-a", "test")
    broker.reload()
    # Mosquitto 2 re-checks connected clients against the new password file on reload
    # and disconnects those whose account is gone: the revoked device is out at once.
    wait_for(lambda: a.disconnects, timeout=10, what="revoked device disconnected")
    a.client.publish(topics.event("dev-a"), b"after revocation", qos=1)
    b.client.publish(topics.event("dev-b"), b"still here", qos=1).wait_for_publish(5)
    wait_for(lambda: (topics.event("dev-b"), b"still here") in hub.messages,
             what="the other device's event after the reload")
    assert not b.disconnects and len(b.connack) == 1, "the other device was dropped"
    assert not hub.disconnects and len(hub.connack) == 1, "central was dropped"
    assert (topics.event("dev-a"), b"after revocation") not in hub.messages
    assert not dev(broker, "dev-a").accepted, "a revoked device reconnected"
    assert account(broker.db, "dev-a")["revoked_by"] == "test"  # type: ignore[index]


def test_rotation_retires_the_old_password(broker: GeneratedBroker) -> None:
    old = dev(broker, "dev-b")
    assert old.accepted
    assert set_password(broker.db, "dev-b", "dev-b-new-password") == 2
    broker.reload()
    wait_for(lambda: old.disconnects, what="session with the old password dropped")
    wait_for(lambda: dev(broker, "dev-b", "dev-b-new-password").accepted,
             what="the new password accepted")
    assert not dev(broker, "dev-b").accepted
