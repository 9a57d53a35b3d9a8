"""A paho client that reads and writes the socket in bulk (:class:`BatchedIoClient`).

paho reads each packet with at least three ``recv`` calls (the command byte, each byte
of the remaining length, the rest) and one ``select`` per packet, and writes each
queued packet with its own ``send``. At thousands of messages a second that is most of
a core spent in system calls and in the loop around them, while holding the GIL that
central's writer needs.

:class:`BatchedIoClient` changes only how bytes reach paho, never what paho does with
them:

* **reading**: one ``recv`` of up to :data:`READ_CHUNK` bytes fills a buffer, and paho's
  small reads are served from it; :meth:`loop_read` goes on while whole packets wait in
  the buffer (no ``select`` per packet). The buffer belongs to one socket: after a
  reconnect the old socket's bytes are dropped, as the old socket is.
* **writing**: consecutive packets are joined and sent with one ``send``: PUBACKs, QoS 1
  publishes, pings, subscribes, and QoS 0 publishes (central's receipts) when no
  ``on_publish`` is set (the joined packet then marks each one published once it is
  written, as paho does). A packet with other work after its write (a QoS 0 publish's
  ``on_publish``, a ``DISCONNECT``) goes through paho's own path, in order.

* **receiving a PUBLISH without MQTT 5 properties** (every message alarmlink sends):
  paho builds a :class:`~paho.mqtt.properties.Properties` for each, whose constructor
  alone fills two tables of every property MQTT 5 defines, and then clears each by name:
  about a third of central's MQTT process's time under a flood. Such a packet is parsed
  here (topic, packet id, the empty property length, payload): straight from the read
  buffer when it is wholly there (:meth:`_packet_read`: no byte-by-byte reads), else
  after paho's read (:meth:`_handle_publish`). The message gets one shared empty
  ``Properties``, and then what paho does follows: ``on_message`` (without paho's walk of
  its per-topic filter tree while no ``message_callback_add`` was ever made), then the
  PUBACK unless acknowledgement is manual. Anything else (MQTT 3.1.1, QoS 2, properties
  present, a malformed packet) goes to paho's own code, which also raises paho's errors.
* **waking the network thread**: paho writes a byte to its wake-up socket pair for every
  packet another thread queues (each receipt, each PUBACK: a system call and a wake-up
  each). Only the packet that finds the queue empty does here: the packets behind it are
  written by the same run of the network thread (it writes until the queue is empty).
* **after a read**: :attr:`BatchedIoClient.after_read`, if set, is called on the network
  thread once every whole packet of a read has been handled (central's MQTT process
  hands that read's messages over at once, with no thread in between).

Both are used by :class:`alarmlink.mqtt.MqttClient` (central, the agents); the bench's
baselines keep plain paho. Tested against a real broker and paho's own behaviour in
``tests/mqttclient/test_batched_io.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

#: Bytes read from the socket at once.
READ_CHUNK = 256 * 1024
#: Most bytes joined into one ``send``.
WRITE_CHUNK = 256 * 1024
_PUBLISH = 0x30
_DISCONNECT = 0xE0


def _parse_publish(header: int, buf: bytes | bytearray, start: int, end: int
                   ) -> tuple[bytes, int, bytes] | None:
    """(topic, packet id, payload) of the MQTT 5 PUBLISH whose body is ``buf[start:end]``,
    of QoS 0 or 1 and with a property length of 0; None for anything else (paho's own
    code then decodes it)."""
    qos = (header & 0x06) >> 1
    if qos > 1 or end - start < 3:
        return None
    topic_end = start + 2 + ((buf[start] << 8) | buf[start + 1])
    pos, mid = topic_end, 0
    if qos:
        if end < pos + 2:
            return None
        mid = (buf[pos] << 8) | buf[pos + 1]
        pos += 2
    if end <= pos or buf[pos] != 0:  # properties, or too short
        return None
    return bytes(buf[start + 2:topic_end]), mid, bytes(buf[pos + 1:end])


class _Published:
    """The ``info`` of joined packets: once they are written, marks each QoS 0 publish
    among them published, as paho does for a QoS 0 publish written alone."""

    __slots__ = ("infos",)

    def __init__(self, infos: list[Any]) -> None:
        self.infos = infos

    def _set_as_published(self) -> None:
        for info in self.infos:
            if info is not None:
                info._set_as_published()


class BatchedIoClient(mqtt.Client):
    """paho's client with bulk socket reads and joined writes (behaviour unchanged)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._rsock: object = None
        #: Called on the network thread after each :meth:`loop_read` (see the module).
        self.after_read: Callable[[], None] | None = None
        self._no_properties = Properties(PacketTypes.PUBLISH)
        #: Whether ``message_callback_add`` was ever used (then paho matches each message).
        self._filtered = False

    def _buffered(self) -> int:
        if self._rsock is not self._sock:  # another connection: the old bytes are gone
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        return len(self._rbuf) - self._rpos

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._buffered() == 0:
            data = super()._sock_recv(max(bufsize, READ_CHUNK))
            if len(data) <= bufsize:  # b"" (closed) or exactly what was asked
                return data
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        end = min(start + bufsize, len(self._rbuf))
        self._rpos = end
        return self._rbuf[start:end]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None \
                and self._buffered() > 0:
            rc = super().loop_read(max_packets)
        if self.after_read is not None:
            self.after_read()
        return rc

    def _packet_read(self) -> MQTTErrorCode:
        if self._in_packet["command"] == 0 and self._protocol == mqtt.MQTTv5 \
                and self._buffered() >= 2:
            rc = self._read_buffered_publish()
            if rc is not None:
                return rc
        return super()._packet_read()

    def _read_buffered_publish(self) -> MQTTErrorCode | None:
        """Handle a PUBLISH without properties that is wholly in the buffer, without
        paho's byte-by-byte reads; None (nothing consumed): paho's own read takes it."""
        buf, start = self._rbuf, self._rpos
        header = buf[start]
        if header & 0xF0 != _PUBLISH:
            return None
        length, shift, pos = 0, 0, start + 1
        while True:  # the remaining length: at most 4 bytes (more: paho's error)
            if pos >= len(buf) or shift > 21:
                return None
            byte = buf[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        end = pos + length
        if end > len(buf):  # the rest is still on the socket
            return None
        parsed = _parse_publish(header, buf, pos, end)
        if parsed is None:
            return None
        self._rpos = end
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        return self._deliver(header, *parsed)

    def _handle_publish(self) -> MQTTErrorCode:
        header = self._in_packet["command"]
        body = self._in_packet["packet"]
        parsed = (_parse_publish(header, body, 0, len(body))
                  if self._protocol == mqtt.MQTTv5 else None)
        if parsed is None:
            return super()._handle_publish()
        return self._deliver(header, *parsed)

    def _deliver(self, header: int, topic: bytes, mid: int, payload: bytes
                 ) -> MQTTErrorCode:
        """What paho does with a received QoS 0 or 1 PUBLISH, once decoded."""
        message = mqtt.MQTTMessage(mid=mid, topic=topic)
        message.dup = bool(header & 0x08)
        message.qos = (header & 0x06) >> 1
        message.retain = bool(header & 0x01)
        message.properties = self._no_properties
        message.payload = payload
        message.timestamp = mqtt.time_func()
        self._handle_on_message(message)
        if message.qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def message_callback_add(self, sub: str, callback: Any) -> None:
        self._filtered = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        """paho's, without matching the topic against per-topic callbacks when there
        have never been any (paho walks its filter tree for every message)."""
        if self._filtered:
            super()._handle_on_message(message)
            return
        on_message = self._on_message
        if on_message is None:
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:  # as paho: logged, raised unless suppressed
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise

    def _packet_queue(self, command: int, packet: bytes | bytearray, mid: int, qos: int,
                      info: mqtt.MQTTMessageInfo | None = None) -> MQTTErrorCode:
        out = self._out_packet
        out.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                    "to_process": len(packet), "packet": packet, "info": info})
        # Counted after the append: more than one means a packet ahead of this one is not
        # taken yet, so the network thread's write loop, which runs until the queue is
        # empty, takes this one too (or waits for the socket with the queue non-empty).
        if len(out) <= 1 and self._sockpairW is not None:
            try:
                self._sockpairW.send(b"0")
            except BlockingIOError:
                pass
        if self._thread is None and self._on_socket_register_write is None \
                and self._in_callback_mutex.acquire(False):
            self._in_callback_mutex.release()
            return self.loop_write()
        self._call_socket_register_write()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_write(self) -> MQTTErrorCode:
        self._join_queued()
        return super()._packet_write()

    def _joinable(self, packet: Any) -> bool:
        """Nothing to do after the packet's write that the joined packet cannot do: a
        QoS 0 publish's ``on_publish`` (when set) and a DISCONNECT's close are."""
        command = packet["command"] & 0xF0
        if command == _PUBLISH and packet["qos"] == 0:
            return self._on_publish is None  # then: marked published (see _Published)
        return command != _DISCONNECT

    def _join_queued(self) -> None:
        """Join the leading run of whole, joinable packets into one packet.

        Other threads only append to the queue's right end; only the network loop (this
        thread) takes from the left, so peeking at the head and then taking it is safe.
        """
        out = self._out_packet
        if len(out) < 2:
            return
        taken: list[Any] = []
        size = 0
        while out and size < WRITE_CHUNK:
            packet: Any = out[0]
            if packet["pos"] != 0 or not self._joinable(packet):
                break
            taken.append(out.popleft())
            size += len(packet["packet"])
        if len(taken) == 1:
            out.appendleft(taken[0])
        elif taken:
            first = taken[0]
            joined = b"".join(p["packet"] for p in taken)
            published = [p["info"] for p in taken
                         if p["command"] & 0xF0 == _PUBLISH and p["qos"] == 0]
            info: Any = first["info"]
            command, qos = first["command"], first["qos"]
            if published:  # paho's write loop marks a written QoS 0 publish's info
                command, qos, info = _PUBLISH, 0, _Published(published)
            out.appendleft({"command": command, "mid": first["mid"], "qos": qos, "pos": 0,
                            "to_process": len(joined), "packet": joined, "info": info})
