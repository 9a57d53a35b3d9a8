"""Scenario files for ``alarmlink sim panel``: a timeline of panel events in one protocol.

::

    name = "Riverside Hotel: GB/T 26875.3 transmission device"
    protocol = "gb26875"          # gb26875 | contactid | sia-dc09

    [[step]]
    at = 1.0                      # seconds after the start
    flags = ["fire"]              # gb26875 component state bits; [] = back to normal
    component_type = 40           # smoke detector
    address = "0A000200"          # component address, 4 bytes in hex as on the wire
    description = "2F east corridor smoke detector"   # GB 18030, at most 31 bytes

    [[step]]
    at = 3.0
    action = "noise"              # send | corrupt | noise | unplug | replug
    size = 40

Fields per protocol (a field of another protocol is an error):

- gb26875: ``record`` (component | system | uitd | operation), ``flags`` (bit names of
  the GB 26875 tables: fire, fault, shielded, supervisory, started, feedback, delay,
  power_fault; system adds main_power_fault, backup_power_fault, bus_fault; uitd has
  main_power_fault, backup_power_fault, link_fault, line_fault; operation: reset,
  silence, manual_alarm, alarm_cleared, self_test, confirm, test), ``component_type``,
  ``address``, ``description``, ``sys_type``, ``sys_addr``, ``test`` (b0 = 0).
- contactid: ``code`` (event code, e.g. 111), ``qualifier`` (1 new, 3 restore, 6 still
  present), ``account``, ``group``, ``zone``, ``spaced``.
- sia-dc09: ``code`` two letters (SIA-DCS, e.g. "FA") or a number (ADM-CID, Contact ID
  code, with ``qualifier`` and ``group``), ``zone``, ``account``, ``text`` (SIA-DCS
  free text, ASCII).

``corrupt`` sends the step's frame with a broken checksum (the agent must refuse it and
raise nothing); ``noise`` sends ``size`` random bytes; ``unplug``/``replug`` remove and
re-create the pseudo-terminal (``--port pty`` only).
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from alarmlink.codecs import contactid, sia_dc09
from alarmlink.codecs.gb26875 import CMD_SEND, Checksum, encode_frame
from alarmlink.codecs.gb26875_data import (
    ComponentState,
    Record,
    SystemState,
    TimeLabel,
    UitdOperation,
    UitdState,
    encode_app_data,
    encode_description,
)
from alarmlink.codecs.gb26875_events import (
    COMPONENT_FLAGS,
    OPERATION_FLAGS,
    SYSTEM_FLAGS,
    UITD_FLAGS,
)
from alarmlink.codecs.sia_codes import adm_cid_data, sia_data
from alarmlink.config_base import ConfigError, FrozenStrictModel, describe_errors

Protocol = Literal["gb26875", "contactid", "sia-dc09"]
Action = Literal["send", "corrupt", "noise", "unplug", "replug"]
#: Addresses of the public GB 26875.3 example (docs/protocols.md): UITD and centre.
UITD_ADDR = bytes.fromhex("790300000000")
CENTRE_ADDR = bytes.fromhex("385B01000000")
GB_FLAGS = {"component": COMPONENT_FLAGS, "system": SYSTEM_FLAGS, "uitd": UITD_FLAGS,
            "operation": OPERATION_FLAGS}
FIELDS: dict[str, frozenset[str]] = {
    "gb26875": frozenset({"record", "flags", "component_type", "address", "description",
                          "sys_type", "sys_addr", "test"}),
    "contactid": frozenset({"code", "qualifier", "account", "group", "zone", "spaced"}),
    "sia-dc09": frozenset({"code", "qualifier", "account", "group", "zone", "text"}),
}


class _Strict(FrozenStrictModel):
    """Unknown keys are errors."""


class PanelStep(_Strict):
    """One thing the panel does at ``at`` seconds (fields per protocol: module docstring)."""

    at: float = Field(ge=0, description="Seconds after the start of the cycle.")
    action: Action = Field("send", description="send | corrupt | noise | unplug | replug.")
    note: str = Field("", max_length=200, description="Printed when the step runs.")
    size: int | None = Field(None, ge=1, le=4096, description="noise: how many bytes.")
    record: Literal["component", "system", "uitd", "operation"] | None = None
    flags: list[str] | None = None
    component_type: int | None = Field(None, ge=0, le=255)
    address: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{8}$")
    description: str | None = None
    sys_type: int | None = Field(None, ge=0, le=255)
    sys_addr: int | None = Field(None, ge=0, le=255)
    test: bool | None = None
    code: int | str | None = None
    qualifier: Literal[1, 3, 6] | None = None
    account: str | None = Field(None, pattern=r"^[0-9A-F]{3,16}$")
    group: int | None = Field(None, ge=0, le=99)
    zone: int | None = Field(None, ge=0, le=999)
    spaced: bool | None = None
    text: str | None = Field(None, max_length=64, pattern=r"^[ -Z_a-z]*$")

    def set_fields(self) -> set[str]:
        return {name for name in self.model_fields_set if getattr(self, name) is not None}


def _check_step(protocol: str, index: int, step: PanelStep) -> None:
    where = f"step[{index}]"
    given = step.set_fields() - {"at", "action", "note", "size"}
    if step.action in ("noise", "unplug", "replug"):
        if given:
            raise ValueError(f"{where}: {step.action} takes no {', '.join(sorted(given))}")
        if step.action == "noise" and step.size is None:
            raise ValueError(f"{where}: noise needs size (bytes)")
        return
    if step.size is not None:
        raise ValueError(f"{where}.size: only for action 'noise'")
    wrong = sorted(given - FIELDS[protocol])
    if wrong:
        raise ValueError(f"{where}.{wrong[0]}: not a {protocol} field (it has "
                         f"{', '.join(sorted(FIELDS[protocol]))})")
    if protocol == "gb26875":
        kind = step.record or "component"
        allowed = GB_FLAGS[kind] if kind == "operation" else GB_FLAGS[kind][1:]
        bad = [f for f in step.flags or [] if f not in allowed]
        if bad:
            raise ValueError(f"{where}.flags: unknown {bad[0]!r} for a {kind} record (known: "
                             f"{', '.join(allowed)})")
        if step.description is not None:
            try:
                encode_description(step.description)
            except (ValueError, UnicodeEncodeError):
                raise ValueError(f"{where}.description: must fit 31 bytes of GB 18030") from None
        return
    if step.code is None:
        raise ValueError(f"{where}.code: required for {protocol}")
    if isinstance(step.code, int) and not 0 <= step.code <= 999:
        raise ValueError(f"{where}.code: a Contact ID event code is 0..999")
    if isinstance(step.code, str):
        if protocol == "contactid" or len(step.code) != 2 or not step.code.isupper():
            raise ValueError(f"{where}.code: {step.code!r} is not "
                             + ("a number" if protocol == "contactid" else
                                "two upper-case letters (SIA) or a number (ADM-CID)"))
        if step.qualifier is not None or step.group is not None:
            raise ValueError(f"{where}: qualifier and group are for ADM-CID (numeric) codes")
    elif step.text is not None:
        raise ValueError(f"{where}.text: only for SIA-DCS (two-letter) codes")
    if protocol == "contactid" and step.account is not None and len(step.account) != 4:
        raise ValueError(f"{where}.account: a Contact ID account is 4 digits")


class PanelScenario(_Strict):
    name: str = Field("", description="Shown when the scenario starts.")
    description: str = Field("", description="Free text for the tester.")
    protocol: Protocol = Field(description="gb26875, contactid or sia-dc09.")
    period_s: float | None = Field(None, gt=0, description="Cycle length with --repeat.")
    step: list[PanelStep] = Field(min_length=1, description="The timeline, in order of 'at'.")

    @model_validator(mode="after")
    def _check(self) -> PanelScenario:
        for index, step in enumerate(self.step):
            if index and step.at < self.step[index - 1].at:
                raise ValueError(f"step[{index}].at ({step.at:g}) is before step[{index - 1}]"
                                 f".at ({self.step[index - 1].at:g})")
            _check_step(self.protocol, index, step)
        if self.period_s is not None and self.period_s < self.step[-1].at:
            raise ValueError(f"period_s ({self.period_s:g}) is shorter than the last step")
        return self

    @property
    def period(self) -> float:
        return self.period_s if self.period_s is not None else self.step[-1].at + 10.0


def load_panel_scenario(path: str | Path) -> PanelScenario:
    """Read and validate a scenario file. Raises ConfigError naming file, key and reason."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    try:
        return PanelScenario.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {line}" for line in
                           describe_errors(exc, PanelScenario, data=raw)]) from None


