"""``[[serials]]``: one serial fire panel or alarm transmission device per table.

::

    [[serials]]
    name = "fire-panel"                # link troubles: zone "fire-panel serial link"
    port = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K1234-if00-port0"
    protocol = "gb26875"               # gb26875 | contactid | sia-dc09
    baudrate = 9600                    # 8N1 unless bytesize / parity / stopbits say otherwise
    loss_trouble_s = 20                # port gone this long -> one trouble
    silence_trouble_s = 0              # no valid frame this long -> trouble (0 = off)
    checksum = "sum"                   # gb26875 only: sum | sum-from-command | xor
    # key_file = "dc09-keys.toml"      # sia-dc09 only: AES keys per account, mode 0600

    [serials.zone_names]               # optional labels for decoded zones
    "cid-1234-g01-z015" = "2F east corridor smoke"

Every key is described by its ``Field``; protocol options that do not apply to the
chosen protocol are errors, not silently ignored. README, "Serial fire panels".
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator, model_validator

from alarmlink.config_base import FrozenStrictModel
from alarmlink.dc09_keys import KeyFileError, load_keys

PROTOCOL_NAMES = ("gb26875", "contactid", "sia-dc09")
Protocol = Literal["gb26875", "contactid", "sia-dc09"]
Parity = Literal["none", "even", "odd", "mark", "space"]
PARITY_CODES = {"none": "N", "even": "E", "odd": "O", "mark": "M", "space": "S"}
#: pyserial URL schemes that make sense for a panel link.
URL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep")
#: Options that only the GB/T 26875.3 decoder understands.
GB_OPTIONS = ("checksum", "reply_time", "honour_test_bit", "timezone")
LINK_ZONE_SUFFIX = " serial link"


class SerialInput(FrozenStrictModel):
    """One serial port with a panel (or UITD) on it: framing, protocol, supervision."""


    name: str = Field(
        min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$",
        description="Name of this panel link, unique per device. Link troubles are reported "
                    "in zone '<name> serial link'.")
    port: str = Field(
        min_length=1, max_length=256,
        description="Device path (prefer the stable /dev/serial/by-id/... link over "
                    "/dev/ttyUSB0) or a pyserial URL: socket://host:port for a TCP serial "
                    "server, rfc2217://host:port, loop:// for tests.")
    protocol: Protocol = Field(description="What the panel speaks: gb26875 (GB/T 26875.3, "
                                           "the agent answers as the monitoring centre), "
                                           "contactid (automation port lines) or sia-dc09.")
    baudrate: int = Field(9600, ge=50, le=4_000_000, description="Line speed in baud.")
    bytesize: Literal[5, 6, 7, 8] = Field(8, description="Data bits.")
    parity: Parity = Field("none", description="none, even, odd, mark or space.")
    stopbits: float = Field(1, description="Stop bits: 1, 1.5 or 2.")
    flow_control: Literal["none", "rtscts", "xonxoff"] = Field(
        "none", description="Hardware (rtscts) or software (xonxoff) flow control.")
    listen_only: bool = Field(
        False, description="Never write to the line (no confirms, ACKs or NAKs): for a tap "
                           "beside another receiver that answers the panel.")
    zone_prefix: str = Field(
        "", max_length=24, description="Put in front of every decoded zone (with a space), "
                                       "e.g. 'B1' for a second panel.")
    zone_names: dict[str, str] = Field(
        default_factory=dict,
        description="Decoded zone -> label, e.g. 'cid-1234-g01-z015' = '2F east corridor "
                    "smoke'. The label is added to the zone and to detail.description.")
    loss_trouble_s: float = Field(
        20.0, ge=1, le=3600,
        description="Report one 'trouble' when the port has been missing or failing this "
                    "long (adapter unplugged, TCP serial server down).")
    silence_trouble_s: float = Field(
        0.0, ge=0, le=7 * 86400,
        description="Report one 'trouble' when no valid frame arrived for this long; 0 = off. "
                    "Only for panels that talk periodically: set it above their heartbeat.")
    link_stable_s: float = Field(
        5.0, ge=0, le=600,
        description="A reopened port counts as healthy after a valid frame, or after staying "
                    "open this long; only then is the link 'restore' sent.")
    reconnect_min_s: float = Field(0.5, ge=0.05, le=60, description="First reopen delay.")
    reconnect_max_s: float = Field(5.0, ge=0.05, le=600, description="Longest reopen delay.")
    checksum: Literal["sum", "sum-from-command", "xor"] | None = Field(
        None, description="gb26875 only: checksum variant; default 'sum' (the standard).")
    reply_time: Literal["now", "echo"] | None = Field(
        None, description="gb26875 only: time label of our confirms: 'now' (our clock, as the "
                          "standard's example) or 'echo' (the received label).")
    honour_test_bit: bool | None = Field(
        None, description="gb26875 only: treat state bit b0 = 0 as a test event (default "
                          "false: the standard's own fire example has b0 = 0).")
    timezone: str | None = Field(
        None, description="gb26875 only: IANA zone of the panel clock, e.g. 'Asia/Shanghai'; "
                          "then events carry the panel's time, else the agent's.")
    key_file: Path | None = Field(
        None, description="sia-dc09 only: TOML file 'account = \"hex key\"' of AES keys "
                          "(16/24/32 bytes) for encrypted DC-09 (*SIA-DCS, *ADM-CID); mode "
                          "0600, relative to this config file. Keys are never logged.")

    @field_validator("port")
    @classmethod
    def _check_port(cls, value: str) -> str:
        if "://" not in value:
            if not value.startswith("/"):
                raise ValueError("must be an absolute device path like /dev/ttyUSB0 or a URL "
                                 "like socket://host:port")
            return value
        parts = urlsplit(value)
        if parts.scheme not in URL_SCHEMES:
            raise ValueError(f"unknown URL scheme {parts.scheme!r}; use a device path or one "
                             f"of {', '.join(s + '://' for s in URL_SCHEMES)}")
        if parts.scheme in ("socket", "rfc2217"):
            try:
                port = parts.port
            except ValueError as exc:
                raise ValueError(f"bad TCP port: {exc}") from None
            if not parts.hostname or port is None:
                raise ValueError(f"{parts.scheme}:// needs a host and a port, e.g. "
                                 f"{parts.scheme}://192.168.1.50:4001")
        return value

    @field_validator("stopbits")
    @classmethod
    def _check_stopbits(cls, value: float) -> float:
        if value not in (1, 1.5, 2):
            raise ValueError("must be 1, 1.5 or 2")
        return value

    @field_validator("zone_names")
    @classmethod
    def _check_zone_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            if not 1 <= len(key) <= 64:
                raise ValueError(f"zone {key[:20]!r}: a decoded zone is 1..64 characters")
            if not 1 <= len(label.strip()) <= 48:
                raise ValueError(f"label of {key!r} must be 1..48 characters")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as "
                             "'Asia/Shanghai' or 'UTC')") from None
        return value

    @field_validator("key_file")
    @classmethod
    def _check_key_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        base = (info.context or {}).get("base_dir")
        if not value.is_absolute() and base is not None:
            value = Path(base) / value
        try:
            load_keys(value)  # unreadable, readable by others, or a bad key: fail now
        except KeyFileError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _check(self) -> SerialInput:
        if self.key_file is not None and self.protocol != "sia-dc09":
            raise ValueError(f"key_file: only for protocol 'sia-dc09', not {self.protocol!r}")
        if self.protocol != "gb26875":
            wrong = [key for key in GB_OPTIONS if getattr(self, key) is not None]
            if wrong:
                raise ValueError(f"{', '.join(wrong)}: only for protocol 'gb26875', not "
                                 f"{self.protocol!r}")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(f"reconnect_min_s ({self.reconnect_min_s:g}) is above "
                             f"reconnect_max_s ({self.reconnect_max_s:g})")
        return self

    @property
    def link_zone(self) -> str:
        """The zone of this link's own trouble/restore events."""
        return f"{self.name}{LINK_ZONE_SUFFIX}"

    def decoder_options(self) -> dict[str, Any]:
        """Keyword options for :func:`alarmlink.codecs.make_decoder`.

        Raises :class:`~alarmlink.dc09_keys.KeyFileError` if the key file went bad since
        the config was checked.
        """
        if self.protocol == "sia-dc09" and self.key_file is not None:
            return {"keys": load_keys(self.key_file)}
        if self.protocol != "gb26875":
            return {}
        options: dict[str, Any] = {}
        if self.checksum is not None:
            options["checksum"] = self.checksum
        if self.reply_time is not None:
            options["reply_time"] = self.reply_time
        if self.honour_test_bit is not None:
            options["honour_test_bit"] = self.honour_test_bit
        if self.timezone is not None:
            options["tz"] = ZoneInfo(self.timezone)
        return options

    def pyserial_options(self) -> dict[str, Any]:
        """Keyword arguments for ``serial.serial_for_url`` (framing and flow control)."""
        return {"baudrate": self.baudrate, "bytesize": self.bytesize,
                "parity": PARITY_CODES[self.parity], "stopbits": self.stopbits,
                "rtscts": self.flow_control == "rtscts",
                "xonxoff": self.flow_control == "xonxoff"}

    def describe(self) -> str:
        """One line for ``alarmlink agent check-config``."""
        framing = f"{self.bytesize}{PARITY_CODES[self.parity]}{self.stopbits:g}"
        silence = (f"silence trouble after {self.silence_trouble_s:g}s"
                   if self.silence_trouble_s else "silence not supervised")
        return (f"{self.name:<20} {self.protocol:<9} {self.port} {self.baudrate} {framing}, "
                f"loss trouble after {self.loss_trouble_s:g}s, {silence}"
                + (", LISTEN ONLY" if self.listen_only else ""))


