"""Throughput of the serial panel decoders, in frames per second, on one core.

Feeds a stream of valid frames in fixed-size chunks (as a serial reader would) through
each protocol's stream decoder (framing, validation, decoding, event mapping and the
reply frame) and reports the median of several runs. A baseline, a bare ``bytes.find``
loop over the same stream that only locates frame starts, is measured in the same run
and printed as a ratio; so is the former GB/T 26875.3 decoder (before its fast path),
in interleaved runs. On a shared machine the CPU-time columns are the steadier figures.

Reproduce::

    .venv/bin/python bench/decoders.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alarmlink.codecs import (  # noqa: E402
    contactid,
    make_decoder,  # noqa: E402
    sia_dc09,
)
from alarmlink.codecs.common import Decoded, DetailValue  # noqa: E402
from alarmlink.codecs.gb26875 import (  # noqa: E402
    HEADER_SIZE,
    Gb26875Decoder,
    GbMessage,
    encode_frame,
)
from alarmlink.codecs.gb26875_data import (  # noqa: E402
    ComponentState,
    TimeLabel,
    decode_app_data,
    encode_app_data,
)


class FormerGb26875Decoder(Gb26875Decoder):
    """The decoder before its fast path (the baseline of the ``gb26875`` row): every
    frame's app data unpacked into records, mapped by :meth:`EventMapper.events`, the
    answer's checksum summed over its three slices."""

    def _answer(self, raw: bytes, command: int) -> bytes:
        label = raw[6:12]
        if self.reply_time == "now":
            label = self._now_label() or label
        cs = (sum(raw[2:6]) + sum(label) + sum(raw[12:24]) + command) & 0xFF
        return _FORMER_ANSWER.pack(b"@@", raw[2:6], label, raw[18:24], raw[12:18], 0,
                                   command, cs, b"##")

    def _frame(self, raw: bytes, length: int) -> Decoded:
        app = decode_app_data(raw[HEADER_SIZE : HEADER_SIZE + length])
        base: dict[str, DetailValue] = {
            "protocol": "gb26875", "serial": raw[2] | raw[3] << 8,
            "uitd_addr": raw[12:18].hex().upper(),
        }
        events = tuple(self.mapper.events(app, base))
        self.stats.frames += 1
        return Decoded(events, raw, self._answer(raw, 3), GbMessage(raw, app))


_FORMER_ANSWER = struct.Struct("<2s4s6s6s6sHBB2s")
UITD = bytes.fromhex("790300000000")
CENTRE = bytes.fromhex("385B01000000")


