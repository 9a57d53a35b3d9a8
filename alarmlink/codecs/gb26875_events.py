"""GB/T 26875.3-2011 records -> :class:`PanelEvent` (docs/protocols.md, "GB/T 26875.3-2011").

Component type -> event kind when the fire alarm bit is set (type 2 records):

===============================================  =========
component type (GB 26875.3 table)                kind
===============================================  =========
40-44 smoke detectors (40 smoke, 41 ionisation,  smoke
42 point photoelectric, 43 beam, 44 aspirating)
30-37 heat detectors (point/line, S/R types)     heat
23 manual call point, 24 hydrant button, and     fire
every other type (flame, composite, gas...)
===============================================  =========

An unknown component type with the fire bit set is still an alarm (kind fire): an alarm
is never dropped for lack of a table entry.

State bits -> events (one record may yield several events, in this order):

- fire alarm (type 2 b1, type 1 b1, type 21 b1) -> state ``alarm``, kind as above
  (``fire`` for system and UITD records);
- fault (b2), supervisory (type 1/2 b4), bus fault (type 1 b10), link-to-centre and
  monitoring-line faults (type 21 b5, b6) -> one event kind ``trouble``, state ``trouble``;
- power fault (type 2 b8; type 1 b8/b9 main/backup power; type 21 b3/b4) -> kind
  ``power``, state ``trouble``;
- a condition seen active for the zone before and clear now -> ``restore`` of that kind
  (the mapper remembers active conditions per zone, bounded);
- a record with no abnormal bit and nothing remembered -> one ``restore`` of the zone's
  alarm kind (a restore after a reboot of the agent, say);
- b0 = 0 ("test" per the bit table) -> ``test=True`` on every event of that record, ONLY
  when ``honour_test_bit=True``. Default off: the standard's own published fire alarm
  example (docs/protocols.md, component state ``0x0002`` "fire alarm") has b0 = 0, so real
  devices send b0 = 0 for real alarms, and a test-flagged event never reaches officers.
  The bit is always kept as ``detail["test_bit"]`` (True when b0 = 0).

Shielded, started, feedback and delay bits only go to ``detail`` (raw ``state`` bits).

Operations (type 4 system, type 24 UITD; bits b0 reset, b1 silence, b2 manual alarm,
b3 alarm cleared, b4 self-test, b5 confirm / duty-check answer, b6 test): manual alarm
-> kind fire, state alarm (the UITD's manual "one-key" button); alarm cleared or reset
-> kind fire, state restore; silence, self-test and duty-check answers make no event
(the frame is still confirmed); b6 -> ``test=True``. Zones: ``sys{addr} panel`` for
system records, ``uitd`` for UITD records, ``sys{addr}-loop{L}-pt{P} {description}``
for components. Analog values (type 3) make no event.

Component address: 4 bytes, read as two little-endian 16-bit numbers like every other
integer of the standard: bytes 0-1 the point (device number on its loop), bytes 2-3 the
loop (zone) -- ``0A 00 02 00`` is loop 2, point 10, what the panel's own display shows
(2回路10号). The wire-order hex stays in ``detail["component_addr"]``.
"""

from __future__ import annotations

import logging
import struct
from datetime import datetime, tzinfo
from functools import lru_cache

from alarmlink.codecs.common import (
    MAX_ZONE,
    DetailValue,
    PanelEvent,
    clip_zone,
    trusted_event,
)
from alarmlink.codecs.gb26875_data import (
    AppData,
    ComponentState,
    SystemOperation,
    SystemState,
    TimeLabel,
    UitdOperation,
    UitdState,
    decode_description,
)
from alarmlink.wire import Kind, State

logger = logging.getLogger(__name__)

COMPONENT_FLAGS = ("normal", "fire", "fault", "shielded", "supervisory", "started",
                   "feedback", "delay", "power_fault")
SYSTEM_FLAGS = ("normal", "fire", "fault", "shielded", "supervisory", "started", "feedback",
                "delay", "main_power_fault", "backup_power_fault", "bus_fault", "manual",
                "config_changed", "reset")
UITD_FLAGS = ("normal", "fire", "fault", "main_power_fault", "backup_power_fault",
              "link_fault", "line_fault")
