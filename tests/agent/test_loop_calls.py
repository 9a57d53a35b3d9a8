"""LoopCalls: a change handed to the owning thread runs there, only when the owner says so."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import wait_for

from edge_agent.loop_calls import LoopCalls


class Caller:
    """Runs ``calls.call(fn)`` on its own thread and keeps the outcome."""

    def __init__(self, calls: LoopCalls, fn: Callable[[], Any],
                 timeout: float | None = None) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(calls, fn, timeout),
                                        daemon=True)
        self._thread.start()

    def _run(self, calls: LoopCalls, fn: Callable[[], Any], timeout: float | None) -> None:
        try:
            self.result = calls.call(fn, timeout)
        except Exception as exc:  # the test inspects it
            self.error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self) -> None:
        self._thread.join(10)
        assert self.done, "the caller is still waiting"


@pytest.fixture
def calls() -> Iterator[LoopCalls]:
    """A LoopCalls whose owner is the test's own thread."""
    calls = LoopCalls(timeout_s=10)
    calls.open(threading.current_thread())
    yield calls
    calls.close()


def test_a_call_waits_for_the_owner_and_runs_on_its_thread(calls: LoopCalls) -> None:
    ran_on: list[threading.Thread] = []
    caller = Caller(calls, lambda: ran_on.append(threading.current_thread()) or 42)
    wait_for(lambda: calls.pending == 1, what="the call queued for the owner")
    assert ran_on == [] and not caller.done, "ran before the owner took it up"
    assert calls.run_pending() == 1
    caller.join()
    assert caller.result == 42 and caller.error is None
    assert ran_on == [threading.current_thread()]
    assert calls.pending == 0


def test_calls_run_in_order_and_an_exception_reaches_its_caller(calls: LoopCalls) -> None:
    order: list[str] = []

    def broken() -> None:
        order.append("broken")
        raise ValueError("bad config")

    first = Caller(calls, broken)
    wait_for(lambda: calls.pending == 1, what="the first call queued")
    second = Caller(calls, lambda: order.append("second"))
    wait_for(lambda: calls.pending == 2, what="the second call queued")
    assert calls.run_pending() == 2
    first.join()
    second.join()
    assert order == ["broken", "second"]
    assert isinstance(first.error, ValueError) and str(first.error) == "bad config"
    assert second.error is None


def test_a_call_the_owner_did_not_take_up_in_time_never_runs(calls: LoopCalls) -> None:
    ran: list[bool] = []
    caller = Caller(calls, lambda: ran.append(True), timeout=0.05)
    caller.join()  # the owner (this thread) is busy: the caller gives up
    assert isinstance(caller.error, TimeoutError)
    assert "did not take the change up within 0.05 s" in str(caller.error)
    assert calls.run_pending() == 0 and ran == [], "a call given up on still ran"


def test_without_an_owner_a_call_runs_in_its_caller() -> None:
    calls = LoopCalls()
    assert calls.call(lambda: threading.current_thread()) is threading.current_thread()
    owner_done = threading.Event()
    owner = threading.Thread(target=owner_done.wait, args=(10,), daemon=True)
    owner.start()
    calls.open(owner)
    try:
        queued = Caller(calls, lambda: "late")
        wait_for(lambda: calls.pending == 1, what="the call queued for the owner")
        calls.close()  # the owner stops: what was queued still runs, here
        queued.join()
        assert queued.result == "late"
        assert calls.call(lambda: "inline") == "inline"  # closed: runs in the caller
    finally:
        owner_done.set()
        owner.join(10)


def test_the_owner_itself_runs_a_call_at_once(calls: LoopCalls) -> None:
    assert calls.call(lambda: "now") == "now"
    assert calls.pending == 0
