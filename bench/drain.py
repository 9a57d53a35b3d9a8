"""Drain at link speed: 10,000 events queued in one agent's outbox while the broker is
down, drained after it starts, against a bare publish -> subscribe of 10,000 in the same
run.

Each run: a private Mosquitto (the generated config) and a real ``alarmlink central
serve`` (agent and central reconnect within 1 s). Baseline first: a bare paho client
publishes 10,000 QoS 1 events (with the same in-flight window as the agent) and a bare
subscriber counts them; time from the first publish to the last message. Then the broker
is stopped, the real agent (:class:`edge_agent.agent.Agent`, mock pins) is started,
10,000 events are committed to its durable outbox through ``Agent.raise_event``, and the
broker is started again. Figure: from
the agent's reconnect to an empty outbox (every event has central's ``stored`` receipt,
sent only after central's commit) — and, for reference, from the broker's start. Medians
of ``--runs``.

    .venv/bin/python bench/drain.py --runs 3
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from _probes import Probe
from _rig import (
    ROOT,
    Rig,
    event_bytes,
    fast_reconnect,
    load_note,
    median,
    print_footer,
    wait_until,
)
from gpiozero.pins.mock import MockFactory
from pydantic import SecretStr

from alarmlink import wire
from alarmlink.broker import MAX_INFLIGHT_MESSAGES
from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt.factory import make_client
from edge_agent.agent import Agent
from edge_agent.config import load_config

AGENT = "school-01"
HOP = "school-02"


def bare_hop(rig: Rig, events: int) -> float:
    """A bare publisher -> broker -> bare subscriber, QoS 1, ``events`` messages."""
    probe = Probe(rig, wire.Topics().event(HOP), events)
    publisher = make_client(BrokerConfig(url=rig.url, username=HOP,
                                         password=SecretStr(rig.passwords[HOP])))
    publisher.max_inflight_messages_set(MAX_INFLIGHT_MESSAGES)  # as the agent's link
    up = threading.Event()
    publisher.on_connect = lambda *_a: up.set()
    host, port = rig.url.removeprefix("mqtt://").rsplit(":", 1)
    publisher.connect(host, int(port))
    publisher.loop_start()
    if not up.wait(10):
        raise SystemExit("the bare publisher did not connect")
    payloads = [event_bytes(HOP, seq + 1) for seq in range(events)]
    topic = wire.Topics().event(HOP)
    t0 = time.perf_counter()
    for payload in payloads:
        publisher.publish(topic, payload, qos=1)
    if not probe.done.wait(120):
        raise SystemExit(f"bare hop: only {probe.n}/{events} within 120 s")
    publisher.disconnect()
    publisher.loop_stop()
    probe.close()
    return probe.last - t0


def agent_drain(rig: Rig, events: int, window: int | None = None
                ) -> tuple[float, float, float]:
    """(reconnect -> empty, broker start -> empty, seconds to queue) for one agent."""
    config = load_config(ROOT / "firmware_configs" / "school.toml")
    button = config.inputs[0].model_dump(mode="json")
    config = config.with_overrides({
        "broker.url": rig.url, "broker.password": rig.passwords[AGENT],
        "broker.reconnect_min_s": 1, "broker.reconnect_max_s": 1,
        "state_dir": str(rig.work / "agent"), "inputs": [button],
        # no LED: 10,000 alarms would restart its blink thread 10,000 times while queueing
        "feedback": {}})
    rig.broker.stop()
    agent = Agent(config, pin_factory=MockFactory())
    if window is not None:
        agent._sender.window = window
    connected_at: list[float] = []
    agent.connection_listeners.append(
        lambda up: connected_at.append(time.perf_counter()) if up else None)
    agent.start()
    try:
        t_queue = time.perf_counter()
        for _ in range(events):
            agent.raise_event(wire.Kind.FIRE, wire.State.ALARM, button["zone"],
                              wire.Source.GPIO)
        queued_s = time.perf_counter() - t_queue
        assert agent.outbox.depth() == events
        t_broker = time.perf_counter()
        rig.broker.start()
        probe = Probe(rig, wire.Topics().event(AGENT), events)
        wait_until(lambda: agent.outbox.depth() == 0, 300, "the outbox to drain")
        t_empty = time.perf_counter()
        probe.close()
        print(f"  the probe saw all {events:,} events {probe.last - connected_at[0]:.2f} s "
              f"after the reconnect ({probe.n:,} messages)", flush=True)
        if not connected_at:
            raise SystemExit("the agent drained without a reconnect?")
        return t_empty - connected_at[0], t_empty - t_broker, queued_s
    finally:
        agent.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=int, default=None,
                        help="the agent's in-flight window (default edge_agent.sender.WINDOW)")
    args = parser.parse_args()
    bare, drain, from_start = [], [], []
    for run in range(args.runs):
        rig = Rig([], extra_accounts=[AGENT, HOP])
        try:
            bare.append(bare_hop(rig, args.events))
            # central reconnects within a second of the broker's return, like the agent
            # (its default backoff grows to 30 s during the outage the events queue in)
            rig.start_central(fast_reconnect(rig))
            reconnect_s, start_s, queued_s = agent_drain(rig, args.events, args.window)
            drain.append(reconnect_s)
            from_start.append(start_s)
        finally:
            rig.close()
        print(f"run {run + 1}: bare publish->subscribe {bare[-1]:.2f} s; agent drained "
              f"{args.events:,} events in {drain[-1]:.2f} s after its reconnect "
              f"({from_start[-1]:.2f} s after the broker started; queueing them took "
              f"{queued_s:.1f} s); {load_note()}", flush=True)
    print(f"{args.events:,} events queued in one agent's outbox while the broker is down, "
          f"drained after it starts, median of {args.runs}: {median(drain):.2f} s from the "
          f"reconnect ({median(from_start):.2f} s from the broker's start); baseline bare "
          f"publish->subscribe of {args.events:,}, same runs: {median(bare):.2f} s "
          f"(goal <= 5 s)")
    print_footer("drain.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