OPERATION_FLAGS = ("reset", "silence", "manual_alarm", "alarm_cleared", "self_test",
                   "confirm", "test")


def _kind_for(comp_type: int) -> Kind:
    if 40 <= comp_type <= 44:
        return Kind.SMOKE
    if 30 <= comp_type <= 37:
        return Kind.HEAT
    return Kind.FIRE


_KINDS = tuple(_kind_for(t) for t in range(256))
_ALARM, _RESTORE, _TROUBLE = State.ALARM, State.RESTORE, State.TROUBLE
_FIRE, _TROUBLE_KIND, _POWER = Kind.FIRE, Kind.TROUBLE, Kind.POWER


def component_kind(comp_type: int) -> Kind:
    """The alarm kind of a component type (table in the module docstring)."""
    return _KINDS[comp_type & 0xFF]


@lru_cache(maxsize=2048)
def flag_names(bits: int, names: tuple[str, ...]) -> str:
    """Comma-separated names of the set bits, b0 excluded (it means normal/test)."""
    return ",".join(n for i, n in enumerate(names) if i and bits >> i & 1)


_COMPONENT_FLAG_TEXT = tuple(flag_names(bits, COMPONENT_FLAGS) for bits in range(512))


def loop_point(addr: bytes) -> tuple[int, int]:
    """``(loop, point)`` of a 4-byte component address (two little-endian 16-bit words)."""
    return addr[2] | addr[3] << 8, addr[0] | addr[1] << 8


def component_zone(rec: ComponentState) -> str:
    """``sys{addr}-loop{L}-pt{P} {description}``, at most 64 characters."""
    loop, point = loop_point(rec.comp_addr)
    zone = f"sys{rec.sys_addr}-loop{loop}-pt{point}"
    if rec.description:
        zone = f"{zone} {rec.description}"
    return clip_zone(zone) if len(zone) > MAX_ZONE else zone


_Static = tuple[str, Kind, dict[str, DetailValue], int, bool]
_new = object.__new__
_set = object.__setattr__
_S2_STATIC = struct.Struct("<BBB4sH31s")  # a type-2 record without its time label
_NO_TIME = TimeLabel(0, 0, 0, 0, 0, 0)
_ISO_BYTES: dict[bytes, str] = {}
_D2 = tuple(f"{i:02d}" for i in range(256))
_YEAR = tuple(str(2000 + i) for i in range(256))


def _iso_of(tm: bytes) -> str:
    """``TimeLabel.iso()`` of a 6-byte label, cached (bounded) by its bytes."""
    d = _D2
    text = _ISO_BYTES[tm] = (
        f"{_YEAR[tm[5]]}-{d[tm[4]]}-{d[tm[3]]}T{d[tm[2]]}:{d[tm[1]]}:{d[tm[0]]}")
    if len(_ISO_BYTES) > 4096:
        _ISO_BYTES.clear()
    return text


