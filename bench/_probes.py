"""The benches' counting subscribers: :class:`Probe` (paho) and :class:`CProbe`
(``mosquitto_sub``)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from typing import Any

from _rig import PROBE, Rig


class Probe:
    """A bare subscriber (the probe account) counting messages on ``topic``: ``n``, the
    arrival time of the last (``last``, perf_counter) and ``done`` once ``want`` arrived."""

    def __init__(self, rig: Rig, topic: str, want: int, *, on_message: Any = None) -> None:
        self.n = 0
        self.last = 0.0
        self.want = want
        self.done = threading.Event()
        self._extra = on_message
        self.client = rig.client(PROBE)
        self.client.on_message = self._on_message
        granted = threading.Event()
        self.client.on_subscribe = lambda *_a: granted.set()
        self.client.subscribe(topic, qos=1)
        if not granted.wait(10):
            raise SystemExit(f"probe subscription to {topic} not granted within 10 s")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.n += 1
        self.last = time.perf_counter()
        if self._extra is not None:
            self._extra(client, userdata, message)
        if self.n >= self.want:
            self.done.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class CProbe:
    """The same count as :class:`Probe` by ``mosquitto_sub`` (C, Debian's
    ``mosquitto-clients``): a probe of central's own output, whose counting must not take
    the CPU the system under test needs (a Python subscriber costs about what a bare
    subscriber does). ``last`` is when it exited after ``want`` messages."""

    def __init__(self, rig: Rig, topic: str, want: int) -> None:
        if shutil.which("mosquitto_sub") is None:
            raise SystemExit("mosquitto_sub not found: apt-get install mosquitto-clients")
        self.want = want
        self.last = 0.0
        self.done = threading.Event()
        self._proc = subprocess.Popen(
            ["mosquitto_sub", "-h", rig.broker.host, "-p", str(rig.broker.port),
             "-u", PROBE, "-P", rig.passwords[PROBE], "-i", f"{PROBE}-c", "-q", "1",
             "-t", topic, "-C", str(want), "-W", "300"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._wait, daemon=True).start()

    def _wait(self) -> None:
        self._proc.wait()
        self.last = time.perf_counter()
        if self._proc.returncode == 0:
            self.done.set()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
