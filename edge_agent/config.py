"""The edge agent's configuration: one TOML file per venue device, validated by pydantic.

Every table forbids unknown keys, so a typo fails loudly instead of silently
falling back to a default. :func:`load_config` raises :class:`ConfigError`
whose message names the file, the key path and the reason, one line per
problem, for example::

    school.toml: broker.usrname: unknown key (did you mean 'username'?)
    school.toml: broker: required section missing

Relative paths (``state_dir``, ``broker.password_file``, ``broker.ca_file``) are
relative to the config file, not to the working directory.

The broker password is looked up in this order: ``broker.password``,
``broker.password_file``, then ``$CREDENTIALS_DIRECTORY/mqtt-password``
(systemd ``LoadCredential=mqtt-password:...``). Prefer a file or the systemd
credential over an inline password. Secrets are :class:`~pydantic.SecretStr`:
they never appear in ``repr()``, logs or :meth:`AgentConfig.config_hash`.

The pin numbering is BCM (the ``GPIO17`` numbers), as an integer, or a
gpiozero pin name: ``"GPIO17"``, ``"BCM17"``, ``"BOARD11"`` or ``"J8:11"``
(physical header pin). All of them are normalised to the BCM number.
See ``firmware_configs/*.toml`` for commented examples.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alarmlink import wire
from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.config_base import (
    ConfigError,
    StrictModel,
    describe_errors,
    resolve_config_path,
)
from edge_agent.camera.config import CameraConfig
from edge_agent.failover_config import FailoverConfig
from edge_agent.pins import normalise_pin
from edge_agent.rtc.config import RtcConfig
from edge_agent.serial.config import SerialInput, check_serials


class _Strict(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)



Contact = Literal["normally_open", "normally_closed"]
#: A one-key button's default debounce (ms): above its contact bounce, small in an alarm's
#: press -> console time (detectors keep 50 ms and have their confirmation time besides).
BUTTON_DEBOUNCE_MS = 20


class _InputBase(_Strict):
    zone: wire.Zone = Field(description="Zone name shown to the duty officer, unique per device.")
    pin: int = Field(description="BCM GPIO number, or a pin name: 'GPIO17', 'BOARD11', 'J8:11'.")
    pull_up: bool = Field(
        True, description="true: internal pull-up, contact switches the pin to ground (the "
                          "usual wiring); false: pull-down, contact switches to 3.3 V.")
    debounce_ms: int = Field(50, ge=0, le=5000,
                             description="A level must be stable this long to count.")

    @field_validator("pin", mode="before")
    @classmethod
    def _check_pin(cls, value: object) -> int:
        return normalise_pin(value)


class ButtonInput(_InputBase):
    """A one-key alarm button: pressing it raises ``kind`` at once (after debounce).

    The alarm latches at central; releasing the button reports nothing unless
    ``report_restore`` is true (for latching buttons that are reset with a key).
    """

    type: Literal["button"] = Field(description="A one-key alarm button.")
    debounce_ms: int = Field(
        BUTTON_DEBOUNCE_MS, ge=0, le=5000,
        description="A level must be stable this long to count. 20 ms rejects a push "
                    "button's contact bounce (typically under 5 ms, rarely over 10 ms) with "
                    "room to spare; raise it for long or noisy cable runs (50-100 ms).")
    kind: Literal["panic", "fire", "medical", "talk"] = Field(
        "panic", description="What a press means: panic (one-key alarm), fire, medical, or "
                             "talk (a separate talk button: each press asks the duty officer "
                             "to talk, no alarm).")
    talk_window_s: float = Field(
        0, ge=0, le=30, description="A second press within this many seconds of the last "
                                    "asks the duty officer to talk (instead of a second "
                                    "alarm); 0: off.")
    contact: Contact = Field("normally_open", description="Contact of the button.")
    confirm_ms: int = Field(0, ge=0, le=60_000,
                            description="Extra time the press must be held before it alarms.")
    report_restore: bool = Field(False, description="Send a restore when the button is released.")


class DetectorInput(_InputBase):
    """A smoke or heat detector's relay contact (or a fire panel's alarm output relay).

    ``normally_open``: the contact closes on alarm. A cut wire looks like "no
    alarm" and is undetectable unless ``supervision_pin`` is wired.

    ``normally_closed``: the contact opens on alarm. Without ``supervision_pin``
    the agent cannot tell an alarm from a cut wire or a detector without power,
    so it fails safe: **an open normally-closed contact is reported as an
    alarm**. With ``supervision_pin`` wired to the detector's separate
    normally-closed fault/supervision loop, an open supervision loop is reported
    as ``trouble`` (kind ``trouble``) and its closing again as ``restore``.
    """

    type: Literal["detector"] = Field(description="A detector's (or panel's) relay contact.")
    kind: Literal["smoke", "heat", "fire"] = Field("smoke", description="What the detector senses.")
    contact: Contact = Field(description="normally_open (closes on alarm) or normally_closed "
                                         "(opens on alarm; open wire = alarm, fail-safe).")
    confirm_ms: int = Field(500, ge=0, le=60_000,
                            description="The alarm must persist this long before it is raised.")
    supervision_pin: int | None = Field(
        None, description="Optional pin of a normally-closed supervision loop: open = trouble.")
    supervision_confirm_ms: int = Field(
        1000, ge=0, le=60_000, description="How long the supervision loop must stay open.")
    report_restore: bool = Field(True, description="Send a restore when the contact returns.")

    @field_validator("supervision_pin", mode="before")
    @classmethod
    def _check_supervision_pin(cls, value: object) -> int | None:
        return None if value is None else normalise_pin(value)

    @model_validator(mode="after")
    def _check_supervision(self) -> DetectorInput:
        if self.supervision_pin is not None and self.supervision_pin == self.pin:
            raise ValueError(f"supervision_pin must differ from pin (both {self.pin})")
        return self


class LoopInput(_InputBase):
    """A normally-closed supervision loop (cabinet tamper, wiring loop, power-fail relay).

    Open = ``trouble`` (with ``kind``), closed again = ``restore``. Trouble is
    not an alarm: central keeps it apart from fire and panic alarms.
    """

    type: Literal["loop"] = Field(description="A normally-closed supervision loop.")
    kind: Literal["trouble", "tamper", "power"] = Field(
        "trouble", description="Kind reported while the loop is open.")
    confirm_ms: int = Field(1000, ge=0, le=60_000,
                            description="The loop must stay open this long to be reported.")


InputConfig = Annotated[ButtonInput | DetectorInput | LoopInput, Field(discriminator="type")]
INPUT_TYPES: dict[str, type[BaseModel]] = {
    "button": ButtonInput, "detector": DetectorInput, "loop": LoopInput,
}


class FeedbackConfig(_Strict):
    """``[feedback]``: the venue's LED (and buzzer) next to the button."""

    led_pin: int | None = Field(None, description="LED showing the latest alarm's stage.")
    buzzer_pin: int | None = Field(None, description="Optional active buzzer.")
    talk_led_pin: int | None = Field(
        None, description="Optional LED beside the talk button: slow blink while the venue's "
                          "talk request is on its way, fast blink once central has it, on "
                          "while an officer is connected (docs/reference.md).")
    talk_blink_s: float = Field(
        300, ge=10, le=3600, description="The talk LED stops blinking after this long if no "
                                         "officer answers.")
    active_high: bool = Field(True, description="false for outputs that switch on at low level.")

    @field_validator("led_pin", "buzzer_pin", "talk_led_pin", mode="before")
    @classmethod
    def _check_pins(cls, value: object) -> int | None:
        return None if value is None else normalise_pin(value)


