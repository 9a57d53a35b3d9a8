"""Agent config rendering and the boot bundle written onto a Pi's boot partition.

The agent config comes from a venue-kind template (``firmware_configs/<kind>.toml``:
timings, broker options and one prototype input per input type) plus a hardware
profile (``firmware_configs/profiles/<name>.toml``: the board's input pins in
order, feedback outputs) and the installer's zone names. A zone name says what
it is by a word in it (``gate-button``, ``dorm-smoke``, ``cabinet-tamper``) or
explicitly, ``name:button`` / ``name:detector`` / ``name:loop``.

Bundle layout (``BOOTDIR`` is the mounted boot partition, ``/boot/firmware`` on
the Pi)::

    user-data                          cloud-init: runs alarmlink/firstboot.sh once
    alarmlink/agent.toml               the agent config (no secret in it)
    alarmlink/ca.crt                   the deployment CA, to verify the broker
    alarmlink/credentials/mqtt-password  the MQTT password (0600)
    alarmlink/alarmlink-agent.service  systemd/alarmlink-agent.service
    alarmlink/firstboot.sh             installs, moves secrets, enables the unit
    alarmlink/bundle.json              what was provisioned (no secret)
    alarmlink/wheels/*.whl             optional: install offline from these

The boot partition is FAT: file modes there are the mount's, so a bundle must be
handled as a secret until first boot, which moves the password to
``/etc/alarmlink/credentials`` (root 0600) and deletes it from the card.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from alarmlink_tools import resources
from edge_agent.config import AgentConfig, validate_config

logger = logging.getLogger(__name__)

FIRMWARE_DIR = resources.firmware_configs()
PROFILES_DIR = FIRMWARE_DIR / "profiles"
AGENT_UNIT = resources.systemd_units() / "alarmlink-agent.service"
KINDS = ("school", "hotel", "village")
ON_DEVICE_CA = "/etc/alarmlink/ca.crt"

_TYPE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("button", ("button", "panic", "key", "medical")),
    ("detector", ("smoke", "heat", "fire", "detector", "panel")),
    ("loop", ("tamper", "power", "mains", "loop", "cable")),
]
_FALLBACK: dict[str, dict[str, Any]] = {
    "button": {"kind": "panic", "contact": "normally_open"},
    "detector": {"kind": "smoke", "contact": "normally_closed"},
    "loop": {"kind": "trouble"},
}
_PROTO_KEYS = ("contact", "debounce_ms", "confirm_ms", "report_restore", "pull_up")


class BundleError(ValueError):
    """A bundle that cannot be made: bad zone, unknown profile, invalid config."""


@dataclass(frozen=True)
class Zone:
    name: str
    type: str

    @classmethod
    def parse(cls, spec: str) -> Zone:
        name, _, explicit = spec.strip().partition(":")
        if explicit:
            if explicit not in _FALLBACK:
                raise BundleError(f"zone {spec!r}: type must be button, detector or loop")
            return cls(name, explicit)
        words = re.split(r"[-_.]", name.lower())
        for kind, keys in _TYPE_WORDS:
            if any(w.startswith(k) for w in words for k in keys):
                return cls(name, kind)
        raise BundleError(f"zone {name!r}: say what it is with a word in its name (button, "
                          "smoke, heat, tamper, power, ...) or as NAME:button|detector|loop")


def load_profile(name: str) -> dict[str, Any]:
    path = PROFILES_DIR / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.toml")))
        raise BundleError(f"unknown hardware profile {name!r} (known: {known})")
    return tomllib.loads(path.read_text())


def _input_for(zone: Zone, pin: int, template: dict[str, Any],
               profile: dict[str, Any]) -> dict[str, Any]:
    proto: dict[str, Any] = next(
        (i for i in template.get("inputs", []) if i.get("type") == zone.type), {})
    item: dict[str, Any] = {"type": zone.type, "zone": zone.name, "pin": pin}
    item.update({k: proto[k] for k in _PROTO_KEYS if k in proto})
    item.setdefault("contact", _FALLBACK[zone.type].get("contact"))
    if zone.type == "loop":
        item.pop("contact", None)
    item["pull_up"] = bool(profile.get("pull_up", True))
    words = zone.name.lower()
    if zone.type == "button":
        item["kind"] = "medical" if "medical" in words else "panic"
    elif zone.type == "detector":
        item["kind"] = next((k for k in ("heat", "fire") if k in words), "smoke")
        if "panel" in words:
            item["kind"] = "fire"
    else:
        item["kind"] = next((k for k, w in (("tamper", "tamper"), ("power", "power"),
                                            ("power", "mains")) if w in words), "trouble")
    return {k: v for k, v in item.items() if v is not None}


def render_agent_config(*, kind: str, profile: str, zones: list[str], device_id: str,
                        venue_name: str, broker_url: str,
                        heartbeat_s: float | None = None,
                        keepalive_s: int | None = None) -> dict[str, Any]:
    """The agent config as a TOML-ready dict; validated by :mod:`edge_agent.config`."""
    if kind not in KINDS:
        raise BundleError(f"kind must be one of {', '.join(KINDS)}")
    template = tomllib.loads((FIRMWARE_DIR / f"{kind}.toml").read_text())
    board = load_profile(profile)
    parsed = [Zone.parse(z) for z in zones if z.strip()]
    if not parsed:
        raise BundleError("give at least one zone")
    channels: list[int] = list(board["channels"])
    if len(parsed) > len(channels):
        raise BundleError(f"{len(parsed)} zones but profile {profile!r} has only "
                          f"{len(channels)} inputs")
    broker = {k: v for k, v in template.get("broker", {}).items()
              if k in ("protocol", "keepalive_s", "reconnect_min_s", "reconnect_max_s")}
    broker.update({"url": broker_url, "username": device_id})
    if keepalive_s is not None:
        broker["keepalive_s"] = keepalive_s
    if broker_url.startswith("mqtts://"):
        broker["ca_file"] = ON_DEVICE_CA
    config: dict[str, Any] = {
        "device_id": device_id,
        "venue": venue_name,
        "heartbeat_interval_s": heartbeat_s or template.get("heartbeat_interval_s", 15),
        "resend_timeout_s": template.get("resend_timeout_s", 10),
        "resend_max_s": template.get("resend_max_s", 120),
        "state_dir": "/var/lib/alarmlink",
        "broker": broker,
        "inputs": [_input_for(z, pin, template, board) for z, pin in zip(parsed, channels,
                                                                          strict=False)],
        "feedback": dict(board.get("feedback", {})),
    }
    check_agent_config(config)
    return config


def check_agent_config(config: dict[str, Any]) -> AgentConfig:
    """Validate with the agent's own model; :class:`BundleError` lists every problem."""
    from edge_agent.config import ConfigError

    try:
        return validate_config(config, source="agent.toml", base_dir=Path("/etc/alarmlink"))
    except ConfigError as exc:
        raise BundleError(str(exc)) from None


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)  # the umask may have narrowed it; never widened


