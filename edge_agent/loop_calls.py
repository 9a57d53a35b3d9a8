"""Calls handed to one owning thread, which runs them when it chooses.

The agent's main loop owns the state a ``reload_config`` command changes. A
command worker does not change it itself: it hands a function to
:meth:`LoopCalls.call` and waits; the main loop runs it between two ticks
(:meth:`LoopCalls.run_pending`) and the caller gets its result or exception.

::

    calls = LoopCalls(wake=wake_event.set)
    calls.open(threading.current_thread())    # in the owner, before its loop
    while running:
        calls.run_pending()
        ...
    calls.close()                             # runs what is still queued

While no owner is open (before :meth:`open`, after :meth:`close`) a call runs
in the calling thread at once: nothing else runs the owner's code then.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class LoopCalls:
    """A queue of calls for one owner thread. Thread safe."""

    def __init__(self, wake: Callable[[], None] = lambda: None,
                 timeout_s: float = 10.0) -> None:
        #: Called after a call is queued, so a sleeping owner looks at once.
        self.wake = wake
        #: How long :meth:`call` waits for the owner by default.
        self.timeout_s = timeout_s
        self._calls: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._lock = threading.Lock()
        self._owner: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Calls queued and not yet taken up by the owner."""
        with self._lock:
            return len(self._calls)

    def open(self, owner: threading.Thread) -> None:
        """From now on calls from other threads wait for ``owner`` to run them."""
        with self._lock:
            self._owner = owner

    def close(self) -> None:
        """No owner any more: run what is queued here, later calls run in their caller."""
        with self._lock:
            self._owner = None
        self.run_pending()

    def call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Have the owner run ``fn`` and return its result (or raise its exception).

        Runs ``fn`` at once when called from the owner itself or when no owner is
        open. Raises TimeoutError when the owner did not take the call up within
        ``timeout`` seconds (default :attr:`timeout_s`); ``fn`` has not run then
        and never will.
        """
        future: Future[T] = Future()
        with self._lock:
            owner = self._owner
            queued = owner is not None and owner is not threading.current_thread()
            if queued:
                self._calls.append((fn, future))
        if not queued:
            return fn()
        self.wake()
        wait = self.timeout_s if timeout is None else timeout
        try:
            return future.result(wait)
        except TimeoutError:
            if future.cancel():
                raise TimeoutError(f"the agent's main loop did not take the change up "
                                   f"within {wait:g} s") from None
            return future.result()  # taken up just now: wait for it to finish

    def run_pending(self) -> int:
        """Run the queued calls in this thread, oldest first; how many ran."""
        with self._lock:
            calls, self._calls = self._calls, []
        ran = 0
        for fn, future in calls:
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting
            ran += 1
            try:
                result = fn()
            except Exception as exc:  # handed to the caller, which re-raises it
                logger.debug("loop call %r raised %s", fn, type(exc).__name__)
                future.set_exception(exc)
            else:
                future.set_result(result)
        return ran
