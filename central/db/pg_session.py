"""A long-lived PostgreSQL session of its own, and the loop that keeps one open.

The leader election (:mod:`central.leader`) and the incident listener
(:mod:`central.live_fanout`) each hold a dedicated connection for as long as the node
runs, and both must notice a database that vanished (a killed server closes the socket;
a machine that is gone sends nothing: TCP keepalive declares it dead after about
:data:`KEEPALIVE_S` seconds) and open a new connection every ``retry_s`` until it
answers. :func:`connect` opens such a session; :func:`keep_trying` is the loop.

psycopg is imported only when a connection is opened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: Seconds after which TCP keepalive declares a silent peer dead (idle + count x interval).
KEEPALIVE_S = 10


def connect(url: str, application_name: str) -> psycopg.Connection[Any]:
    """An autocommit session whose dead peer is noticed within :data:`KEEPALIVE_S`."""
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5, keepalives=1,
                           keepalives_idle=4, keepalives_interval=2, keepalives_count=3,
                           tcp_user_timeout=KEEPALIVE_S * 1000,
                           application_name=application_name)


def first_line(exc: BaseException) -> str:
    """The first line of a (psycopg) error, for a one-line log."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def keep_trying(stop: threading.Event, retry_s: float, attempt: Callable[[], None],
                failed: Callable[[Exception], None]) -> None:
    """Until ``stop`` is set: ``attempt()``, then wait ``retry_s``; when it raises (a lost
    connection, a refused connect: psycopg's errors), ``failed(exc)`` first."""
    while not stop.is_set():
        try:
            attempt()
        except Exception as exc:  # noqa: BLE001 - psycopg's errors: reconnect and retry
            failed(exc)
        stop.wait(retry_s)
