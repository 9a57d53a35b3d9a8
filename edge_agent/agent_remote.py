"""What the agent does for central beyond events: commands, config reload, reports.

:class:`AgentRemote` is a mixin of :class:`edge_agent.agent.Agent` (split out by
responsibility): the command runner's actions (:class:`~edge_agent.commands.CommandActions`),
installing a reloaded config on the main loop thread, the self-test report, the
heartbeat with the zones' states, and the commands from central.
It uses the agent's attributes declared below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from alarmlink import wire
from edge_agent.commands import CommandActions, CommandRunner, Result, reboot, reload_config
from edge_agent.commands import self_test as full_self_test
from edge_agent.config import AgentConfig

if TYPE_CHECKING:
    from edge_agent.camera.service import CameraService
    from edge_agent.failover import Failover
    from edge_agent.feedback import Feedback
    from edge_agent.inputs import AlarmInput
    from edge_agent.link import MqttLink
    from edge_agent.loop_calls import LoopCalls
    from edge_agent.outbox import Outbox
    from edge_agent.serial.reader import SerialLink

_THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")


class AgentRemote:
    """Commands, reload, self test and heartbeat of :class:`~edge_agent.agent.Agent`."""

    config: AgentConfig
    config_path: Path | None
    device_id: str
    boot_id: str
    version: str
    camera: CameraService | None
    failover: Failover | None
    serial_links: list[SerialLink]
    loop_calls: LoopCalls
    link: MqttLink
    _outbox: Outbox
    _feedback: Feedback
    _inputs: Mapping[str, AlarmInput]
    uptime_s: Callable[[], float]
    commands: CommandRunner

    def input_states(self) -> dict[str, str]:
        """Each zone's state: inputs, serial links, the camera."""
        states: dict[str, str] = {zone: item.state for zone, item in self._inputs.items()}
        states.update((link.zone, link.state) for link in self.serial_links)
        if self.camera is not None:
            states[self.camera.config.zone] = "trouble" if self.camera.offline else "normal"
        return states

    # --- from central (paho's thread) -------------------------------------------------

    def _on_command(self, command: wire.Command) -> None:
        # Queued to the command worker (edge_agent/commands.py); see _command_actions().
        self.commands.handle(command)

    def heartbeat(self) -> wire.Heartbeat:
        return wire.Heartbeat(ts=wire.utcnow(), uptime_s=self.uptime_s(),
                              outbox_depth=self._outbox.depth(), inputs=self.input_states(),
                              temperature_c=_cpu_temperature(),
                              session_takeovers=self.link.session_takeovers)

    # --- commands (the runner's worker thread) --------------------------------------

    def _command_actions(self) -> CommandActions:
        camera = self.camera

        def self_test() -> Result:
            return full_self_test(self.device_id, input_states=self.input_states(),
                                  serial_links=self.serial_links, camera=camera,
                                  state_dir=self.config.state_dir, base_report=self.self_test)

        def reload() -> Result:
            return reload_config(self.config_path, self.config, self._reload_in_loop)

        return CommandActions(self_test=self_test, reload_config=reload,
                              reboot=lambda: reboot(self.config), silence=self._silence,
                              take_snapshot=None if camera is None else camera.command)

    def _silence(self) -> Result:
        self._feedback.silence()
        if self.failover is not None:
            self.failover.silence()
        return True, {"buzzer": "silenced" if self._feedback.buzzer else "none fitted"}

    def _reload_in_loop(self, new: AgentConfig) -> str:
        return self.loop_calls.call(lambda: self._apply_config(new))

    def _apply_config(self, new: AgentConfig) -> str:
        """Install a reloaded config; returns its hash. Main loop thread only."""
        self.config = new
        self._outbox.resend_timeout_s = new.resend_timeout_s
        self._outbox.resend_max_s = max(new.resend_max_s, new.resend_timeout_s)
        self.link.config_hash = new.config_hash()
        status = wire.Status(state=wire.Availability.ONLINE, ts=wire.utcnow(),
                             boot_id=self.boot_id, version=self.version,
                             config_hash=self.link.config_hash)
        self.link.publish(self.link.topics.status(self.device_id), wire.encode(status),
                          qos=1, retain=True)
        return self.link.config_hash

    def self_test(self) -> dict[str, wire.DetailValue]:
        """Flat report of this agent's health (fits a wire ``detail``)."""
        inputs = ",".join(f"{zone}={state}" for zone, state in self.input_states().items())
        return {
            "inputs": inputs[:512],
            "input_count": len(self._inputs),
            "outbox_depth": self._outbox.depth(),
            "next_seq": self._outbox.next_seq,
            "connected": self.link.connected,
            "uptime_s": round(self.uptime_s(), 1),
            "feedback_stage": self._feedback.stage,
            "version": self.version,
            "config_hash": self.link.config_hash,
            **{f"serial {link.name}": link.summary() for link in self.serial_links[:20]},
        }


def _cpu_temperature() -> float | None:
    """The SoC temperature on a Pi (None elsewhere)."""
    try:
        return round(int(_THERMAL.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None
