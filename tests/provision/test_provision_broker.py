"""Issue 5, line 2: the GENERATED broker config (TLS + auth + ACL) against the real
Mosquitto: confinement, no anonymous access, rotation, and revocation on reload."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fixtures.mqtt import MqttTestClient
from helpers import wait_for
from provision.provision_testkit import GeneratedBroker

from alarmlink.broker import BrokerUser
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
def generated_broker(tmp_path: Path, broker_tmp_path: Path) -> Iterator[GeneratedBroker]:
    """Mosquitto run from the generated config, with central and two device accounts."""
    db = open_db(tmp_path / "central.db")
    add_county(db, County(id="c", name="County"))
    add_station(db, Station(id="s", name="Station", county="c"))
    add_venue(db, Venue(id="v", name="Venue", kind="school", station="s"))
    for device in ("dev-a", "dev-b"):
        add_device(db, Device(id=device, venue="v"))
        set_password(db, device, PASSWORDS[device])
    set_password(db, "central", PASSWORDS["central"], role="central")
    generated = GeneratedBroker(db, broker_tmp_path).start()
    try:
        yield generated
    finally:
        generated.stop()


@dataclass
class Clients:
    """MQTT clients of the generated broker (the shared ``mqtt_test_client``)."""

    broker: GeneratedBroker
    connect: Callable[..., MqttTestClient]

    def dev(self, name: str, password: str | None = None) -> MqttTestClient:
        """A device over TLS (trusting the deployment CA), accepted or not."""
        return self.tls(name, password or PASSWORDS[name])

    def tls(self, username: str, password: str) -> MqttTestClient:
        return self.connect(self.broker.tls_url, BrokerUser(username, password),
                            ca_file=self.broker.dir / "ca.crt")

    def central(self) -> MqttTestClient:
        """Central on the plain listener."""
        return self.connect(self.broker.plain_url, BrokerUser("central", PASSWORDS["central"]))


@pytest.fixture
def clients(generated_broker: GeneratedBroker,
            mqtt_test_client: Callable[..., MqttTestClient]) -> Clients:
    return Clients(generated_broker, mqtt_test_client)


def test_files_are_private_and_hold_no_plaintext(generated_broker: GeneratedBroker) -> None:
    for name in ("passwd", "acl", "ca.key", "server.key", "broker.json"):
        assert (generated_broker.dir / name).stat().st_mode & 0o077 == 0, name
    passwd = (generated_broker.dir / "passwd").read_text()
    assert all(pw not in passwd for pw in PASSWORDS.values())
    assert passwd.count("$7$") == 3
    conf = generated_broker.conf.read_text()
    assert "allow_anonymous false" in conf and "certfile" in conf
    rows = generated_broker.db.execute("SELECT password_hash FROM mqtt_accounts").fetchall()
    assert all(r[0].startswith("$7$") for r in rows)


def test_tls_listener_needs_tls_and_credentials(
        generated_broker: GeneratedBroker, clients: Clients) -> None:
    assert clients.dev("dev-a").accepted
    assert not clients.dev("dev-a", "wrong").accepted
    anonymous = clients.tls("", "")
    assert not anonymous.accepted
    # plain MQTT (no TLS) to the device listener: the broker drops it, no CONNACK
    connacks: list[mqtt.ReasonCode] = []
    drops: list[object] = []
    plain = paho_client()
    plain.username_pw_set("dev-a", PASSWORDS["dev-a"])
    plain.on_connect = lambda c, u, f, rc, p: connacks.append(rc)
    plain.on_disconnect = lambda c, u, f, rc, p: drops.append(rc)
    plain.connect("127.0.0.1", generated_broker.settings.tls_port)
    plain.loop_start()
    wait_for(lambda: drops, what="plain client dropped by the TLS listener")
    plain.loop_stop()
    assert not connacks
    # a client that does not trust the deployment CA refuses the broker
    stranger = paho_client()
    stranger.tls_set(cert_reqs=ssl.CERT_REQUIRED)  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        stranger.connect("127.0.0.1", generated_broker.settings.tls_port)


def test_device_cannot_publish_into_or_read_another_device(
        generated_broker: GeneratedBroker, clients: Clients) -> None:
    hub = clients.central()
    hub.subscribe(f"{topics.prefix}/#")
    a = clients.dev("dev-a")
    a.subscribe(topics.cmd("dev-b"))
    a.subscribe(topics.all_devices("event"))
    a.subscribe(topics.cmd("dev-a"))
    b = clients.dev("dev-b")
    b.subscribe(topics.cmd("dev-b"))
    a.publish(topics.event("dev-b"), b"spoofed", wait=5)
    a.publish(topics.cmd("dev-b"), b"fake command", wait=5)
    a.publish(topics.event("dev-a"), b"mine", wait=5)
    hub.publish(topics.cmd("dev-b"), b"for b", wait=5)
    b.publish(topics.event("dev-b"), b"b event", wait=5)
    wait_for(lambda: len(b.messages) >= 1 and len(hub.messages) >= 3, what="legit traffic")
    # marker last: anything forbidden delivered to dev-a would already be there
    hub.publish(topics.cmd("dev-a"), b"marker", wait=5)
    wait_for(lambda: a.messages, what="marker on dev-a's own cmd topic")
    assert a.messages == [(topics.cmd("dev-a"), b"marker")]
    assert b.messages == [(topics.cmd("dev-b"), b"for b")]
    assert (topics.event("dev-b"), b"spoofed") not in hub.messages
    assert (topics.cmd("dev-b"), b"fake command") not in hub.messages
    assert (topics.event("dev-a"), b"mine") in hub.messages


def test_revocation_disconnects_the_device_and_keeps_the_others(
        generated_broker: GeneratedBroker, clients: Clients) -> None:
    hub = clients.central()
    hub.subscribe(topics.all_devices("event"))
    a, b = clients.dev("dev-a"), clients.dev("dev-b")
    assert a.accepted and b.accepted
    assert revoke(generated_broker.db, "dev-a", "test")
    generated_broker.reload()
    # Mosquitto 2 re-checks connected clients against the new password file on reload
    # and disconnects those whose account is gone: the revoked device is out at once.
    wait_for(lambda: a.disconnects, timeout=10, what="revoked device disconnected")
    a.publish(topics.event("dev-a"), b"after revocation", wait=None)
    b.publish(topics.event("dev-b"), b"still here", wait=5)
    wait_for(lambda: (topics.event("dev-b"), b"still here") in hub.messages,
             what="the other device's event after the reload")
    assert not b.disconnects and len(b.connack) == 1, "the other device was dropped"
    assert not hub.disconnects and len(hub.connack) == 1, "central was dropped"
    assert (topics.event("dev-a"), b"after revocation") not in hub.messages
    assert not clients.dev("dev-a").accepted, "a revoked device reconnected"
    assert account(generated_broker.db, "dev-a")["revoked_by"] == "test"  # type: ignore[index]


def test_rotation_retires_the_old_password(
        generated_broker: GeneratedBroker, clients: Clients) -> None:
    old = clients.dev("dev-b")
    assert old.accepted
    assert set_password(generated_broker.db, "dev-b", "dev-b-new-password") == 2
    generated_broker.reload()
    wait_for(lambda: old.disconnects, what="session with the old password dropped")
    wait_for(lambda: clients.dev("dev-b", "dev-b-new-password").accepted,
             what="the new password accepted")
    assert not clients.dev("dev-b").accepted