def _bits(names: list[str] | None, table: tuple[str, ...]) -> int:
    return sum(1 << table.index(name) for name in names or [])


def gb_record(step: PanelStep, now: datetime) -> Record:
    label = TimeLabel.from_datetime(now)
    kind = step.record or "component"
    bits = _bits(step.flags, GB_FLAGS[kind])
    if kind == "operation":
        return UitdOperation(bits, 0, label)
    normal = 0 if step.test else 1  # b0: 1 normal, 0 test
    if kind == "uitd":
        return UitdState(bits | normal, label)
    if kind == "system":
        return SystemState(step.sys_type or 1, step.sys_addr or 1, bits | normal, label)
    return ComponentState(step.sys_type or 1, step.sys_addr or 1,
                          40 if step.component_type is None else step.component_type,
                          bytes.fromhex(step.address or "01000000"), bits | normal,
                          step.description or "", label)


def encode_step(protocol: str, step: PanelStep, ref: int, *, now: datetime | None = None,
                checksum: Checksum = "sum") -> bytes:
    """The step's frame in the real byte format; ``ref`` is the GB serial / DC-09 seq."""
    now = now or datetime.now(UTC)
    if protocol == "gb26875":
        data = encode_app_data([gb_record(step, now.astimezone())])
        return encode_frame(serial=ref & 0xFFFF, command=CMD_SEND, source=UITD_ADDR,
                            dest=CENTRE_ADDR, time=now.astimezone(), data=data,
                            checksum=checksum)
    code = step.code
    account = step.account or "1234"
    zone = 0 if step.zone is None else step.zone
    if protocol == "contactid":
        assert isinstance(code, int)
        return contactid.encode_message(account, code, step.qualifier or 1, step.group or 0,
                                        zone, spaced=bool(step.spaced)).encode() + b"\r\n"
    if isinstance(code, int):
        block, ident = adm_cid_data(account, code, step.qualifier or 1, step.group or 0,
                                    zone), "ADM-CID"
    else:
        assert code is not None
        block = sia_data(account, code, "" if step.zone is None else zone)
        block += f"^{step.text}^" if step.text else ""
        ident = "SIA-DCS"
    return sia_dc09.encode_message(seq=ref % 10000, account=account, data=block, id=ident,
                                   timestamp=now)


