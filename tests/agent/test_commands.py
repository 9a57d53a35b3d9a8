"""Remote commands at the agent, over a real Mosquitto (the session's, each test with a
device of its own): self-test, reload_config, reboot, expiry and redelivery."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import tomli_w
from agent_testkit import LOOP, TOPICS, config_dict
from fixtures.agents import AgentSet
from fixtures.mqtt import CentralStub
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from edge_agent.agent import Agent
from edge_agent.config import load_config


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


def start_from_file(agents: AgentSet, path: Path, observer: CentralStub) -> Agent:
    agent = agents.new(load_config(path), config_path=path)
    wait_for(lambda: agent.connected, what="the agent to connect")
    observer.wait_online(agent.boot_id)  # its command subscription is active
    return agent


def result_of(observer: CentralStub, cmd_id: str) -> wire.CommandResult:
    return wait_for(lambda: next((r for r in observer.results() if r.cmd_id == cmd_id), None),
                    what=f"the result of {cmd_id}")


def ask(observer: CentralStub, name: str) -> wire.CommandResult:
    """Send command ``name`` to the observer's device and wait for its result."""
    return result_of(observer, observer.command(observer.device_id, name))


def test_self_test_reports_every_check(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    data = config_dict(tmp_path, device_id=isolated_device_id, url=shared_mosquitto.url)
    data["inputs"].append(dict(LOOP))  # an unwired loop on a mock pin reads open: trouble
    agent = start_from_file(agent_set, write(tmp_path / "agent.toml", data), central_observer)
    wait_for(lambda: agent.input_states()["cabinet"] == "trouble", what="loop in trouble")
    result = ask(central_observer, "self_test")
    detail = result.detail
    assert detail["inputs"] == "gate-button=normal,cabinet=trouble"
    assert detail["inputs_not_normal"] == "cabinet=trouble"
    assert detail["serial"] == "none configured" and detail["camera"] == "none fitted"
    assert isinstance(detail["disk_free_mb"], int) and detail["disk_free_mb"] > 0
    assert detail["outbox_depth"] == agent.outbox.depth()
    assert str(detail["clock_ntp"]).startswith(("synchronised", "NOT synchronised", "unknown"))
    assert detail["clock_utc"]
    assert result.ok is False and "input cabinet in trouble" in str(detail["problems"])
    assert len(detail) <= 32


def test_reload_applies_hot_keys_and_refuses_the_rest(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    data = config_dict(tmp_path, device_id=isolated_device_id, url=shared_mosquitto.url,
                       heartbeat_interval_s=60)
    path = write(tmp_path / "agent.toml", data)
    agent = start_from_file(agent_set, path, central_observer)
    old_hash = agent.link.config_hash

    unchanged = ask(central_observer, "reload_config")
    assert unchanged.ok and unchanged.detail["changed"] == "nothing"

    write(path, {**data, "heartbeat_interval_s": 5, "walk_test": True})
    applied = ask(central_observer, "reload_config")
    assert applied.ok, applied.detail
    assert applied.detail["changed"] == "heartbeat_interval_s, walk_test"
    assert agent.config.heartbeat_interval_s == 5 and agent.config.walk_test
    assert agent.link.config_hash != old_hash
    wait_for(lambda: central_observer.statuses()[-1][0].config_hash == agent.link.config_hash,
             what="online status re-published with the new config hash")

    write(path, {**data, "heartbeat_interval_s": 7,
                 "broker": {**data["broker"], "keepalive_s": 10}, "inputs": []})
    refused = ask(central_observer, "reload_config")
    assert not refused.ok
    assert "needs a restart to change broker, inputs" in str(refused.detail["reason"])
    assert agent.config.heartbeat_interval_s == 5, "a refused reload applies nothing"

    path.write_text(f"device_id = '{isolated_device_id}'\n")  # broken: refused, nothing changes
    broken = ask(central_observer, "reload_config")
    assert not broken.ok and "not valid" in str(broken.detail["reason"])
    assert agent.connected


def test_reboot_runs_its_command_only_when_allowed(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    marker = tmp_path / "rebooted"
    reboot = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    data = config_dict(tmp_path, device_id=isolated_device_id, url=shared_mosquitto.url,
                       reboot_command=reboot)
    path = write(tmp_path / "agent.toml", data)
    agent = start_from_file(agent_set, path, central_observer)
    refused = ask(central_observer, "reboot")
    assert not refused.ok and "allow_reboot = false" in str(refused.detail["reason"])
    assert not marker.exists()

    write(path, {**data, "allow_reboot": True})
    assert ask(central_observer, "reload_config").ok
    done = ask(central_observer, "reboot")
    assert done.ok and marker.exists()

    write(path, {**data, "allow_reboot": True, "reboot_command": [sys.executable, "-c",
                                                                   "raise SystemExit(3)"]})
    assert ask(central_observer, "reload_config").ok
    failed = ask(central_observer, "reboot")
    assert not failed.ok and "exited 3" in str(failed.detail["reason"])
    assert agent.connected


def test_expired_commands_are_answered_and_redeliveries_run_once(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    agent = start_from_file(agent_set, write(tmp_path / "agent.toml", config_dict(
        tmp_path, device_id=isolated_device_id, url=shared_mosquitto.url)), central_observer)
    late = central_observer.command(isolated_device_id, "self_test", expires_in=-1)
    expired = result_of(central_observer, late)
    assert not expired.ok and expired.detail["reason"] == "expired"

    command = wire.Command(cmd_id=wire.new_id(), name="silence", by="officer-test",
                           expires_at=wire.utcnow() + timedelta(seconds=60))
    for _ in range(2):  # a QoS 1 redelivery carries the same cmd_id
        central_observer.raw(TOPICS.cmd(isolated_device_id), wire.encode(command))
    marker = central_observer.command(isolated_device_id, "self_test")  # after both copies
    result_of(central_observer, marker)
    assert [r.cmd_id for r in central_observer.results()].count(command.cmd_id) == 1
    assert agent.connected
