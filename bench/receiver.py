"""Throughput of central's DC-09 IP receiver over TCP with ACK, against a bare server.

Central's real :class:`~central.service.CentralService` (SQLite file, writer thread,
ingest, incidents; MQTT replaced by a no-op publisher) runs the receiver on a local TCP
port. A client process opens ``--connections`` connections; each sends ``--messages``
DC-09 alarm messages one after the other, waiting for each ACK (as a panel does). Every
message is a new event (its own sequence number and zone), so every one is committed
before its ACK. The baseline, measured in the same run with the same client, is a bare
asyncio server that reads up to each CR and writes a fixed ACK. Reported: messages/s
(median of ``--runs``) and the ratio receiver / baseline.

Reproduce::

    .venv/bin/python bench/receiver.py                # 100 connections x 20 messages
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alarmlink.broker import free_port  # noqa: E402
from alarmlink.codecs.sia_dc09 import encode_message  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ACK = b'\n9EBC0014"ACK"0042R1L0#1234[]\r'


async def _client(port: int, connections: int, messages: int, start: int) -> float:
    async def one(conn: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(messages):
            zone = (start + conn * messages + i) % 100_000
            writer.write(encode_message(seq=i % 9999 + 1, account="1234",
                                        data=f"|Nri1/FA{zone}"))
            await writer.drain()
            await reader.readuntil(b"\r")
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(connections)))
    return time.perf_counter() - began


def _client_process(port: int, connections: int, messages: int, start: int,
                    out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(_client(port, connections, messages, start)))


def _measure(port: int, connections: int, messages: int, start: int) -> float:
    out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=_client_process,
                                   args=(port, connections, messages, start, out))
    proc.start()
    elapsed = out.get(timeout=600)
    proc.join()
    return connections * messages / elapsed


async def _bare(port: int) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r")
                writer.write(ACK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
    return await asyncio.start_server(serve, "127.0.0.1", port)


async def _central(workdir: Path, port: int):  # type: ignore[no-untyped-def]
    from central.config import CentralConfig
    from central.service import CentralService

    registry = workdir / "registry.toml"
    registry.write_text((ROOT / "central" / "demo_registry.toml").read_text()
                        + '\n[[devices]]\nid = "bench-panel"\nvenue = "school-01"\n'
                          'dc09_account = "1234"\n')
    config = CentralConfig.model_validate({
        "data_dir": str(workdir), "registry": str(registry),
        "receiver": {"host": "127.0.0.1", "tcp_port": port}})
    service = await asyncio.to_thread(CentralService, config,
                                      publisher=lambda _t, _p: None)
    service.start(asyncio.get_running_loop())
    await service.start_receiver()
    return service


async def main_async(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    base: list[float] = []
    recv: list[float] = []
    bare_port = free_port()
    bare = await _bare(bare_port)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        service = await _central(Path(tmp), port)
        try:
            for run in range(args.runs):
                base.append(await loop.run_in_executor(
                    None, _measure, bare_port, args.connections, args.messages, 0))
                start = (run + 1) * args.connections * args.messages
                recv.append(await loop.run_in_executor(
                    None, _measure, port, args.connections, args.messages, start))
        finally:
            await service.stop()
            bare.close()
    b, r = statistics.median(base), statistics.median(recv)
    print(f"DC-09 over TCP, {args.connections} connections x {args.messages} messages, "
          f"ACK after commit, median of {args.runs} runs:")
    print(f"  bare asyncio server (read, fixed ACK): {b:10.0f} messages/s")
    print(f"  central receiver (decode, ingest, commit, ACK): {r:10.0f} messages/s")
    print(f"  ratio receiver / bare: {r / b:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20, help="per connection")
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
