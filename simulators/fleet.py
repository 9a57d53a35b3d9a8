"""A simulated fleet: thousands of devices from a few processes, real MQTT, real contract.

Each device is a real MQTT connection with its own account (the broker binds the client
id to the user name), a retained ``offline`` last will, a retained ``online`` status on
every connect, heartbeats at QoS 0, and optionally fire alarms at QoS 1 whose ``stored``
receipts it waits for (latency and loss are reported). One process drives its devices
from ONE thread with ``epoll`` (``selectors``) and paho's external-loop calls
(``loop_read``/``loop_write``/``loop_misc``): no thread per client, and no ``select()``
limit of 1024 sockets. Only the TCP connects run on a few threads (:data:`CONNECT_THREADS`):
a connect is blocking, and a handshake the broker's full accept queue dropped waits for
the kernel's SYN retry (1 s, then 3 s...), which must delay that device alone, as it
would a real agent, not the 1,500 others of its process.

Heartbeat modes:

``agent``
    as the real agent does it: the first heartbeat within the first 20 % of the interval
    after a connect, then every interval ±20 % (:data:`alarmlink.mqtt.reasons.JITTER`);
    reconnects with the agent's jittered backoff.
``spread``
    evenly spread over the interval, no jitter (the kindest case for central).
``burst``
    every device at the same instant every interval (a fleet in step: the worst case).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import random
import selectors
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from pydantic import SecretStr

from alarmlink import wire
from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt import make_client
from alarmlink.mqtt.reasons import JITTER, Backoff, jittered

logger = logging.getLogger(__name__)

Mode = Literal["agent", "spread", "burst"]
#: TCP connects in progress at once per process (each blocks until the handshake ends).
CONNECT_THREADS = 32
#: :attr:`_Device.fd` of a device whose connect is in progress on a connect thread.
CONNECTING = -2


@dataclass
class FleetPlan:
    """What every process of the fleet does."""

    url: str
    heartbeat_s: float = 15.0
    mode: Mode = "agent"
    #: Seconds between fire alarms raised by each process (0: none).
    alarm_every_s: float = 0.0
    keepalive_s: int = 60
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0


@dataclass
class Stats:
    """One process's counters, sent to the parent every second or so."""

    worker: int
    devices: int = 0
    connected: int = 0
    connects: int = 0
    drops: int = 0
    heartbeats: int = 0
    alarms: int = 0
    stored: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    done: bool = False


class _Device:
    __slots__ = ("backoff", "client", "connected", "fd", "id", "next_beat", "retry_at",
                 "started")

    def __init__(self, device_id: str, client: mqtt.Client, backoff: Backoff) -> None:
        self.id = device_id
        self.client = client
        self.backoff = backoff
        self.connected = False
        self.fd = -1
        self.next_beat = float("inf")
        self.retry_at = 0.0
        self.started = time.monotonic()


