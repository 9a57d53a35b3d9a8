"""Local self-test for installers: config, inputs, outbox and broker reachability.

``alarmlink agent self-test --config FILE`` runs :func:`run_self_test` on the
device itself. It does not publish anything and does not use the agent's
client id, so it can run next to a running agent without kicking it off the
broker. (On a Pi, the pins of a running agent are busy; the input check then
reports that instead of the levels.)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from alarmlink.mqtt import MqttConnectError, connect_client
from edge_agent.config import AgentConfig, ConfigError, DetectorInput
from edge_agent.inputs import build_inputs
from edge_agent.mockpins import mock_factory, mock_requested, rest_pins
from edge_agent.outbox import Outbox, OutboxError

logger = logging.getLogger(__name__)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class SelfTestReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def lines(self) -> list[str]:
        return [f"{'OK  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]


def config_warnings(config: AgentConfig) -> list[str]:
    """Things that are valid but an installer should know about."""
    notes: list[str] = []
    for index, item in enumerate(config.inputs):
        if isinstance(item, DetectorInput) and item.supervision_pin is None:
            if item.contact == "normally_open":
                notes.append(f"inputs[{index}] ({item.zone}): normally-open detector without "
                             "supervision_pin: a cut wire is NOT detected")
            else:
                notes.append(f"inputs[{index}] ({item.zone}): normally-closed detector without "
                             "supervision_pin: a cut wire or unpowered detector is reported as "
                             "an ALARM (fail-safe)")
    if config.broker.password is not None:
        notes.append("broker.password is inline; prefer password_file or a systemd credential")
    try:
        config.broker.resolve_password()
    except ConfigError as exc:
        notes.append(f"{exc} (the agent cannot connect until it is readable)")
    if config.walk_test:
        notes.append("walk_test = true: every event is a test event and never reaches officers")
    return notes


def check_broker(config: AgentConfig, timeout: float = 5.0) -> tuple[bool, str]:
    """Connect once with the device's credentials; report the result.

    The broker binds the client id to the account, so this is the device's own session:
    it is resumed (``clean_start`` false), never wiped, but a running agent is pushed
    off once. Stop the agent first (the pin test needs that anyway).
    """
    broker = config.broker
    try:
        broker.resolve_password()
    except ConfigError as exc:
        return False, str(exc)
    try:
        client = connect_client(broker, clean=False, timeout=timeout, keepalive=10)
    except MqttConnectError as exc:
        return False, str(exc)
    client.disconnect()
    client.loop_stop()
    return True, f"{broker.url} accepted {broker.username} ({broker.protocol})"


def run_self_test(config: AgentConfig, *, pin_factory: Any = None,
                  broker_timeout: float = 5.0) -> SelfTestReport:
    report = SelfTestReport()
    report.add("config", True, f"{config.device_id} ({config.venue}), hash "
                               f"{config.config_hash()}")
    for note in config_warnings(config):
        report.add("config note", True, note)
    resting = pin_factory is None and mock_requested()
    if resting:
        pin_factory = mock_factory()
    try:
        inputs = build_inputs(list(config.inputs), pin_factory=pin_factory)
        if resting:  # no wiring on a PC: every contact at rest, as a quiet venue
            rest_pins(pin_factory, config)
            now = time.monotonic()
            for built in inputs.values():
                built.main.arm(now)
                if built.supervision is not None:
                    built.supervision.arm(now)
    except Exception as exc:  # gpiozero raises many types (busy pin, no factory, ...)
        report.add("inputs", False, f"cannot open the GPIO pins: {type(exc).__name__}: {exc} "
                                    "(is the agent running? stop it to test the pins)")
    else:
        try:
            for zone, item in inputs.items():
                contact = "closed" if item.main.closed else "open"
                active = item.main.filter.raw
                text = (f"GPIO{item.main.pin} contact {contact}: "
                        f"{'ACTIVE (alarm/trouble position)' if active else 'normal'}")
                if item.supervision is not None:
                    sup = "closed" if item.supervision.closed else "OPEN (trouble)"
                    text += f"; supervision GPIO{item.supervision.pin} {sup}"
                report.add(f"input {zone}", not active, text)
        finally:
            for item in inputs.values():
                item.close()
    try:
        with Outbox(config.outbox_path, config.device_id) as outbox:
            report.add("outbox", True, f"{outbox.path}: {outbox.depth()} unconfirmed, "
                                       f"next seq {outbox.next_seq}")
    except OutboxError as exc:
        report.add("outbox", False, str(exc))
    if config.camera is None:
        report.add("camera", True, "none configured")
    else:
        from edge_agent.camera.sources import check_camera

        ok, detail = check_camera(config.camera, config.venue)
        report.add(f"camera {config.camera.name}", ok, detail)
    from edge_agent.rtc import tone

    if config.rtc is None or not config.rtc.playback_device:
        report.add("speaker", True, "none configured ([rtc] playback_device)")
    else:
        report.add("speaker", *tone.play_test_tone(config.rtc.playback_device))
    if config.rtc is not None and config.rtc.capture_device:
        report.add("microphone", *tone.check_capture(config.rtc.capture_device))
    ok, detail = check_broker(config, broker_timeout)
    report.add("broker", ok, detail)
    return report