def write_bundle(out: Path, *, config: dict[str, Any], password: str, ca_cert: Path,
                 meta: dict[str, Any], wheels: list[Path] | None = None,
                 pip_spec: str = "alarmlink[agent]") -> Path:
    """Write the boot bundle into ``out``; returns the ``alarmlink/`` directory."""
    from alarmlink_tools.firstboot import render_firstboot, render_user_data

    target = out / "alarmlink"
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    _write(target / "agent.toml", "# generated by alarmlink provision; installed as "
           "/etc/alarmlink/agent.toml\n" + tomli_w.dumps(config), 0o640)
    _write(target / "credentials" / "mqtt-password", password + "\n", 0o600)
    os.chmod(target / "credentials", 0o700)
    _write(target / "ca.crt", ca_cert.read_text(), 0o644)
    _write(target / "alarmlink-agent.service", AGENT_UNIT.read_text(), 0o644)
    wheel_dir = target / "wheels"
    for wheel in wheels or []:
        wheel_dir.mkdir(exist_ok=True)
        shutil.copy2(wheel, wheel_dir / wheel.name)
    _write(target / "firstboot.sh", render_firstboot(pip_spec), 0o700)
    _write(target / "bundle.json", json.dumps(meta, indent=2) + "\n", 0o644)
    user_data = out / "user-data"
    existing = user_data.read_text() if user_data.exists() else None
    _write(user_data, render_user_data(config["device_id"], existing), 0o644)
    logger.info("boot bundle for %s written to %s", config["device_id"], out)
    return target
