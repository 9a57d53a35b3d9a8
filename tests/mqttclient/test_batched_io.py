"""alarmlink.mqtt.batched_io: bulk reads and joined writes change nothing paho does."""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from helpers import CENTRAL_USER, wait_for
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from alarmlink.broker import MosquittoBroker
from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt import MqttClient, paho_client
from alarmlink.mqtt.batched_io import BatchedIoClient
from alarmlink.wire import Topics

TOPICS = Topics()


class ChunkedSocket:
    """A socket whose ``recv`` returns the stream in the given chunk sizes."""

    def __init__(self, data: bytes, chunks: list[int]) -> None:
        self.data = data
        self.chunks = chunks
        self.pos = 0

    def close(self) -> None:  # paho closes its socket when the client goes
        self.pos = len(self.data)

    def recv(self, bufsize: int) -> bytes:
        if self.pos >= len(self.data):
            raise BlockingIOError
        size = min(bufsize, self.chunks.pop(0) if self.chunks else bufsize)
        part = self.data[self.pos:self.pos + max(1, size)]
        self.pos += len(part)
        return part


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000),
       chunks=st.lists(st.integers(1, 4000), max_size=20),
       asks=st.lists(st.integers(1, 700), min_size=1, max_size=50))
def test_small_reads_from_the_buffer_give_back_the_exact_stream(
        data: bytes, chunks: list[int], asks: list[int]) -> None:
    client = paho_client(batched_io=True)
    assert isinstance(client, BatchedIoClient)
    client._sock = ChunkedSocket(data, chunks)  # type: ignore[assignment]
    got = b""
    for n in asks * (len(data) + 1):
        try:
            part = client._sock_recv(n)
        except BlockingIOError:
            break
        assert 0 < len(part) <= n
        got += part
    assert got == data


def _properties(expiry: int | None, content_type: str | None,
                user: list[tuple[str, str]]) -> bytes:
    props = Properties(PacketTypes.PUBLISH)
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    if content_type is not None:
        props.ContentType = content_type
    if user:
        props.UserProperty = user
    return bytes(props.pack())


def _handled(client: mqtt.Client, header: int, body: bytes) -> tuple[Any, ...]:
    """What ``client`` makes of one received PUBLISH: its result (or error), the
    message's fields and what it queued to send (a PUBACK)."""
    seen: list[Any] = []
    client.on_message = lambda _c, _u, message: seen.append(message)
    client._in_packet = {"command": header, "packet": bytearray(body)}
    try:
        result: Any = client._handle_publish()
    except Exception as exc:  # paho's own error for a malformed packet
        result = type(exc).__name__
    fields = [(m._topic, m.payload, m.qos, m.mid, m.dup, m.retain,
               m.properties.json() if m.properties is not None else None) for m in seen]
    queued = [bytes(p["packet"]) for p in client._out_packet]
    return result, fields, queued


@settings(max_examples=300, deadline=None)
@given(topic=st.binary(max_size=80), qos=st.integers(0, 2), mid=st.integers(1, 65535),
       dup=st.booleans(), retain=st.booleans(), manual=st.booleans(),
       payload=st.binary(max_size=300),
       properties=st.one_of(st.just(b"\x00"), st.builds(
           _properties, st.one_of(st.none(), st.integers(0, 2**32 - 1)),
           st.one_of(st.none(), st.text(max_size=20)),
           st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=2))),
       cut=st.one_of(st.none(), st.integers(0, 120)))
def test_a_publish_is_received_exactly_as_paho_receives_it(
        topic: bytes, qos: int, mid: int, dup: bool, retain: bool, manual: bool,
        payload: bytes, properties: bytes, cut: int | None) -> None:
    """The fast path for PUBLISH packets without properties gives the same message, the
    same PUBACK and the same errors as paho's own decoding, for any packet (also with
    properties, QoS 2, invalid UTF-8 topics and packets cut short)."""
    header = 0x30 | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = (len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
            + properties + payload)
    if cut is not None:
        body = body[:cut]
    clients = []
    for batched in (True, False):
        client = paho_client(batched_io=batched)
        client.manual_ack_set(manual)
        clients.append(client)
    assert _handled(clients[0], header, body) == _handled(clients[1], header, body)


