"""Throughput of central's DC-09 IP receiver over TCP with ACK, against a bare server.

Central's real :class:`~central.service.CentralService` (SQLite file, writer thread,
ingest, incidents; MQTT replaced by a no-op publisher) runs the receiver on a local TCP
port. A client process opens ``--connections`` connections; each sends ``--messages``
DC-09 alarm messages one after the other, waiting for each ACK (as a panel does). Each
connection is a panel of its own (account, device; the 100 spread over the demo
registry's 3 venues) sending fire alarms and restores on 8 zones. Every message is a
new event (its own sequence number), so every one is committed before its ACK; messages
of the connections that wait for the writer at the same time share one transaction
(group commit, central/db/group.py). The baseline, measured in the same run with the
same client, is a bare asyncio server that reads up to each CR and writes a fixed ACK.
Reported: messages/s (median of ``--runs``), the ratio receiver / baseline, and with
``--single`` the same receiver with one transaction per message (group commit off).

Reproduce::

    .venv/bin/python bench/receiver.py                # 100 connections x 20 messages
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alarmlink.broker import free_port  # noqa: E402
from alarmlink.codecs.sia_dc09 import encode_message  # noqa: E402
from central.db.group import MAX_GROUP  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ACK = b'\n9EBC0014"ACK"0042R1L0#1234[]\r'
ACCOUNT0 = 1000  # panel n reports as account 1000 + n, a device of its own


async def _client(port: int, connections: int, messages: int, start: int) -> float:
    async def one(conn: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        account = str(ACCOUNT0 + conn)
        for i in range(messages):
            seq = (start + i) % 9999 + 1  # a new message each time: stored, not deduped
            code = "FA" if i % 2 == 0 else "FR"  # alarm, restore, ... on 8 zones
            writer.write(encode_message(seq=seq, account=account,
                                        data=f"|Nri1/{code}{i // 2 % 8 + 1}"))
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


async def _central(workdir: Path, port: int, connections: int):  # type: ignore[no-untyped-def]
    from central.config import CentralConfig
    from central.service import CentralService

    registry = workdir / "registry.toml"
    venues = ("school-01", "hotel-01", "village-01")
    registry.write_text((ROOT / "central" / "demo_registry.toml").read_text() + "".join(
        f'\n[[devices]]\nid = "bench-panel-{n}"\nvenue = "{venues[n % 3]}"\n'
        f'dc09_account = "{ACCOUNT0 + n}"\n' for n in range(connections)))
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
    single: list[float] = []
    per_commit: list[float] = []
    bare_port = free_port()
    bare = await _bare(bare_port)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        service = await _central(Path(tmp), port, args.connections)
        try:
            group = service.ingestor.group
            assert group is not None
            for run in range(args.runs):
                base.append(await loop.run_in_executor(
                    None, _measure, bare_port, args.connections, args.messages, 0))
                start = (2 * run + 1) * args.connections * args.messages
                groups, jobs = group.groups, group.jobs
                recv.append(await loop.run_in_executor(
                    None, _measure, port, args.connections, args.messages, start))
                per_commit.append((group.jobs - jobs) / max(group.groups - groups, 1))
                if args.single:  # the former behaviour: one transaction per message
                    group.max_group = 1
                    single.append(await loop.run_in_executor(
                        None, _measure, port, args.connections, args.messages,
                        start + args.connections * args.messages))
                    group.max_group = MAX_GROUP
        finally:
            await service.stop()
            bare.close()
    b, r = statistics.median(base), statistics.median(recv)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()}"
          " cores; runs (bare, receiver) messages/s: "
          + ", ".join(f"({x:.0f}, {y:.0f})" for x, y in zip(base, recv, strict=True)))
    print(f"DC-09 over TCP, {args.connections} connections x {args.messages} messages, "
          f"ACK after commit, median of {args.runs} runs:")
    print(f"  bare asyncio server (read, fixed ACK): {b:10.0f} messages/s")
    print(f"  central receiver (decode, ingest, commit, ACK): {r:10.0f} messages/s")
    print(f"  ratio receiver / bare: {r / b:.3f}")
    print(f"  group commit: {statistics.median(per_commit):.1f} frames per transaction (median)")
    if single:
        s = statistics.median(single)
        print(f"  one transaction per message (no group commit): {s:10.0f} messages/s,"
              f" ratio {s / b:.3f}; group commit gains {r / s:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20, help="per connection")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--single", action="store_true",
                        help="also measure one transaction per message (max_group=1)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