class FleetWorker:
    """Drives ``creds`` devices from one thread until ``stop`` is set."""

    def __init__(self, index: int, plan: FleetPlan, creds: list[tuple[str, str]],
                 stop: Any, report: Any) -> None:
        self.index = index
        self.plan = plan
        self.stop = stop
        self.report = report
        self.topics = wire.Topics()
        self.sel = selectors.DefaultSelector()
        self.rng = random.Random()
        self.stats = Stats(index, devices=len(creds))
        self.pending: dict[str, float] = {}  # event_id -> publish time
        self.connector = ThreadPoolExecutor(CONNECT_THREADS, thread_name_prefix="connect")
        #: Connects the connect threads finished: (device, socket connected).
        self.handshakes: queue.SimpleQueue[tuple[_Device, bool]] = queue.SimpleQueue()
        self.devices = [self._device(d, pw) for d, pw in creds]
        endpoint = BrokerConfig(url=plan.url, username="fleet")
        self.host, self.port = endpoint.host, endpoint.port

    def _device(self, device_id: str, password: str) -> _Device:
        config = BrokerConfig(url=self.plan.url, username=device_id,
                              password=SecretStr(password), session_expiry_s=0,
                              keepalive_s=self.plan.keepalive_s)
        client = make_client(config, clean=True)
        dev = _Device(device_id, client,
                      Backoff(self.plan.reconnect_min_s, self.plan.reconnect_max_s, self.rng))
        client.will_set(self.topics.status(device_id), wire.encode(wire.Status(
            state=wire.Availability.OFFLINE, ts=wire.utcnow())), qos=1, retain=True)
        client.on_connect = lambda _c, _u, _f, reason, _p: self._connected(dev, reason)
        client.on_disconnect = lambda *_a: self._dropped(dev)
        client.on_message = lambda _c, _u, msg: self._receipt(msg)
        return dev

    # --- callbacks (this thread) ---------------------------------------------------

    def _connected(self, dev: _Device, reason: Any) -> None:
        if reason.is_failure:
            logger.warning("%s refused: %s", dev.id, reason)
            return
        dev.connected = True
        dev.backoff.reset()
        self.stats.connects += 1
        now = time.monotonic()
        client = dev.client
        client.publish(self.topics.status(dev.id), wire.encode(wire.Status(
            state=wire.Availability.ONLINE, ts=wire.utcnow(), boot_id=f"fleet-{self.index}",
            version="fleet")), qos=1, retain=True)
        if self.plan.alarm_every_s > 0:
            client.subscribe(self.topics.receipt(dev.id), qos=1)
        interval = self.plan.heartbeat_s
        if self.plan.mode == "agent":
            dev.next_beat = now + self.rng.uniform(0.0, JITTER * interval)
        elif self.plan.mode == "spread":
            dev.next_beat = now + self.rng.uniform(0.0, interval)
        else:  # burst: all on the same grid
            dev.next_beat = (now // interval + 1) * interval

    def _dropped(self, dev: _Device) -> None:
        if dev.connected:
            self.stats.drops += 1
        dev.connected = False
        dev.next_beat = float("inf")
        if dev.fd >= 0:
            self.sel.unregister(dev.fd)
            dev.fd = -1
        dev.retry_at = time.monotonic() + dev.backoff.next_delay()

    def _receipt(self, msg: mqtt.MQTTMessage) -> None:
        try:
            receipt = wire.decode(wire.Receipt, bytes(msg.payload))
        except wire.ContractError:
            return
        sent = self.pending.pop(receipt.event_id, None)
        if sent is not None and receipt.stage == wire.Stage.STORED:
            self.stats.stored += 1
            self.stats.latencies_ms.append((time.monotonic() - sent) * 1000)

    # --- the loop ------------------------------------------------------------------

    def _connect(self, dev: _Device) -> None:
        dev.fd = CONNECTING
        self.connector.submit(self._handshake, dev)

    def _handshake(self, dev: _Device) -> None:
        """On a connect thread: the TCP connect and the CONNECT packet queued."""
        try:
            dev.client.connect(self.host, self.port, self.plan.keepalive_s)
        except OSError:
            self.handshakes.put((dev, False))
            return
        self.handshakes.put((dev, True))

    def _connected_sockets(self) -> None:
        """Take over the sockets the connect threads opened (this thread reads them)."""
        while True:
            try:
                dev, ok = self.handshakes.get_nowait()
            except queue.Empty:
                return
            sock = dev.client.socket() if ok else None
            if sock is None:
                dev.fd = -1
                dev.retry_at = time.monotonic() + dev.backoff.next_delay()
                continue
            dev.fd = sock.fileno()
            self.sel.register(dev.fd, selectors.EVENT_READ, dev)

    def run(self) -> None:
        for dev in self.devices:
            self._connect(dev)
        last_misc = last_report = last_alarm = time.monotonic()
        while not self.stop.is_set():
            for key, _mask in self.sel.select(0.02):
                dev = key.data
                if dev.client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS and dev.fd >= 0:
                    self._dropped(dev)
            self._connected_sockets()
            now = time.monotonic()
            for dev in self.devices:
                if dev.connected and now >= dev.next_beat:
                    self._beat(dev, now)
                elif dev.fd == -1 and now >= dev.retry_at:
                    self._connect(dev)
                if dev.fd >= 0 and dev.client.want_write():
                    dev.client.loop_write()
            if self.plan.alarm_every_s > 0 and now - last_alarm >= self.plan.alarm_every_s:
                last_alarm = now
                self._alarm(now)
            if now - last_misc >= 1.0:
                last_misc = now
                for dev in self.devices:
                    if dev.fd >= 0 and dev.client.loop_misc() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        self._dropped(dev)
            if now - last_report >= 1.0:
                last_report = now
                self._report()
        self.connector.shutdown(wait=True)
        self._connected_sockets()
        for dev in self.devices:
            if dev.fd >= 0:
                dev.connected = False  # a deliberate stop, not a drop
                dev.client.disconnect()
                dev.client.loop_write()
        self.stats.done = True
        self._report()

    def _beat(self, dev: _Device, now: float) -> None:
        interval = self.plan.heartbeat_s
        if self.plan.mode == "agent":
            dev.next_beat = now + jittered(interval, self.rng)
        else:
            dev.next_beat += interval
        beat = wire.Heartbeat(ts=wire.utcnow(), uptime_s=now - dev.started, outbox_depth=0)
        dev.client.publish(self.topics.heartbeat(dev.id), wire.encode(beat), qos=0)
        self.stats.heartbeats += 1

    def _alarm(self, now: float) -> None:
        up = [dev for dev in self.devices if dev.connected]
        if not up:
            return
        dev = self.rng.choice(up)
        event = wire.Event(event_id=wire.new_id(), device_id=dev.id, seq=self.stats.alarms + 1,
                           ts=wire.utcnow(), kind=wire.Kind.FIRE, state=wire.State.ALARM,
                           zone="z1", source=wire.Source.GPIO)
        self.pending[event.event_id] = now
        dev.client.publish(self.topics.event(dev.id), wire.encode(event), qos=1)
        self.stats.alarms += 1

    def _report(self) -> None:
        self.stats.connected = sum(1 for dev in self.devices if dev.connected)
        self.report.put(self.stats)
        self.stats = Stats(self.index, devices=len(self.devices), done=self.stats.done)


def _worker_main(index: int, plan: FleetPlan, creds: list[tuple[str, str]], stop: Any,
                 report: Any) -> None:
    logging.basicConfig(level=logging.ERROR)
    # A broker restart drops thousands at once: paho's "failed to receive" for each would
    # bury the bench's output (the drops are counted in the stats instead).
    logging.getLogger("alarmlink.mqtt.factory.paho").setLevel(logging.CRITICAL)
    FleetWorker(index, plan, creds, stop, report).run()


class Fleet:
    """Starts the worker processes; :meth:`poll` sums what they reported."""

    def __init__(self, plan: FleetPlan, creds: list[tuple[str, str]], processes: int) -> None:
        ctx = mp.get_context("spawn")  # no inherited threads or sockets
        self.stop_event = ctx.Event()
        self.queue: Any = ctx.Queue()
        self.procs = [ctx.Process(target=_worker_main, daemon=True,
                                  args=(k, plan, creds[k::processes], self.stop_event,
                                        self.queue)) for k in range(processes)]
        self.connected: dict[int, int] = {}
        self.totals = Stats(-1, devices=len(creds))
        self.finished: set[int] = set()

    def start(self) -> None:
        for proc in self.procs:
            proc.start()

    def poll(self, timeout: float = 0.5) -> None:
        """Take in the workers' reports for up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                got: Stats = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            self.connected[got.worker] = got.connected
            t = self.totals
            t.connects += got.connects
            t.drops += got.drops
            t.heartbeats += got.heartbeats
            t.alarms += got.alarms
            t.stored += got.stored
            t.latencies_ms += got.latencies_ms
            if got.done:
                self.finished.add(got.worker)
            if time.monotonic() >= deadline:
                return

    @property
    def online(self) -> int:
        return sum(self.connected.values())

    def close(self, timeout: float = 20.0) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        while len(self.finished) < len(self.procs) and time.monotonic() < deadline:
            self.poll(0.5)
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)
