"""Commands from central (``dev/{id}/cmd``), answered on ``dev/{id}/cmd/result``.

Commands arrive on paho's network thread and are queued to one worker thread,
so a slow command (a self-test asking ``timedatectl``) never stalls the MQTT
link, and commands run one at a time, in order.

* An expired command (``expires_at`` in the past when it is taken up: e.g.
  queued by the broker while the device was offline) is not run; it is answered
  ``ok=false``, ``reason: expired``.
* A command id seen before (a QoS 1 redelivery) is not run again.
* ``self_test``: every input, serial links (if any), camera, disk free in the
  state directory, outbox depth, clock (NTP sync from ``timedatectl`` where it
  exists, else ``unknown``). ``ok`` is false when a check found a problem; the
  ``problems`` entry says which.
* ``reload_config``: re-reads the config file and applies the keys that can
  change while running (:data:`HOT_KEYS`); any other change needs a restart and
  is refused as a whole, with the keys named. The worker only reads and checks
  the file; installing the new config is handed back to the agent (its main
  loop thread does it, between two ticks).
* ``reboot``: runs ``reboot_command`` (default ``systemctl reboot``) only with
  ``allow_reboot = true``; the result is sent after the command returned.
* ``silence``: silences the venue buzzer.

The runner never sees the agent itself: it gets the device id and version, a
``publish_result`` callable and one callable per command (:class:`CommandActions`).
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from alarmlink import wire
from edge_agent.config import AgentConfig, ConfigError, load_config

logger = logging.getLogger(__name__)

#: Config keys ``reload_config`` applies without a restart.
HOT_KEYS = frozenset({"venue", "heartbeat_interval_s", "resend_timeout_s", "resend_max_s",
                      "walk_test", "watchdog_link_grace_s", "allow_reboot", "reboot_command"})
#: Below this much free space in the state directory the self-test reports a problem.
MIN_FREE_MB = 64
MAX_DETAIL_KEYS = wire.MAX_DETAIL_KEYS
_SEEN_IDS = 256
Result = tuple[bool, dict[str, wire.DetailValue]]
#: Installs a validated config whose changes are all in :data:`HOT_KEYS`; returns the
#: new config hash. Raises TimeoutError when it could not be installed (nothing changed).
ApplyConfig = Callable[[AgentConfig], str]


@dataclass(frozen=True)
class CommandActions:
    """What central's commands may do to the device: one callable per command, nothing more.

    The agent builds this. ``take_snapshot`` is None when no camera is fitted.
    """

    self_test: Callable[[], Result]
    reload_config: Callable[[], Result]
    reboot: Callable[[], Result]
    silence: Callable[[], Result]
    take_snapshot: Callable[[dict[str, wire.DetailValue]], Result] | None = None


class CommandRunner:
    """Runs a device's commands on one worker thread and publishes their results.

    It knows the device only by its id and version (for logs and answers), the
    ``publish_result`` callable and the :class:`CommandActions`.
    """

    def __init__(self, device_id: str, version: str, *,
                 publish_result: Callable[[wire.CommandResult], bool],
                 actions: CommandActions) -> None:
        self.device_id = device_id
        self.version = version
        self.publish_result = publish_result
        self.actions = actions
        self._queue: queue.Queue[wire.Command | None] = queue.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def handle(self, command: wire.Command) -> None:
        """Queue a command (called on paho's thread; returns at once)."""
        with self._lock:
            if command.cmd_id in self._seen:
                logger.info("%s: command %s already handled; redelivery ignored",
                            self.device_id, command.cmd_id)
                return
            self._seen[command.cmd_id] = None
            while len(self._seen) > _SEEN_IDS:
                self._seen.popitem(last=False)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name=f"commands-{self.device_id}")
                self._thread.start()
        self._queue.put(command)

    def close(self, timeout: float = 5.0) -> None:
        """Let the worker finish the queued commands, then stop it (waits up to ``timeout``)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _work(self) -> None:
        while (command := self._queue.get()) is not None:
            try:
                ok, detail = self.execute(command)
            except Exception as exc:  # a bug in one command must not stop the others
                logger.exception("%s: command %s failed", self.device_id, command.cmd_id)
                ok, detail = False, {"reason": f"internal error: {type(exc).__name__}: {exc}"}
            result = wire.CommandResult(cmd_id=command.cmd_id, ok=ok, ts=wire.utcnow(),
                                        detail=fit_detail(detail))
            if not self.publish_result(result):
                logger.warning("%s: result of command %s not sent: not connected",
                               self.device_id, command.cmd_id)

    def execute(self, command: wire.Command) -> Result:
        """Run one command now; ``(ok, detail)``."""
        if command.expires_at <= wire.utcnow():
            logger.warning("%s: refusing expired command %s %s from %s (expired %s)",
                           self.device_id, command.name.value, command.cmd_id, command.by,
                           command.expires_at.isoformat())
            return False, {"reason": "expired", "expires_at": command.expires_at.isoformat()}
        logger.info("%s: command %s %s from %s", self.device_id, command.name.value,
                    command.cmd_id, command.by)
        actions = self.actions
        if command.name == wire.CommandName.SELF_TEST:
            return actions.self_test()
        if command.name == wire.CommandName.RELOAD_CONFIG:
            return actions.reload_config()
        if command.name == wire.CommandName.REBOOT:
            return actions.reboot()
        if command.name == wire.CommandName.SILENCE:
            return actions.silence()
        if command.name == wire.CommandName.SNAPSHOT:  # edge_agent/camera/service.py
            if actions.take_snapshot is None:
                return False, {"reason": "no camera configured on this device"}
            return actions.take_snapshot(dict(command.args))
        return False, {"reason": f"command {command.name.value!r} is not supported by this "
                                 f"agent version ({self.version})"}


def fit_detail(detail: dict[str, wire.DetailValue]) -> dict[str, wire.DetailValue]:
    """Keep a result within the contract: at most 32 keys, strings at most 512 chars."""
    items = [(key[:64], value[:512] if isinstance(value, str) else value)
             for key, value in detail.items()]
    if len(items) <= MAX_DETAIL_KEYS:
        return dict(items)
    kept, rest = items[:MAX_DETAIL_KEYS - 1], items[MAX_DETAIL_KEYS - 1:]
    return {**dict(kept), "more": "; ".join(f"{k}={v}" for k, v in rest)[:512]}


# ---------------------------------------------------------------------- self-test

class SupervisedLink(Protocol):
    """A serial link as the self-test sees it (:class:`~edge_agent.serial.reader.SerialLink`)."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> str: ...


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class CameraHealth(Protocol):
    """A camera as the self-test sees it (:class:`~edge_agent.camera.service.CameraService`)."""

    @property
    def config(self) -> _Named: ...

    @property
    def offline(self) -> bool: ...

    def status(self) -> dict[str, wire.DetailValue]: ...


