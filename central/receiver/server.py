"""The DC-09 listeners: TCP (one decoder per connection) and UDP (one frame per datagram).

Every frame found in the bytes is handed to :class:`~central.receiver.handler.Dc09Handler`
in order, and its answer is written back only when the handler returns it (after the
commit). Bytes that are no frame are discarded by the decoder; a frame that is refused
is dead-lettered and answered ``NAK``/``DUH``. Nothing a peer sends can stop the
listener: a connection that fails is closed and logged, the others go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import cast

from alarmlink.codecs.dc09_crypto import ReplayGuard
from alarmlink.codecs.sia_dc09 import SiaDc09Decoder
from central.db import WriterClosed
from central.receiver.config import ReceiverConfig
from central.receiver.handler import Dc09Handler

logger = logging.getLogger(__name__)

READ_SIZE = 4096
#: UDP datagrams handled at once at most; more are dropped (the panel retries).
UDP_CONCURRENCY = 256


class Dc09Receiver:
    """Owns the TCP server and the UDP endpoint. ``start()``/``stop()`` on the loop."""

    def __init__(self, config: ReceiverConfig, handler: Dc09Handler,
                 keys: Mapping[str, bytes], clock: Callable[[], datetime]) -> None:
        self.config = config
        self.handler = handler
        self.keys = dict(keys)
        self.clock = clock
        self.replay = ReplayGuard(horizon_s=2 * (config.window_past_s + config.window_future_s))
        self._tcp: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_decoder = self.decoder()
        self._udp_busy = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    def decoder(self) -> SiaDc09Decoder:
        cfg = self.config
        return SiaDc09Decoder(keys=self.keys, clock=self.clock, replay=self.replay,
                              window_past_s=cfg.window_past_s,
                              window_future_s=cfg.window_future_s)

    async def start(self) -> None:
        """Bind the configured ports. Raises ``OSError`` if a port cannot be bound."""
        cfg = self.config
        await self.handler.accounts.refresh()
        if cfg.tcp_port:
            self._tcp = await asyncio.start_server(self._client, cfg.host, cfg.tcp_port)
            logger.info("DC-09 receiver listening on tcp %s:%d", cfg.host, cfg.tcp_port)
        if cfg.udp_port:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(cfg.host, cfg.udp_port))
            self._udp = transport
            logger.info("DC-09 receiver listening on udp %s:%d", cfg.host, cfg.udp_port)

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ TCP

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer.get_extra_info("peername"))
        if self.connections >= self.config.max_connections:
            logger.warning("DC-09 connection from %s refused: %d connections open (raise "
                           "[receiver] max_connections)", peer, self.connections)
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        try:
            await self._serve(reader, writer, peer)
        except WriterClosed:
            logger.info("DC-09 connection from %s closed: central is stopping", peer)
        except (ConnectionError, OSError) as exc:
            logger.info("DC-09 connection from %s lost: %s", peer, exc)
        except asyncio.CancelledError:
            pass
        except Exception:  # one peer must never stop the receiver
            logger.exception("DC-09 connection from %s failed", peer)
        finally:
            self.connections -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     peer: str) -> None:
        decoder = self.decoder()
        while True:
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), self.config.idle_timeout_s)
            except TimeoutError:
                logger.info("DC-09 connection from %s idle for %g s: closed", peer,
                            self.config.idle_timeout_s)
                return
            if not data:
                return
            for result in decoder.feed(data):
                reply = await self.handler.handle(result, "tcp", peer)
                if reply is not None:
                    writer.write(reply)
            await writer.drain()

    # ------------------------------------------------------------------ UDP

    def datagram(self, data: bytes, addr: tuple[str, int], transport: asyncio.DatagramTransport
                 ) -> None:
        if self._udp_busy >= UDP_CONCURRENCY:
            logger.warning("DC-09 datagram from %s dropped: %d being handled", addr[0],
                           self._udp_busy)
            return
        decoder = self._udp_decoder
        decoder.reset()
        results = decoder.feed(data)
        decoder.reset()  # a datagram is complete: no partial frame carries over
        if not results:
            return
        task = asyncio.get_running_loop().create_task(self._udp_frames(results, addr,
                                                                       transport))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _udp_frames(self, results: list, addr: tuple[str, int],  # type: ignore[type-arg]
                          transport: asyncio.DatagramTransport) -> None:
        self._udp_busy += 1
        peer = _peer(addr)
        try:
            for result in results:
                reply = await self.handler.handle(result, "udp", peer)
                if reply is not None and not transport.is_closing():
                    transport.sendto(reply, addr)
        except WriterClosed:
            logger.info("DC-09 datagram from %s not answered: central is stopping", peer)
        except Exception:  # one datagram must never stop the receiver
            logger.exception("DC-09 datagram from %s failed", peer)
        finally:
            self._udp_busy -= 1


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: Dc09Receiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop: no subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.receiver.datagram(data, addr, self.transport)

    def error_received(self, exc: Exception) -> None:
        logger.info("DC-09 UDP error: %s", exc)


def _peer(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
