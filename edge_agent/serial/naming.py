"""How a decoded panel event is named for the duty officer: zone text and detail.

The panel's own address (``loop 2 point 17``) gets the installer's name for it from
``zone_names`` (``"loop 2 point 17" = "3F corridor smoke"``, or by its first word), then
the port's ``zone_prefix``; the name also goes into ``detail["description"]`` when the
panel sent none. The zone is clipped to the wire contract's limit, and ``detail`` never
grows past it.
"""

from __future__ import annotations

from alarmlink import wire
from alarmlink.codecs import PanelEvent
from alarmlink.codecs.common import MAX_DETAIL_KEYS, clip_zone
from edge_agent.serial.config import SerialInput


def zone_and_detail(event: PanelEvent, config: SerialInput,
                    link: str) -> tuple[str, dict[str, wire.DetailValue]]:
    """The zone text and detail map of ``event`` read on the port named ``link``."""
    zone = event.zone
    detail: dict[str, wire.DetailValue] = dict(event.detail)
    label = config.zone_names.get(zone) or config.zone_names.get(zone.split(" ", 1)[0])
    if label:
        zone = f"{zone} {label.strip()}"
        if not detail.get("description") and len(detail) < MAX_DETAIL_KEYS:
            detail["description"] = label.strip()
    if config.zone_prefix:
        zone = f"{config.zone_prefix} {zone}"
    if len(detail) < MAX_DETAIL_KEYS:
        detail.setdefault("link", link)
    return clip_zone(zone), detail