def self_test(device_id: str, *, input_states: Mapping[str, str],
              serial_links: Sequence[SupervisedLink], camera: CameraHealth | None,
              state_dir: Path, base_report: Callable[[], Mapping[str, wire.DetailValue]],
              ) -> Result:
    """The ``self_test`` command: every check, ``ok`` false when one found a problem.

    ``base_report`` is the agent's own summary (inputs, outbox, link, serial
    links); its keys come last and win.
    """
    problems: list[str] = []
    detail: dict[str, wire.DetailValue] = {"device_id": device_id}
    detail["inputs_not_normal"] = ",".join(f"{z}={s}" for z, s in input_states.items()
                                           if s != "normal") or "none"
    problems += [f"input {zone} in trouble" for zone, s in input_states.items()
                 if s == "trouble"]
    if not serial_links:
        detail["serial"] = "none configured"
    for link in serial_links:
        if link.state != "normal":
            problems.append(f"serial {link.name} {link.state}")
    if camera is None:
        detail["camera"] = "none fitted"
    else:
        detail.update(camera.status())
        if camera.offline:
            problems.append(f"camera {camera.config.name} offline")
    detail.update(_disk(state_dir, problems))
    clock = ntp_state()
    detail["clock_utc"] = wire.utcnow().isoformat()
    detail["clock_ntp"] = clock
    if clock == "NOT synchronised":
        problems.append("clock not NTP-synchronised")
    base = dict(base_report())
    detail["problems"] = "; ".join(problems) or "none"
    return not problems, {**detail, **base}


def _disk(path: Path, problems: list[str]) -> dict[str, wire.DetailValue]:
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        problems.append(f"state dir {path}: {exc.strerror}")
        return {"disk": f"{path}: {exc.strerror}"}
    free_mb = usage.free // (1024 * 1024)
    if free_mb < MIN_FREE_MB:
        problems.append(f"only {free_mb} MB free in {path}")
    return {"disk_free_mb": int(free_mb),
            "disk_free_pct": round(100 * usage.free / usage.total, 1) if usage.total else 0.0}


def ntp_state() -> str:
    """``synchronised``, ``NOT synchronised`` or ``unknown (why)``, from timedatectl."""
    exe = shutil.which("timedatectl")
    if exe is None:
        return "unknown (no timedatectl)"
    try:
        out = subprocess.run([exe, "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    if out.returncode != 0:
        why = (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[0]
        return f"unknown ({why[:120]})"
    value = out.stdout.strip()
    return {"yes": "synchronised", "no": "NOT synchronised"}.get(value, f"unknown ({value})")


# ------------------------------------------------------------------ reload, reboot

def reload_config(path: Path | None, current: AgentConfig, apply: ApplyConfig) -> Result:
    """The ``reload_config`` command: re-read ``path``, diff it against ``current``.

    Nothing changes unless every changed key is in :data:`HOT_KEYS`; then
    ``apply`` installs the new config (the agent does it on its main loop
    thread, which owns the state a reload swaps).
    """
    if path is None:
        return False, {"reason": "the agent was not started from a config file"}
    try:
        new = load_config(path)
    except ConfigError as exc:
        return False, {"reason": f"config not valid, nothing changed: {exc}"[:512]}
    before, after = current.model_dump(), new.model_dump()
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if not changed:
        return True, {"changed": "nothing", "config_hash": current.config_hash()}
    cold = [k for k in changed if k not in HOT_KEYS]
    if cold:
        return False, {"reason": f"needs a restart to change {', '.join(cold)}; nothing was "
                                 "applied", "changed": ", ".join(changed)}
    try:
        config_hash = apply(new)
    except TimeoutError as exc:
        return False, {"reason": f"{exc}; nothing was applied"[:512],
                       "changed": ", ".join(changed)}
    logger.info("%s: config %s reloaded; applied %s", current.device_id, path,
                ", ".join(changed))
    return True, {"changed": ", ".join(changed), "config_hash": config_hash}


def reboot(config: AgentConfig) -> Result:
    """The ``reboot`` command: run ``reboot_command`` if ``allow_reboot`` is set."""
    if not config.allow_reboot:
        return False, {"reason": "reboot is not allowed on this device (allow_reboot = false "
                                 "in its config)"}
    command = list(config.reboot_command)
    logger.warning("%s: rebooting at central's request: %s", config.device_id,
                   " ".join(command))
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, {"reason": f"{' '.join(command)}: {exc}"}
    if out.returncode != 0:
        return False, {"reason": f"{' '.join(command)} exited {out.returncode}: "
                                 f"{(out.stderr or out.stdout).strip()[:300]}"}
    return True, {"rebooting": " ".join(command)}