def _remaining(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


_publishes = st.builds(
    lambda topic, qos, mid, flags, props, payload: (
        0x30 | flags | (qos << 1),
        len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
        + props + payload),
    st.binary(max_size=40), st.integers(0, 2), st.integers(1, 65535),
    st.sampled_from([0, 0x01, 0x08, 0x09]),
    st.one_of(st.just(b"\x00"), st.builds(_properties, st.integers(0, 99), st.none(),
                                          st.just([])), st.just(b"\x05")),
    st.binary(max_size=400))
_packets = st.one_of(_publishes, st.just((0xD0, b"")),  # a PINGRESP
                     st.builds(lambda b: (0x30, b), st.binary(max_size=6)))  # malformed


def _stream_read(client: mqtt.Client, stream: bytes, chunks: list[int]) -> tuple[Any, ...]:
    """Everything ``client`` makes of ``stream`` read in ``chunks``: each read's result,
    the messages, what it queued to send."""
    seen: list[Any] = []
    client.on_message = lambda _c, _u, message: seen.append(message)
    client._sock = ChunkedSocket(stream, list(chunks))  # type: ignore[assignment]
    results = []
    for _ in range(len(stream) + 2):
        try:
            rc = client._packet_read()
        except Exception as exc:  # paho's own error for a malformed packet
            results.append(type(exc).__name__)
            break
        results.append(rc)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            break
    fields = [(m._topic, m.payload, m.qos, m.mid, m.dup, m.retain,
               m.properties.json() if m.properties is not None else None) for m in seen]
    # (the bytes queued to send, joined or not: the fake socket cannot send)
    return results, fields, b"".join(bytes(p["packet"]) for p in client._out_packet)


@settings(max_examples=200, deadline=None)
@given(packets=st.lists(_packets, min_size=1, max_size=12),
       chunks=st.lists(st.integers(1, 600), max_size=12), cut=st.integers(0, 3),
       manual=st.booleans())
def test_a_stream_read_from_the_buffer_is_received_exactly_as_paho_reads_it(
        packets: list[tuple[int, bytes]], chunks: list[int], cut: int,
        manual: bool) -> None:
    """Publishes parsed straight from the read buffer, between packets paho reads itself
    (pings, QoS 2, properties, malformed ones), over reads split anywhere and a stream
    cut short: the same messages, PUBACKs, results and errors as paho's reading."""
    stream = b"".join(bytes([h]) + _remaining(len(b)) + b for h, b in packets)
    stream = stream[:len(stream) - cut]
    got = []
    for batched in (True, False):
        client = paho_client(batched_io=batched)
        client.manual_ack_set(manual)
        got.append(_stream_read(client, stream, chunks))
    assert got[0] == got[1]


class CountingSocket:
    def __init__(self) -> None:
        self.sent = 0

    def send(self, _data: bytes) -> int:
        self.sent += 1
        return 1

    def close(self) -> None:  # paho closes its wake-up pair when the client goes
        pass


def test_only_the_packet_that_finds_the_queue_empty_wakes_the_network_thread() -> None:
    client = paho_client(batched_io=True)
    wake = CountingSocket()
    client._sockpairW = wake  # type: ignore[assignment]
    client._thread = threading.current_thread()  # as if loop_start() ran: queue only
    for mid in range(1, 101):
        client._packet_queue(0x40, b"\x40\x02" + mid.to_bytes(2, "big"), mid, 0)
    assert wake.sent == 1 and len(client._out_packet) == 100
    client._out_packet.clear()  # written by the network thread
    client._packet_queue(0x40, b"\x40\x02\x00\x01", 1, 0)
    assert wake.sent == 2, "a packet that finds the queue empty wakes it again"


def test_a_new_socket_drops_the_old_ones_buffered_bytes() -> None:
    client = paho_client(batched_io=True)
    client._sock = ChunkedSocket(b"old-bytes", [])  # type: ignore[assignment]
    assert client._sock_recv(1) == b"o"
    client._sock = ChunkedSocket(b"new", [])  # type: ignore[assignment]
    assert client._sock_recv(3) == b"new"


def _packet(command: int, qos: int, data: bytes) -> dict[str, Any]:
    return {"command": command, "mid": 1, "qos": qos, "pos": 0, "to_process": len(data),
            "packet": data, "info": None}


class Info:
    """Stands in for paho's MQTTMessageInfo: notes when it is marked published."""

    def __init__(self) -> None:
        self.published = False

    def _set_as_published(self) -> None:
        self.published = True


def test_packets_are_joined_unless_something_must_follow_their_own_write() -> None:
    client = paho_client(batched_io=True)
    assert isinstance(client, BatchedIoClient)
    puback, qos1, qos0, disconnect = 0x40, 0x32, 0x30, 0xE0
    receipt = _packet(qos0, 0, b"D")
    receipt["info"] = Info()
    for packet in (_packet(puback, 0, b"A"), _packet(puback, 0, b"B"), _packet(qos1, 1, b"C"),
                   receipt, _packet(puback, 0, b"E"), _packet(disconnect, 0, b"F"),
                   _packet(puback, 0, b"G")):
        client._out_packet.append(packet)  # type: ignore[arg-type]
    client._join_queued()
    out = list(client._out_packet)
    assert [p["packet"] for p in out] == [b"ABCDE", b"F", b"G"]  # DISCONNECT alone
    assert out[0]["to_process"] == 5 and out[0]["pos"] == 0
    # paho's write loop marks a written QoS 0 publish: the joined packet says it is one
    assert (out[0]["command"] & 0xF0, out[0]["qos"]) == (qos0, 0)
    assert not receipt["info"].published
    out[0]["info"]._set_as_published()  # type: ignore[union-attr]
    assert receipt["info"].published


def test_a_qos0_publish_with_on_publish_is_written_alone() -> None:
    client = paho_client(batched_io=True)
    assert isinstance(client, BatchedIoClient)
    client.on_publish = lambda *_args: None
    for packet in (_packet(0x40, 0, b"A"), _packet(0x30, 0, b"B"), _packet(0x40, 0, b"C")):
        client._out_packet.append(packet)  # type: ignore[arg-type]
    client._join_queued()
    assert [p["packet"] for p in client._out_packet] == [b"A", b"B", b"C"]


def test_joined_receipts_reach_the_wire_and_are_marked_published() -> None:
    """paho's own write loop over a joined run of QoS 0 publishes: one send, every
    publish's MQTTMessageInfo published."""
    client = paho_client(batched_io=True)
    assert isinstance(client, BatchedIoClient)
    sent: list[bytes] = []

    class Wire:
        def send(self, data: bytes) -> int:
            sent.append(bytes(data))
            return len(data)

    client._sock = Wire()  # type: ignore[assignment]
    infos = [mqtt.MQTTMessageInfo(n) for n in range(1, 4)]
    for n, info in enumerate(infos):
        packet = _packet(0x30, 0, b"R%d" % n)
        packet["info"] = info
        client._out_packet.append(packet)  # type: ignore[arg-type]
    assert client._packet_write() == mqtt.MQTT_ERR_SUCCESS
    assert sent == [b"R0R1R2"]
    assert all(info.is_published() for info in infos)


def test_a_partly_written_packet_is_left_as_it_is() -> None:
    client = paho_client(batched_io=True)
    assert isinstance(client, BatchedIoClient)
    first = _packet(0x40, 0, b"AB")
    first["pos"], first["to_process"] = 1, 1
    client._out_packet.extend([first, _packet(0x40, 0, b"C")])  # type: ignore[list-item]
    client._join_queued()
    assert [p["packet"] for p in client._out_packet] == [b"AB", b"C"]


@pytest.mark.broker
def _central_and_device(url: str, on_message: Any) -> tuple[MqttClient, MqttClient]:
    """Central's connection (every device's events to ``on_message``) and school-01's,
    not started."""
    central = MqttClient(BrokerConfig(url=url, username="central",
                                      password=CENTRAL_USER.password), name="central",
                         clean=True)
    central.subscribe(TOPICS.all_devices("event"), on_message, 1)
    device = MqttClient(BrokerConfig(url=url, username="school-01", password="school-01-pw"),
                        clean=True)
    return central, device


def test_thousands_of_messages_of_every_size_arrive_whole_and_in_order(
        fresh_mosquitto: MosquittoBroker) -> None:
    """Both ends batched: a device's 3,000 QoS 1 events (1 byte to 200 KB) reach central's
    connection whole and in order, and every publish is acknowledged."""
    url = fresh_mosquitto.url
    got: list[bytes] = []
    lock = threading.Lock()

    def on_message(message: Any) -> None:
        with lock:
            got.append(bytes(message.payload))

    central, device = _central_and_device(url, on_message)
    central.start()
    device.start()
    try:
        assert central.wait_ready(15) and device.wait_ready(15)
        sizes = [1 + (n * 7919) % 2000 for n in range(3000)]
        sizes[100] = sizes[2000] = 200_000
        sent = [n.to_bytes(4, "big") + bytes([n % 251]) * size for n, size in enumerate(sizes)]
        infos = [device.publish(TOPICS.event("school-01"), payload, qos=1) for payload in sent]
        wait_for(lambda: len(got) >= len(sent), timeout=60, what="all 3,000 events")
        assert got == sent
        wait_for(lambda: all(info.is_published() for info in infos), timeout=30,
                 what="every PUBACK")
    finally:
        device.stop()
        central.stop()


def test_after_read_runs_on_the_network_thread_once_a_reads_messages_are_handled(
        fresh_mosquitto: MosquittoBroker) -> None:
    """central's MQTT process hands each read's messages over from this hook, so the
    hook must come after the read's messages, on the same thread, every time."""
    url = fresh_mosquitto.url
    got: list[tuple[str, bytes]] = []
    reads: list[tuple[str, int]] = []

    def on_message(message: Any) -> None:
        got.append((threading.current_thread().name, bytes(message.payload)))

    central, device = _central_and_device(url, on_message)
    assert isinstance(central.paho, BatchedIoClient)
    central.paho.after_read = lambda: reads.append((threading.current_thread().name,
                                                    len(got)))
    central.start()
    device.start()
    try:
        assert central.wait_ready(15) and device.wait_ready(15)
        device.publish(TOPICS.event("school-01"), b"one", qos=1)
        wait_for(lambda: any(n == 1 for _t, n in reads), what="a read that saw the message")
        for n in range(500):
            device.publish(TOPICS.event("school-01"), n.to_bytes(2, "big"), qos=1)
        wait_for(lambda: any(n == 501 for _t, n in reads), timeout=30,
                 what="a read after the last message")
        threads = {t for t, _n in got} | {t for t, _n in reads}
        assert len(threads) == 1, f"hook and messages on one thread, not {threads}"
        assert [n for _t, n in reads] == sorted(n for _t, n in reads)
    finally:
        device.stop()
        central.stop()
