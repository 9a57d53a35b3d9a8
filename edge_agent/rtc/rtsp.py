"""The venue camera over RTSP, for a GB/T 28181 access gateway (or any NVR) to pull.

``[rtc.rtsp]`` turns it on. One stream, ``rtsp://<agent>:<port>/<path>``: H.264
(Constrained Baseline, packetization mode 1) in RTP, interleaved in the RTSP connection
(RFC 2326 section 10.12, ``RTP/AVP/TCP``), which passes the station's firewalls with one
port. A client asking for RTP over UDP gets ``461 Unsupported Transport`` and tries TCP
(ffmpeg, GStreamer and the usual gateways do). Video only: the venue's audio goes to
the duty console over WebRTC.

Every request but ``OPTIONS`` needs HTTP Digest authentication (RFC 2617, MD5) with
the configured user and the password from ``password_file``; the password never
crosses the network and is never logged. At most ``max_clients`` play at once; each
has its own encoder fed by a fork of the camera (``MediaRelay``), dropping frames
rather than queueing them when the network or the encoder falls behind, so a slow
gateway never delays the live console. A connection that sends nothing for
:data:`SESSION_TIMEOUT_S` before playing is dropped, and at most
:data:`MAX_CONNECTIONS` are open at once.

The server runs on the rtc service's asyncio loop; H.264 encoding runs on a worker
thread per client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import re
import secrets
import struct
from collections.abc import Callable
from typing import Any

from edge_agent.rtc.config import RtspConfig

logger = logging.getLogger(__name__)

REALM = "alarmlink"
PAYLOAD_TYPE = 96
#: The longest request head accepted (a request line and its headers).
MAX_HEAD = 8192
#: Seconds a client may stay silent before its session is dropped (said in ``Session``).
SESSION_TIMEOUT_S = 60
METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"
#: Connections open at once, playing or not (a flood of idle sockets is turned away).
MAX_CONNECTIONS = 16

#: video_source() -> a fork of the camera track (a fresh relay subscription), or None
#: when there is no camera.
VideoSource = Callable[[], Any]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_response(username: str, password: str, method: str, uri: str,
                    nonce: str) -> str:
    """RFC 2617's ``response`` without ``qop``: MD5(HA1:nonce:HA2)."""
    ha1 = _md5(f"{username}:{REALM}:{password}")
    return _md5(f"{ha1}:{nonce}:{_md5(f'{method}:{uri}')}")


def parse_digest(header: str) -> dict[str, str]:
    """The fields of an ``Authorization: Digest ...`` header ({} when not Digest)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"?([^",]*)"?', rest)}


def parse_request(head: bytes) -> tuple[str, str, dict[str, str]]:
    """``(METHOD, uri, {lower-case header: value})`` of a request head (up to its blank
    line). Raises ValueError naming what is wrong."""
    if len(head) > MAX_HEAD:
        raise ValueError(f"request head over {MAX_HEAD} bytes")
    lines = head.decode("utf-8", "replace").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("RTSP/1.") or not parts[0].isalpha():
        raise ValueError(f"not an RTSP/1.0 request line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    content_length(headers)
    return parts[0].upper(), parts[1], headers


def content_length(headers: dict[str, str]) -> int:
    """The request body's length (0 without one). Raises ValueError when not a number in
    0..MAX_HEAD."""
    text = headers.get("content-length", "0") or "0"
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_HEAD:
        raise ValueError(f"Content-Length {text[:20]!r} is not a length up to {MAX_HEAD}")
    return int(text)


def rtp_packet(payload: bytes, *, seq: int, timestamp: int, ssrc: int, marker: bool) -> bytes:
    """One RTP packet (RFC 3550), no CSRC, no extension."""
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | PAYLOAD_TYPE,
                       seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload


class RtspServer:
    """Serves the camera to at most ``config.max_clients`` authenticated clients."""

    def __init__(self, config: RtspConfig, password: str, video_source: VideoSource,
                 *, name: str = "alarmlink") -> None:
        self.config = config
        self._password = password
        self.video_source = video_source
        self.name = name
        self.playing = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the port (``port = 0`` in tests picks a free one)."""
        self._server = await asyncio.start_server(self._client, self.config.bind,
                                                  self.config.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        logger.info("RTSP: serving rtsp://%s:%d/%s (user %s)", self.config.bind, self.port,
                    self.config.path, self.config.username)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        if len(self._clients) >= MAX_CONNECTIONS:
            logger.warning("RTSP %s: refused, %d connections already open", peer,
                           len(self._clients))
            writer.close()
            return
        self._clients.add(task)
        session = _Session(self, reader, writer, peer)
        try:
            await session.serve()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError):
            logger.debug("RTSP %s: connection ended", peer)
        finally:
            await session.close()
            self._clients.discard(task)


