"""A real Mosquitto that refuses subscriptions: authorisation by the dynamic-security plugin.

Mosquitto 2.0's ``acl_file`` grants every SUBSCRIBE and checks read access only when
a message is delivered, so it never produces a refused SUBACK. The dynamic-security
plugin (shipped in Debian's ``mosquitto`` package) checks the subscription itself and
answers a denied one with reason 0x87 (MQTT 5) or 0x80 (3.1.1).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import shutil

import pytest

from alarmlink.broker import BROKER_USER, BrokerUser, MosquittoBroker
from alarmlink.wire import Topics

PLUGIN_GLOBS = ["/usr/lib/*/mosquitto_dynamic_security.so",
                "/usr/lib/mosquitto_dynamic_security.so",
                "/usr/local/lib/mosquitto_dynamic_security.so"]
#: (dynsec ACL type, topic) pairs.
Acl = tuple[str, str]
ALLOW_ALL: list[Acl] = [("publishClientSend", "#"), ("publishClientReceive", "#"),
                        ("subscribePattern", "#")]


def device_acls(device_id: str, topics: Topics, *, receipt: bool = True,
                cmd: bool = True) -> list[Acl]:
    """What the generated acl_file gives a device, with ``receipt``/``cmd`` optional."""
    acls: list[Acl] = [("publishClientSend", f"{topics.prefix}/dev/{device_id}/#"),
                       ("publishClientReceive", f"{topics.prefix}/dev/{device_id}/#")]
    if receipt:
        acls.append(("subscribeLiteral", topics.receipt(device_id)))
    if cmd:
        acls.append(("subscribeLiteral", topics.cmd(device_id)))
    return acls


def plugin_path() -> str:
    for pattern in PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    pytest.fail("mosquitto_dynamic_security.so not found: install the 'mosquitto' package")


def _client(user: BrokerUser) -> dict[str, object]:
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", user.password.encode(), salt, 101, 64)
    return {"username": user.username, "password": base64.b64encode(digest).decode(),
            "salt": base64.b64encode(salt).decode(), "iterations": 101,
            "roles": [{"rolename": user.username}]}


def dynsec_broker(accounts: dict[BrokerUser, list[Acl]]) -> MosquittoBroker:
    """A MosquittoBroker (not started; its own workdir under /tmp, which Mosquitto can
    reach after dropping root) whose accounts may do exactly ``accounts[user]``."""
    broker = MosquittoBroker(list(accounts))
    config = {
        "clients": [_client(user) for user in accounts],
        "groups": [],
        "roles": [{"rolename": user.username,
                   "acls": [{"acltype": kind, "topic": topic, "allow": True}
                            for kind, topic in acls]}
                  for user, acls in accounts.items()],
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
    }
    dynsec = broker.workdir / "dynamic-security.json"
    dynsec.write_text(json.dumps(config))
    os.chmod(dynsec, 0o600)
    if os.geteuid() == 0:  # Mosquitto reads (and rewrites) it as the user it drops root for
        shutil.chown(dynsec, BROKER_USER, BROKER_USER)
    conf = broker.workdir / "mosquitto.conf"
    lines = [line for line in conf.read_text().splitlines()
             if not line.startswith(("password_file ", "acl_file "))]
    lines += [f"plugin {plugin_path()}", f"plugin_opt_config_file {dynsec}"]
    conf.write_text("\n".join(lines) + "\n")
    return broker
