"""Issue 3, "reports a trouble after a configurable silence or loss, and a restore when the
link returns": the pure supervision rules, driven by explicit times."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.serial.watch import LinkWatch


def states(watch: LinkWatch, times: list[float]) -> list[tuple[float, str]]:
    out = []
    for t in times:
        change = watch.poll(t)
        if change is not None:
            out.append((t, change.state))
    return out


def test_missing_port_is_one_trouble_after_loss_time_then_one_restore_when_stable() -> None:
    watch = LinkWatch(loss_s=20, stable_s=5, now=0)
    watch.lost(0.5, "could not open port /dev/ttyUSB0")
    assert states(watch, [1, 10, 19.9]) == []
    trouble = watch.poll(20)
    assert trouble is not None and trouble.state == "trouble"
    assert "could not open port /dev/ttyUSB0" in trouble.reason
    assert states(watch, [25, 60, 600]) == []  # still missing: no repeats
    watch.opened(700)
    assert states(watch, [701, 704.9]) == []
    restore = watch.poll(705)
    assert restore is not None and restore.state == "restore"
    assert states(watch, [706, 10_000]) == []


def test_a_valid_frame_restores_at_once() -> None:
    watch = LinkWatch(loss_s=2, stable_s=5, now=0)
    assert states(watch, [2]) == [(2, "trouble")]
    watch.opened(3)
    watch.frame(3.1)
    assert states(watch, [3.2]) == [(3.2, "restore")]


def test_a_short_loss_reports_nothing() -> None:
    watch = LinkWatch(loss_s=20, stable_s=5, now=0)
    watch.opened(0)
    watch.frame(1)
    watch.lost(10, "read failed")
    watch.opened(15)
    assert states(watch, [16, 20, 29, 31, 100]) == []


def test_a_flapping_port_is_one_trouble_and_no_restore_until_it_holds() -> None:
    watch = LinkWatch(loss_s=5, stable_s=3, now=0)
    t, seen = 0.0, []
    for _ in range(30):  # open for 1 s, gone for 0.5 s: never stable
        watch.opened(t)
        seen += states(watch, [t + 0.5])
        watch.lost(t + 1, "device reports readiness to read but returned no data")
        seen += states(watch, [t + 1.2])
        t += 1.5
    assert [state for _t, state in seen] == ["trouble"]
    watch.opened(t)
    assert states(watch, [t + 1, t + 3]) == [(t + 3, "restore")]


def test_silence_is_a_trouble_and_only_a_frame_restores_it() -> None:
    watch = LinkWatch(loss_s=20, silence_s=300, stable_s=5, now=0)
    watch.opened(0)
    watch.frame(10)
    assert states(watch, [100, 309]) == []
    assert states(watch, [310]) == [(310, "trouble")]
    watch.lost(320, "read failed")
    watch.opened(321)  # reopening is not a sign of life
    assert states(watch, [330, 400]) == []
    watch.frame(401)
    assert states(watch, [401]) == [(401, "restore")]
    assert states(watch, [600]) == []  # 199 s of quiet after the frame: fine


def test_a_loss_trouble_with_silence_supervised_waits_for_a_frame() -> None:
    watch = LinkWatch(loss_s=1, silence_s=60, stable_s=0.5, now=0)
    assert states(watch, [1]) == [(1, "trouble")]
    watch.opened(2)
    assert states(watch, [3, 30]) == []
    watch.frame(31)
    assert states(watch, [31]) == [(31, "restore")]


OPS = st.lists(st.tuples(st.sampled_from(["open", "lost", "frame", "poll"]),
                         st.floats(min_value=0, max_value=30)), max_size=80)


@given(OPS, st.floats(min_value=0.1, max_value=20), st.sampled_from([0.0, 5.0, 60.0]),
       st.floats(min_value=0, max_value=10))
def test_reports_always_alternate_trouble_restore(ops: list[tuple[str, float]], loss: float,
                                                  silence: float, stable: float) -> None:
    watch = LinkWatch(loss_s=loss, silence_s=silence, stable_s=stable, now=0)
    t, seen = 0.0, []
    for op, dt in ops:
        t += dt
        if op == "open":
            watch.opened(t)
        elif op == "lost":
            watch.lost(t, "gone")
        elif op == "frame":
            watch.frame(t)
        change = watch.poll(t)
        if change is not None:
            seen.append(change.state)
    assert seen == ["trouble", "restore"] * (len(seen) // 2) + ["trouble"] * (len(seen) % 2)
    assert (watch.trouble is not None) == (len(seen) % 2 == 1)