class _Session:
    """One RTSP connection: its requests, its nonce, and its stream once playing."""

    def __init__(self, server: RtspServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, peer: Any) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.nonce = secrets.token_hex(16)
        self.session_id = secrets.token_hex(8)
        self.set_up = False
        self.streaming: asyncio.Task[None] | None = None
        self.track: Any = None

    async def serve(self) -> None:
        while True:
            if self.streaming is None:   # a silent client is dropped (RFC 2326 12.37)
                async with asyncio.timeout(SESSION_TIMEOUT_S):
                    first = await self.reader.readexactly(1)
            else:
                first = await self.reader.readexactly(1)
            if first == b"$":   # the client's interleaved RTCP: read and drop
                _channel, length = struct.unpack("!BH", await self.reader.readexactly(3))
                await self.reader.readexactly(length)
                continue
            head = first + await self.reader.readuntil(b"\r\n\r\n")
            try:
                method, uri, headers = parse_request(head)
            except ValueError as exc:
                logger.warning("RTSP %s: bad request: %s", self.peer, exc)
                await self._reply(400, {}, reason="Bad Request")
                return
            if length := content_length(headers):
                await self.reader.readexactly(length)
            if not await self._request(method, uri, headers):
                return

    async def _request(self, method: str, uri: str, headers: dict[str, str]) -> bool:
        """Answer one request; False ends the connection."""
        if method == "OPTIONS":
            await self._reply(200, headers, {"Public": METHODS})
            return True
        if not self._authorized(method, headers):
            # a client's first request comes without credentials: that is the challenge
            logger.log(logging.WARNING if "authorization" in headers else logging.DEBUG,
                       "RTSP %s: %s refused (wrong or missing credentials)", self.peer,
                       method)
            await self._reply(401, headers, {"WWW-Authenticate": (
                f'Digest realm="{REALM}", nonce="{self.nonce}"')}, reason="Unauthorized")
            return True
        config = self.server.config
        if method != "TEARDOWN" and not re.search(
                rf"/{re.escape(config.path)}(/track0)?/?$", uri.split("?")[0]):
            await self._reply(404, headers, reason="Not Found")
            return True
        if method == "DESCRIBE":
            sdp = self._sdp().encode()
            await self._reply(200, headers, {"Content-Type": "application/sdp",
                                             "Content-Base": uri.rstrip("/") + "/"}, sdp)
        elif method == "SETUP":
            transport = headers.get("transport", "")
            if "TCP" not in transport.upper():
                await self._reply(461, headers, reason="Unsupported Transport")
                return True
            self.set_up = True
            await self._reply(200, headers, {
                "Transport": "RTP/AVP/TCP;unicast;interleaved=0-1",
                "Session": f"{self.session_id};timeout={SESSION_TIMEOUT_S}"})
        elif method == "PLAY":
            return await self._play(headers)
        elif method == "TEARDOWN":
            await self._reply(200, headers, {"Session": self.session_id})
            return False
        elif method == "GET_PARAMETER":   # a keep-alive
            await self._reply(200, headers, {"Session": self.session_id})
        else:
            await self._reply(501, headers, reason="Not Implemented")
        return True

    async def _play(self, headers: dict[str, str]) -> bool:
        server = self.server
        if not self.set_up:
            await self._reply(455, headers, reason="Method Not Valid in This State")
            return True
        if self.streaming is not None:
            await self._reply(200, headers, {"Session": self.session_id})
            return True
        if server.playing >= server.config.max_clients:
            await self._reply(453, headers, reason="Not Enough Bandwidth")
            return False
        self.track = server.video_source()
        if self.track is None:
            await self._reply(503, headers, reason="Service Unavailable")
            return False
        await self._reply(200, headers, {"Session": self.session_id,
                                         "Range": "npt=0.000-"})
        server.playing += 1
        self.streaming = asyncio.ensure_future(self._stream())
        logger.info("RTSP %s: playing", self.peer)
        return True

    async def _stream(self) -> None:
        from aiortc.codecs.h264 import H264Encoder
        from aiortc.mediastreams import MediaStreamError

        from edge_agent.rtc.media import copy_video_frame
        encoder = H264Encoder()
        encoder.target_bitrate = self.server.config.max_kbps * 1000
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rtsp-h264")
        loop = asyncio.get_running_loop()
        ssrc, seq, first = secrets.randbits(32), secrets.randbits(16), True
        try:
            while True:
                frame = copy_video_frame(await self.track.recv())
                payloads, timestamp = await loop.run_in_executor(pool, encoder.encode,
                                                                 frame, first)
                first = False
                for i, payload in enumerate(payloads):
                    packet = rtp_packet(payload, seq=seq, timestamp=timestamp, ssrc=ssrc,
                                        marker=i == len(payloads) - 1)
                    seq += 1
                    self.writer.write(b"$\x00" + struct.pack("!H", len(packet)) + packet)
                await self.writer.drain()
        except MediaStreamError:
            logger.info("RTSP %s: the camera stopped", self.peer)
        except ConnectionError:
            logger.info("RTSP %s: client gone", self.peer)
        finally:
            pool.shutdown(wait=False)
            self.writer.close()

    def _authorized(self, method: str, headers: dict[str, str]) -> bool:
        fields = parse_digest(headers.get("authorization", ""))
        config = self.server.config
        if not fields or fields.get("username") != config.username:
            return False
        if fields.get("nonce") != self.nonce or "uri" not in fields:
            return False
        expected = digest_response(config.username, self.server._password, method,
                                   fields["uri"], self.nonce)
        return secrets.compare_digest(expected, fields.get("response", ""))

    def _sdp(self) -> str:
        host = self.writer.get_extra_info("sockname")[0]
        return "\r\n".join([
            "v=0", f"o=- {self.session_id} 1 IN IP4 {host}", f"s={self.server.name}",
            "c=IN IP4 0.0.0.0", "t=0 0", "a=control:*",
            f"m=video 0 RTP/AVP {PAYLOAD_TYPE}", f"a=rtpmap:{PAYLOAD_TYPE} H264/90000",
            f"a=fmtp:{PAYLOAD_TYPE} packetization-mode=1;profile-level-id=42e01f",
            "a=control:track0", ""])

    async def _reply(self, code: int, request: dict[str, str],
                     headers: dict[str, str] | None = None, body: bytes = b"", *,
                     reason: str = "OK") -> None:
        lines = [f"RTSP/1.0 {code} {reason}", f"CSeq: {request.get('cseq', '0')}",
                 "Server: alarmlink"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()

    async def close(self) -> None:
        if self.streaming is not None:
            self.streaming.cancel()
            await asyncio.gather(self.streaming, return_exceptions=True)
            self.server.playing -= 1
        if self.track is not None:
            self.track.stop()
        self.writer.close()
