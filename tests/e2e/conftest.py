"""Fixtures for the end-to-end tests: broker + central process + live console client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fixtures.central import CentralProcess
from helpers import wait_for
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class Console:
    """A duty-room console: a WebSocket client that records every pushed message."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self._ws = connect(url, open_timeout=10, additional_headers=headers)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        wait_for(lambda: self.messages, what="the console's first (snapshot) message")

    def _read(self) -> None:
        try:
            for raw in self._ws:
                self.messages.append(json.loads(raw))
        except ConnectionClosed:
            pass

    def incidents(self) -> list[dict[str, Any]]:
        return [m["incident"] for m in list(self.messages) if m["type"] == "incident"]

    def close(self) -> None:
        self._ws.close()
        self._thread.join(5)


@pytest.fixture
def console_for(central_process: CentralProcess) -> Iterator[Any]:
    opened: list[Console] = []

    def open_console(station: str) -> Console:
        console = Console(f"{central_process.ws_url}?station={station}",
                          central_process.ws_headers)
        opened.append(console)
        return console

    yield open_console
    for console in opened:
        console.close()