def corrupt(protocol: str, frame: bytes) -> bytes:
    """``frame`` with a broken checksum (GB sum, Contact ID digit, DC-09 CRC): never valid."""
    data = bytearray(frame)
    if protocol == "gb26875":
        data[-3] ^= 0x01
    elif protocol == "contactid":
        end = len(data.rstrip(b"\r\n")) - 1
        data[end] = ord("7") if data[end] != ord("7") else ord("8")
    else:
        data[1] = ord("0") if data[1] != ord("0") else ord("1")
    return bytes(data)


def describe_step(protocol: str, step: PanelStep) -> str:
    """Human words for a send step, e.g. ``component 0A000200 fire "2F east ..."``."""
    if protocol == "gb26875":
        kind = step.record or "component"
        text = f"{kind} {','.join(step.flags or []) or 'normal'}"
        if kind == "component":
            text = f"{kind} {step.address or '01000000'} {text.split(' ', 1)[1]}"
        return text + (f" {step.description!r}" if step.description else "")
    if isinstance(step.code, int):
        q = {1: "new", 3: "restore", 6: "still present"}[step.qualifier or 1]
        return (f"{'ADM-CID ' if protocol == 'sia-dc09' else ''}code {step.code} "
                f"({contactid.DESCRIPTIONS.get(step.code, '?')}) {q} group {step.group or 0} "
                f"zone {step.zone or 0}")
    return f"SIA {step.code} zone {step.zone if step.zone is not None else '-'}" + (
        f" {step.text!r}" if step.text else "")