class AgentConfig(_Strict):
    """One venue device: identity, broker, inputs and feedback."""

    device_id: str = Field(pattern=wire.DEVICE_ID_PATTERN,
                           description="Device id; also the MQTT client id and user name.")
    venue: str = Field(min_length=1, max_length=128, description="Venue display name.")
    heartbeat_interval_s: float = Field(
        15.0, ge=1, le=3600, description="Heartbeat period: at most the heartbeat_s of the "
                                         "device's supervision class at central.")
    resend_timeout_s: float = Field(
        10.0, ge=1, le=600, description="Resend an unconfirmed event after this long; doubles "
                                        "per attempt up to resend_max_s. While receipts "
                                        "for other events keep coming (central working "
                                        "through a backlog), events in flight wait.")
    resend_max_s: float = Field(120.0, ge=1, le=3600, description="Longest resend interval.")
    state_dir: Path = Field(Path("/var/lib/alarmlink"),
                            description="Directory of the durable outbox (SQLite).")
    walk_test: bool = Field(False, description="Mark every event as a test event (commissioning "
                                               "walk test): stored, never sent to officers.")
    watchdog_link_grace_s: float = Field(
        300.0, ge=1, le=86_400, description="Under systemd (WatchdogSec=): stop feeding the "
        "watchdog once the MQTT link has been down this long, so systemd restarts the agent.")
    allow_reboot: bool = Field(False, description="Obey central's reboot command.")
    reboot_command: list[str] = Field(
        default_factory=lambda: ["systemctl", "reboot"], min_length=1,
        description="What central's reboot command runs (only with allow_reboot = true).")
    broker: BrokerConfig = Field(description="MQTT broker connection.")
    inputs: list[InputConfig] = Field(default_factory=list, description="GPIO inputs.")
    serials: list[SerialInput] = Field(
        default_factory=list, description="Serial fire panels / transmission devices "
                                          "(GB/T 26875.3, Contact ID, SIA DC-09).")
    feedback: FeedbackConfig = Field(default_factory=lambda: FeedbackConfig(),
                                     description="Venue feedback outputs.")
    camera: CameraConfig | None = Field(
        None, description="The venue camera (edge_agent/camera/config.py); none if left out.")
    rtc: RtcConfig | None = Field(
        None, description="Live audio/video with duty consoles (edge_agent/rtc/config.py); "
                          "none if left out.")
    modem: FailoverConfig | None = Field(
        None, description="GSM modem for SMS failover and the local sounder "
                          "(edge_agent/failover_config.py); none if left out.")

    @field_validator("state_dir")
    @classmethod
    def _relative_state_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_config_path(value, info) or value

    @field_validator("inputs")
    @classmethod
    def _unique_zones(cls, inputs: list[ButtonInput | DetectorInput | LoopInput]
                      ) -> list[ButtonInput | DetectorInput | LoopInput]:
        seen: dict[str, int] = {}
        for index, item in enumerate(inputs):
            if item.zone in seen:
                raise ValueError(f"zone {item.zone!r} is used by inputs[{seen[item.zone]}] and "
                                 f"inputs[{index}]; zones must be unique")
            seen[item.zone] = index
        return inputs

    @model_validator(mode="after")
    def _unique_pins(self) -> AgentConfig:
        if self.resend_timeout_s > self.resend_max_s:
            raise ValueError("resend_timeout_s is above resend_max_s")
        used: dict[int, str] = {}
        claims: list[tuple[int | None, str]] = []
        for index, item in enumerate(self.inputs):
            claims.append((item.pin, f"inputs[{index}].pin"))
            if isinstance(item, DetectorInput):
                claims.append((item.supervision_pin, f"inputs[{index}].supervision_pin"))
        claims += [(self.feedback.led_pin, "feedback.led_pin"),
                   (self.feedback.buzzer_pin, "feedback.buzzer_pin"),
                   (self.feedback.talk_led_pin, "feedback.talk_led_pin"),
                   (self.modem.sounder_pin if self.modem else None, "modem.sounder_pin")]
        for pin, where in claims:
            if pin is None:
                continue
            if pin in used:
                raise ValueError(f"GPIO{pin} is used twice: {used[pin]} and {where}")
            used[pin] = where
        check_serials(self.serials, (item.zone for item in self.inputs))
        return self

    @property
    def outbox_path(self) -> Path:
        """``{state_dir}/outbox-{device_id}.sqlite3`` (one file per device id)."""
        return self.state_dir / f"outbox-{self.device_id}.sqlite3"

    @property
    def topics(self) -> wire.Topics:
        return wire.Topics(self.broker.topic_prefix)

    def input(self, zone: str) -> ButtonInput | DetectorInput | LoopInput:
        for item in self.inputs:
            if item.zone == zone:
                return item
        raise KeyError(f"no input with zone {zone!r} (zones: "
                       f"{', '.join(i.zone for i in self.inputs) or 'none'})")

    def config_hash(self) -> str:
        """A short stable hash of everything but secrets, for the status message."""
        data = self.model_dump(mode="json", exclude={"broker": {"password"}})
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_overrides(self, overrides: Mapping[str, object]) -> AgentConfig:
        """A re-validated copy with dotted keys replaced, e.g. ``{"broker.url": "mqtt://..."}``.

        Setting ``broker.password`` clears ``broker.password_file`` and the reverse.
        Raises :class:`ConfigError`.
        """
        data: dict[str, Any] = self.model_dump(mode="python")
        if self.broker.password is not None:
            data["broker"]["password"] = self.broker.password.get_secret_value()
        for key, value in overrides.items():
            *parents, leaf = key.split(".")
            target = data
            for part in parents:
                if not isinstance(target.get(part), dict):
                    raise ConfigError([f"override {key}: {part!r} is not a section"])
                target = target[part]
            target[leaf] = value
            if parents == ["broker"] and leaf in ("password", "password_file"):
                target.pop("password_file" if leaf == "password" else "password", None)
        return validate_config(data, source="(overrides)", base_dir=Path.cwd())


def validate_config(data: Mapping[str, Any], *, source: str, base_dir: Path) -> AgentConfig:
    """Validate an already parsed config mapping. Raises :class:`ConfigError`."""
    try:
        return AgentConfig.model_validate(dict(data), context={"base_dir": base_dir})
    except ValidationError as exc:
        lines = describe_errors(exc, AgentConfig, data=data, tags=INPUT_TYPES)
        raise ConfigError([f"{source}: {line}" for line in lines]) from None


def load_config(path: str | Path, overrides: Mapping[str, object] | None = None) -> AgentConfig:
    """Read and validate a TOML config file. Raises :class:`ConfigError` naming file and key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    config = validate_config(raw, source=str(path), base_dir=path.resolve().parent)
    return config.with_overrides(overrides) if overrides else config
