"""``alarmlink central ingest-worker``: ingest on PostgreSQL, any number of processes.

Each worker is one process with its own broker account (the broker binds client id =
user name, so each needs its own ``central``-role account: ``alarmlink central
broker-user``/``central credentials``) and one PostgreSQL connection. The workers share
the device topics through MQTT 5 shared subscriptions, ``$share/<group>/alarmlink/v1/
dev/+/event`` and the other inbound channels: the broker hands each message to ONE worker
of the group. Adding a worker is a configuration change: one more account, one more
config file, one more process.

What each worker guarantees is what central's own ingest does, through the same code
(:class:`central.ingest.Ingestor` on :class:`central.db.pg_store.PgDatabase`):

* clean sessions: a dead worker leaves no session behind to collect a share of the
  traffic while nobody reads it. What it held unacknowledged is lost with its session
  or handed to another member of the group (broker-dependent); either way the device
  resends every event until it gets its ``stored`` receipt;
* the PUBACK is sent only after the batch's commit (``manual_ack``) and the ``stored``
  receipt published only after it too;
* storage ignores a repeated ``event_id`` (the venue's advisory lock makes the check and
  the insert one step across workers), so a message delivered twice is stored once.

The config (TOML)::

    database_url = "postgresql://alarmlink@db.example:5432/alarmlink"  # PGPASSWORD
    share_group = "ingest"
    snapshot_dir = "/var/lib/alarmlink/snapshots"

    [broker]
    url = "mqtt://broker.example:1883"
    username = "ingest-1"
    password_file = "/etc/alarmlink/ingest-1.password"
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import tomllib
from pathlib import Path
from types import FrameType
from typing import Any, cast

import paho.mqtt.client as mqtt
from pydantic import Field, ValidationError, field_validator
from sqlite_utils import Database

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.config_base import ConfigError, StrictModel, describe_errors
from alarmlink.mqtt import MqttClient
from alarmlink.wire import Topics
from central.db import Writer
from central.db.pg_migrate import PgError, redact
from central.db.pg_store import PgDatabase
from central.ingest import Ingestor
from central.ingest_queue import Delivery, IngestQueue
from central.mqtt_bridge import RECEIVE_MAXIMUM
from central.snapshots import SnapshotFiles

logger = logging.getLogger(__name__)

#: The inbound channels a worker takes (live-session signalling stays with central serve).
#: Exit code of a worker that lost its database connection (systemd: Restart=on-failure).
EXIT_DATABASE_LOST = 3
WORKER_CHANNELS = {"event": 1, "status": 1, "heartbeat": 1, "cmd/result": 1, "snapshot/+": 1}


class IngestWorkerConfig(StrictModel):
    """One ingest worker's TOML config."""

    database_url: str = Field(
        description="postgresql://USER@HOST:PORT/DB of central's database (the password: "
                    "PGPASSWORD or ~/.pgpass, never in the file)")
    share_group: str = Field(
        "ingest", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="Shared-subscription group: the workers of one group share the traffic")
    snapshot_dir: Path = Field(
        Path("/var/lib/alarmlink/snapshots"),
        description="Where snapshot JPEGs are written (shared storage for every worker)")
    broker: BrokerConfig = Field(description="This worker's broker account (its own)")

    @field_validator("database_url")
    @classmethod
    def _postgresql(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (ingest workers share PostgreSQL; "
                             "a single SQLite central ingests by itself)")
        return value


def load_worker_config(path: Path) -> IngestWorkerConfig:
    """Read and validate a worker's TOML. Raises :class:`ConfigError` naming file and key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return IngestWorkerConfig.model_validate(raw, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise ConfigError([f"{path}: {line}" for line in
                           describe_errors(exc, IngestWorkerConfig, data=raw)]) from None


class IngestWorker:
    """One worker: a clean MQTT 5 session on the shared subscriptions, one writer thread
    on PostgreSQL, the batching ingest queue, PUBACK after commit."""

    def __init__(self, config: IngestWorkerConfig) -> None:
        self.config = config
        self.db = PgDatabase.connect(config.database_url)
        self.writer = Writer(cast(Database, self.db), name="ingest-worker")
        self.topics = Topics(config.broker.topic_prefix)
        self.client = MqttClient(config.broker, name=f"ingest {config.broker.username}",
                                 clean=True, manual_ack=True,
                                 receive_maximum=RECEIVE_MAXIMUM)
        self.ingestor = Ingestor(self.writer, self.topics, self.publish,
                                 snapshot_files=SnapshotFiles(config.snapshot_dir))
        self.ingestor.publish_stored = self.publish_qos0
        self.queue = IngestQueue(self.writer, self._handle_batch)
        self.ingestor.should_yield = self.queue.alarm_waiting  # long batches let alarms by
        for channel, qos in WORKER_CHANNELS.items():
            self.client.subscribe(self.shared(channel), self._on_message, qos)

    def _handle_batch(self, deliveries: list[Delivery]) -> int | None:
        """Ingest a batch; with the database connection lost, exit before any PUBACK."""
        handled = self.ingestor.handle_batch(deliveries)
        exit_if_database_lost(self.db, f"ingest worker {self.config.broker.username}",
                              self.config.database_url, len(deliveries))
        return handled

    def shared(self, channel: str) -> str:
        """The shared-subscription filter of ``channel`` for this worker's group."""
        return f"$share/{self.config.share_group}/{self.topics.all_devices(channel)}"

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1, retain=False)

    def publish_qos0(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=0, retain=False)

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        self.queue.put(Delivery(message.topic, bytes(message.payload),
                                self.client.acker(message)))

    def start(self) -> None:
        self.client.start()

    def wait_ready(self, timeout: float) -> bool:
        return self.client.wait_ready(timeout)

    def stop(self) -> None:
        """Disconnect (what was not acknowledged goes to the other workers), then close."""
        self.client.stop()
        self.writer.close()