def gb_frames(n: int) -> list[bytes]:
    """Type-2 fire alarm / restore frames, one component each, like the public example.

    500 components (50 floors) alternate alarm and restore; every frame carries its own
    time labels (one event per second), so no cache keyed on a whole frame or record helps.
    """
    out = []
    for i in range(n):
        when = TimeLabel(i % 60, i // 60 % 60, 9 + i // 3600 % 12, 26, 9, 12)
        rec = ComponentState(1, 1, 40 + i % 3, (i % 500).to_bytes(4, "little"),
                             2 if i % 2 == 0 else 1, f"{i % 50}F east corridor", when)
        out.append(encode_frame(serial=i & 0xFFFF, command=2, source=UITD, dest=CENTRE,
                                time=when, data=encode_app_data([rec])))
    return out


def cid_frames(n: int) -> list[bytes]:
    codes = (110, 111, 131, 301, 602)
    return [(contactid.encode_message("1234", codes[i % 5], 1 + 2 * (i % 2), i % 8, i % 1000,
                                      spaced=bool(i % 3 == 0)) + "\r\n").encode()
            for i in range(n)]


def dc09_frames(n: int) -> list[bytes]:
    ts = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    out = []
    for i in range(n):
        data = (f"#12345A|NFA{i % 1000}" if i % 2 else
                f"#12345A|1110 01 {i % 1000:03d}")
        out.append(sia_dc09.encode_message(seq=i % 10000, account="12345A", data=data,
                                           id="SIA-DCS" if i % 2 else "ADM-CID",
                                           receiver="579BDF", line="789ABC", timestamp=ts))
    return out


def chunks(stream: bytes, size: int) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def run_decoder(protocol: str, parts: list[bytes], options: dict[str, object]) -> int:
    decoder = (FormerGb26875Decoder(**options) if protocol == "gb26875-former"  # type: ignore[arg-type]
               else make_decoder(protocol, **options))
    frames = 0
    for part in parts:
        frames += len(decoder.feed(part))
    return frames


def run_baseline(stream: bytes, marker: bytes) -> int:
    find = stream.find
    count = 0
    i = find(marker)
    while i >= 0:
        count += 1
        i = find(marker, i + 1)
    return count


def measure(fn: Callable[[], int], runs: int) -> tuple[float, float, float]:
    """Frames/s over ``runs`` runs: (median wall clock, median CPU time, best CPU time).

    CPU time of this process is the steadier figure on a shared or virtual machine (steal
    time and other processes do not count against it); the best run approximates a quiet
    core. Wall clock is what a serial reader would see.
    """
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        frames = fn()
        wall.append(frames / (time.perf_counter() - start))
        cpu.append(frames / max(time.process_time() - start_cpu, 1e-9))
    return statistics.median(wall), statistics.median(cpu), max(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--chunk", type=int, default=4096, help="bytes per feed() call")
    args = parser.parse_args()

    fixed = datetime(2024, 1, 2, 3, 4, 5)
    cases = [
        ("gb26875", gb_frames, b"@@", {}),  # the agent's options: the real clock
        ("contactid", cid_frames, b"\n", {}),
        ("sia-dc09", dc09_frames, b"\n", {"clock": lambda: fixed.replace(tzinfo=UTC)}),
    ]
    print(f"{args.frames} frames per run, {args.chunk}-byte chunks, median of {args.runs} runs,"
          f" Python {sys.version.split()[0]}, load average"
          f" {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'protocol':<10} {'median/s':>9} {'cpu med/s':>10} {'cpu best/s':>11} {'MB/s':>5}"
          f" {'baseline/s':>11} {'ratio':>6}")
    for protocol, make, marker, options in cases:
        frames = make(args.frames)
        stream = b"".join(frames)
        parts = chunks(stream, args.chunk)
        got = run_decoder(protocol, parts, options)
        if got != len(frames):
            raise SystemExit(f"{protocol}: decoded {got} of {len(frames)} frames")
        rate, cpu, best = measure(partial(run_decoder, protocol, parts, options), args.runs)
        base, _, _ = measure(partial(run_baseline, stream, marker), args.runs)
        mbps = rate * len(stream) / len(frames) / 1e6
        print(f"{protocol:<10} {rate:>9,.0f} {cpu:>10,.0f} {best:>11,.0f} {mbps:>5.1f}"
              f" {base:>11,.0f} {base / rate:>5.0f}x")
    former = gb_frames(args.frames)
    parts = chunks(b"".join(former), args.chunk)
    new_cpu, old_cpu = [], []
    for _ in range(args.runs):  # interleaved, so that load changes hit both alike
        new_cpu.append(measure(partial(run_decoder, "gb26875", parts, {}), 1)[1])
        old_cpu.append(measure(partial(run_decoder, "gb26875-former", parts, {}), 1)[1])
    n, o = statistics.median(new_cpu), statistics.median(old_cpu)
    print(f"gb26875 fast path vs the former decoder, interleaved runs, CPU median: {n:,.0f}/s"
          f" vs {o:,.0f}/s = {n / o:.2f}x")
    print("ratio = baseline (bare bytes.find over the same stream) / decoder, both median wall")
    print("reproduce: .venv/bin/python bench/decoders.py")


if __name__ == "__main__":
    main()