def check_serials(serials: Iterable[SerialInput], gpio_zones: Iterable[str]) -> None:
    """Names, ports and link zones unique per device, link zones apart from GPIO zones.

    Raises ``ValueError`` naming the clash.
    """
    zones = {zone: "a GPIO input" for zone in gpio_zones}
    names: dict[str, int] = {}
    ports: dict[str, int] = {}
    for index, item in enumerate(serials):
        if item.name in names:
            raise ValueError(f"serials[{index}].name {item.name!r} is also serials"
                             f"[{names[item.name]}]'s; names must be unique")
        names[item.name] = index
        if item.port in ports and item.port != "loop://":
            raise ValueError(f"serials[{index}].port {item.port!r} is also serials"
                             f"[{ports[item.port]}]'s; one reader per port")
        ports[item.port] = index
        if item.link_zone in zones:
            raise ValueError(f"serials[{index}]: link zone {item.link_zone!r} is already "
                             f"the zone of {zones[item.link_zone]}")
        zones[item.link_zone] = f"serials[{index}]"


def serial_warnings(serials: Iterable[SerialInput]) -> list[str]:
    """Valid settings an installer should know about (for check-config)."""
    notes = []
    for index, item in enumerate(serials):
        if not item.silence_trouble_s:
            notes.append(f"serials[{index}] ({item.name}): silence_trouble_s = 0: a cut cable "
                         "between panel and adapter is NOT detected (only a lost port is); "
                         "set it above the panel's heartbeat interval if it has one")
        if item.listen_only and item.protocol != "contactid":
            notes.append(f"serials[{index}] ({item.name}): listen_only: the panel gets no "
                         "answer from this agent and relies on another receiver")
    return notes