def exit_if_database_lost(db: PgDatabase, who: str, url: str, pending: int) -> None:
    """After a batch: with the PostgreSQL connection lost, exit with
    :data:`EXIT_DATABASE_LOST` before any PUBACK of it (an ingest worker, a central node).

    Nothing of the batch was stored (its commit failed, and so did each message's retry
    and dead letter): no PUBACK may follow. Exiting is what a kill does: the broker drops
    the clean session, the devices resend to the other members of the shared
    subscription, and the service manager starts the process again.
    """
    if not db.broken:
        return
    logger.critical("%s lost its PostgreSQL connection (%s): exiting with code %d without "
                    "acknowledging %d message(s); check the database, the service manager "
                    "restarts it", who, redact(url), EXIT_DATABASE_LOST, pending)
    logging.shutdown()
    os._exit(EXIT_DATABASE_LOST)


def add_ingest_worker_command(commands: Any) -> None:
    worker = commands.add_parser(
        "ingest-worker", help="ingest device messages into PostgreSQL (one of N workers)",
        description="Take a share of the devices' messages (MQTT 5 shared subscription) and "
                    "store them in PostgreSQL. Run one per broker account; add workers to "
                    "scale.")
    worker.add_argument("--config", type=Path, required=True, help="the worker's TOML config")
    worker.set_defaults(func=cmd_ingest_worker)


def cmd_ingest_worker(args: argparse.Namespace) -> int:
    try:
        config = load_worker_config(args.config)
        worker = IngestWorker(config)
    except (ConfigError, PgError) as exc:
        print(f"alarmlink central: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.start()
    if worker.wait_ready(30):
        print(f"alarmlink central: ingest worker {config.broker.username} ready (group "
              f"{config.share_group}, {redact(config.database_url)})", flush=True)
    else:
        logger.error("ingest worker %s: not subscribed yet: %s", config.broker.username,
                     worker.client.last_error or "broker unreachable; still retrying")
    done.wait()
    worker.stop()
    return 0