class EventMapper:
    """Turns decoded records into events, remembering active conditions per zone.

    ``tz`` is the panel clock's zone; without it, events carry ``ts=None`` (the agent
    stamps them) and the panel time goes to ``detail["panel_time"]``. ``honour_test_bit``:
    see the module docstring (b0 = 0 -> test); off by default.
    """

    def __init__(self, tz: tzinfo | None = None, memory: int = 4096,
                 honour_test_bit: bool = False) -> None:
        self.tz = tz
        self.memory = memory
        self.honour_test_bit = honour_test_bit
        self._active: dict[str, tuple[Kind, ...]] = {}
        self._static: dict[bytes, _Static] = {}
        self._base_keys: tuple[str, ...] = ()

    def reset(self) -> None:
        self._active.clear()
        self._static.clear()
        self._base_keys = ()

    def events(self, app: AppData, base: dict[str, DetailValue]) -> list[PanelEvent]:
        """Events for every record of ``app``; ``base`` is merged into each detail."""
        out: list[PanelEvent] = []
        for rec in app.records:
            cls = rec.__class__
            if cls is ComponentState:
                self._component(rec, base, out)  # type: ignore[arg-type]
            elif cls is SystemState:
                self._system(rec, base, out)  # type: ignore[arg-type]
            elif cls is UitdState:
                self._uitd(rec, base, out)  # type: ignore[arg-type]
            elif cls is SystemOperation or cls is UitdOperation:
                self._operation(rec, base, out)  # type: ignore[arg-type]
        return out

    def components(self, raw: bytes, start: int, count: int, base: dict[str, DetailValue]
                   ) -> list[PanelEvent]:
        """Fast path: the events of ``count`` type-2 records at ``raw[start:]`` (46 bytes
        each, size already checked). Same events as :meth:`events` on the decoded records.

        A panel reports the same components in the same few states over and over: what a
        record says apart from its time label (zone, kind, detail) is cached by those 40
        bytes, so a frame costs a dict lookup, not a struct unpack and a dozen fields. The
        cached detail already holds ``base``'s keys in their place (copying a dict is much
        cheaper than merging two), so every call must pass a ``base`` with the same keys;
        other keys reset the cache.
        """
        out: list[PanelEvent] = []
        base_keys = tuple(base)
        if base_keys != self._base_keys:
            self._static.clear()
            self._base_keys = base_keys
        static = self._static
        active = self._active
        memory = self.memory
        tz = self.tz
        for off in range(start, start + 46 * count, 46):
            key = raw[off : off + 40]
            entry = static.get(key)
            if entry is None:
                entry = self._component_static(key, base)
            zone, kind, fields, s, test = entry
            tm = raw[off + 40 : off + 46]
            iso = _ISO_BYTES.get(tm)
            if iso is None:
                iso = _iso_of(tm)
            detail = fields.copy()  # base's keys first, then the record's
            detail.update(base)
            detail["panel_time"] = iso
            ts = TimeLabel._make(tm).to_datetime(tz) if tz is not None else None
            # The usual cases inline (same result as _emit): an alarm alone, with nothing
            # else remembered for the zone; a quiet record with nothing remembered.
            before = active.get(zone)
            active_bits = s & 0x116
            if active_bits == 2 and (before is None or before == (kind,)):
                event = _new(PanelEvent)
                _set(event, "__dict__", {"kind": kind, "state": _ALARM, "zone": zone,
                                         "detail": detail, "test": test, "ts": ts})
                out.append(event)
                if before is not None:
                    del active[zone]
                active[zone] = (kind,)
                if len(active) > memory:
                    del active[next(iter(active))]
                continue
            if not active_bits and before is None:
                if not s & 0x1FE:
                    event = _new(PanelEvent)
                    _set(event, "__dict__", {"kind": kind, "state": _RESTORE, "zone": zone,
                                             "detail": detail, "test": test, "ts": ts})
                    out.append(event)
                continue
            self._emit(out, zone, kind, s & 2, s & 0x14, s & 0x100, not s & 0x1FE, test,
                       detail, ts)
        return out

    def _component_static(self, key: bytes, base: dict[str, DetailValue]) -> _Static:
        st, sa, ct, ca, s, d = _S2_STATIC.unpack(key)
        desc = decode_description(d)
        rec = ComponentState(st, sa, ct, ca, s, desc, _NO_TIME)
        loop, point = loop_point(ca)
        fields: dict[str, DetailValue] = {
            **dict.fromkeys(base),
            "record_type": 2, "sys_type": st, "sys_addr": sa, "component_type": ct,
            "component_addr": ca.hex().upper(), "component_loop": loop,
            "component_point": point, "description": desc, "state": s,
            "flags": _COMPONENT_FLAG_TEXT[s & 0x1FF], "test_bit": not s & 1,
        }
        entry = (component_zone(rec), _KINDS[ct], fields, s, self._test(s))
        if len(self._static) >= 4096:
            self._static.clear()
        self._static[key] = entry
        return entry

    def _component(self, rec: ComponentState, base: dict[str, DetailValue],
                   out: list[PanelEvent]) -> None:
        s = rec.state
        addr = rec.comp_addr.hex().upper()
        loop, point = loop_point(rec.comp_addr)
        detail: dict[str, DetailValue] = {
            **base, "record_type": 2, "sys_type": rec.sys_type, "sys_addr": rec.sys_addr,
            "component_type": rec.comp_type, "component_addr": addr,
            "component_loop": loop, "component_point": point,
            "description": rec.description, "state": s,
            "flags": _COMPONENT_FLAG_TEXT[s & 0x1FF], "test_bit": not s & 1,
            "panel_time": rec.time.iso(),
        }
        self._emit(out, component_zone(rec), _KINDS[rec.comp_type],
                   s & 2, s & 0x14, s & 0x100, not s & 0x1FE, self._test(s), detail,
                   self._ts(rec.time))

    def _system(self, rec: SystemState, base: dict[str, DetailValue],
                out: list[PanelEvent]) -> None:
        s = rec.state
        detail: dict[str, DetailValue] = {
            **base, "record_type": 1, "sys_type": rec.sys_type, "sys_addr": rec.sys_addr,
            "state": s, "flags": flag_names(s, SYSTEM_FLAGS), "test_bit": not s & 1,
            "panel_time": rec.time.iso(),
        }
        self._emit(out, f"sys{rec.sys_addr} panel", _FIRE, s & 2, s & 0x414, s & 0x300,
                   not s & 0x7FE, self._test(s), detail, self._ts(rec.time))

    def _uitd(self, rec: UitdState, base: dict[str, DetailValue],
              out: list[PanelEvent]) -> None:
        s = rec.state
        detail: dict[str, DetailValue] = {
            **base, "record_type": 21, "state": s, "flags": flag_names(s, UITD_FLAGS),
            "test_bit": not s & 1, "panel_time": rec.time.iso(),
        }
        self._emit(out, "uitd", _FIRE, s & 2, s & 0x64, s & 0x18, not s & 0x7E,
                   self._test(s), detail, self._ts(rec.time))

    def _operation(self, rec: SystemOperation | UitdOperation, base: dict[str, DetailValue],
                   out: list[PanelEvent]) -> None:
        f = rec.flags
        detail: dict[str, DetailValue] = dict(base)
        if isinstance(rec, SystemOperation):
            zone = f"sys{rec.sys_addr} panel"
            detail.update(record_type=4, sys_type=rec.sys_type, sys_addr=rec.sys_addr)
        else:
            zone = "uitd"
            detail["record_type"] = 24
        detail.update(operation=f, operations=",".join(
            n for i, n in enumerate(OPERATION_FLAGS) if f >> i & 1),
            operator=rec.operator, panel_time=rec.time.iso())
        test = bool(f & 0x40)
        ts = rec.time.to_datetime(self.tz) if self.tz is not None else None
        if f & 0x04:
            self._remember(zone, (Kind.FIRE,))
            out.append(trusted_event(Kind.FIRE, State.ALARM, zone, detail, test, ts))
        if f & 0x09:
            self._active.pop(zone, None)
            out.append(trusted_event(Kind.FIRE, State.RESTORE, zone, detail, test, ts))

    def _ts(self, label: TimeLabel) -> datetime | None:
        return label.to_datetime(self.tz) if self.tz is not None else None

    def _test(self, state: int) -> bool:
        return self.honour_test_bit and not state & 1

    def _remember(self, zone: str, kinds: tuple[Kind, ...]) -> None:
        active = self._active
        active.pop(zone, None)
        active[zone] = kinds
        if len(active) > self.memory:
            del active[next(iter(active))]

    def _emit(self, out: list[PanelEvent], zone: str, alarm_kind: Kind, fire: int,
              trouble: int, power: int, quiet: bool, test: bool,
              detail: dict[str, DetailValue], ts: datetime | None) -> None:
        """Append the events of one state word (rules in the module docstring)."""
        before = self._active.get(zone)
        if not (fire or trouble or power):  # nothing active now
            if before:
                del self._active[zone]
                for kind in before:
                    out.append(trusted_event(kind, _RESTORE, zone, detail, test, ts))
            elif quiet:
                out.append(trusted_event(alarm_kind, _RESTORE, zone, detail, test, ts))
            return
        now: list[Kind] = []
        if fire:
            now.append(alarm_kind)
            out.append(trusted_event(alarm_kind, _ALARM, zone, detail, test, ts))
        if trouble:
            now.append(_TROUBLE_KIND)
            out.append(trusted_event(_TROUBLE_KIND, _TROUBLE, zone, detail, test, ts))
        if power:
            now.append(_POWER)
            out.append(trusted_event(_POWER, _TROUBLE, zone, detail, test, ts))
        if before:
            for kind in before:
                if kind not in now:
                    out.append(trusted_event(kind, _RESTORE, zone, detail, test, ts))
        self._remember(zone, tuple(now))
