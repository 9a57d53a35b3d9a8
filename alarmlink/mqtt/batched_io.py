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
* **writing**: consecutive packets that need nothing after they are written (PUBACKs,
  QoS 1 publishes, pings, subscribes) are joined and sent with one ``send``. A packet
  with work after its write (a QoS 0 publish's ``on_publish``, a ``DISCONNECT``) goes
  through paho's own path, in order.

Both are used by :class:`alarmlink.mqtt.MqttClient` (central, the agents); the bench's
baselines keep plain paho. Tested against a real broker and paho's own behaviour in
``tests/mqttclient/test_batched_io.py``.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

#: Bytes read from the socket at once.
READ_CHUNK = 256 * 1024
#: Most bytes joined into one ``send``.
WRITE_CHUNK = 256 * 1024
_PUBLISH = 0x30
_DISCONNECT = 0xE0


def _after_write(packet: dict[str, Any]) -> bool:
    """The packet has work paho does once it is written (so it is not joined)."""
    command = packet["command"] & 0xF0
    return (command == _PUBLISH and packet["qos"] == 0) or command == _DISCONNECT


class BatchedIoClient(mqtt.Client):
    """paho's client with bulk socket reads and joined writes (behaviour unchanged)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._rsock: object = None

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
        return rc

    def _packet_write(self) -> MQTTErrorCode:
        self._join_queued()
        return super()._packet_write()

    def _join_queued(self) -> None:
        """Join the leading run of whole, no-after-work packets into one packet.

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
            if packet["pos"] != 0 or _after_write(packet):
                break
            taken.append(out.popleft())
            size += len(packet["packet"])
        if len(taken) == 1:
            out.appendleft(taken[0])
        elif taken:
            first = taken[0]
            joined = b"".join(p["packet"] for p in taken)
            out.appendleft({"command": first["command"], "mid": first["mid"],
                            "qos": first["qos"], "pos": 0, "to_process": len(joined),
                            "packet": joined, "info": first["info"]})
