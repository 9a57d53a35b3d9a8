"""``[supervision]`` in central's config: device classes and their offline bounds.

::

    [supervision]
    check_interval_s = 1          # how often central judges every device
    default_class = "standard"    # for devices whose registry entry names no class

    [supervision.classes.fast]    # EN 50136 T6-like: 20 s
    bound_s = 20                  # loss of the device -> trouble at the station, at most
    heartbeat_s = 5               # agents of this class send heartbeat_interval_s <= this
    silence_s = 11                # no message for this long = the device is not heard
    grace_s = 5                   # a dropout shorter than this raises no trouble

    [supervision]                 # (same table) a device sharing its identity
    reconnect_alert_count = 6     # more online statuses than this ...
    reconnect_window_s = 600      # ... within this window: one trouble (central/reconnects.py)

Classes given in the file are merged over the built-in ``standard`` (60 s),
``fast`` (20 s) and ``slow`` (180 s, for mobile-data links) ones. Every class
must keep its promise on the heartbeat path alone, whatever the broker's
keepalive is::

    silence_s + grace_s + check_interval_s <= bound_s     and     silence_s >= 2 * heartbeat_s

(the last heartbeat can come just before the loss; one lost QoS 0 heartbeat is
tolerated). A last will or a ``stopped`` status is faster: trouble after
``grace_s`` (+ one check).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from alarmlink.config_base import FrozenStrictModel


class DeviceClass(FrozenStrictModel):

    bound_s: float = Field(gt=0, le=86_400, description="Longest time from a device's loss "
                                                        "to its trouble at the station.")
    heartbeat_s: float = Field(gt=0, le=3600, description="Heartbeat interval the agents of "
                                                          "this class use at most.")
    silence_s: float = Field(gt=0, le=86_400, description="Unheard for this long counts as "
                                                          "down (>= 2 heartbeats).")
    grace_s: float = Field(ge=0, le=3600, description="A dropout shorter than this raises "
                                                      "no trouble.")

    @model_validator(mode="after")
    def _heartbeats(self) -> DeviceClass:
        if self.silence_s < 2 * self.heartbeat_s:
            raise ValueError(f"silence_s ({self.silence_s:g}) must be at least twice "
                             f"heartbeat_s ({self.heartbeat_s:g}): one lost heartbeat "
                             "must not count as silence")
        return self


BUILTIN_CLASSES: dict[str, DeviceClass] = {
    "standard": DeviceClass(bound_s=60, heartbeat_s=15, silence_s=31, grace_s=15),
    "fast": DeviceClass(bound_s=20, heartbeat_s=5, silence_s=11, grace_s=5),
    # EN 50136 T4-like, for links where heartbeats cost money (mobile data)
    "slow": DeviceClass(bound_s=180, heartbeat_s=60, silence_s=121, grace_s=30),
}


class SupervisionConfig(FrozenStrictModel):

    check_interval_s: float = Field(1.0, gt=0, le=10,
                                    description="How often every device is judged.")
    default_class: str = Field("standard", description="Class of devices that name none.")
    classes: dict[str, DeviceClass] = Field(default_factory=lambda: dict(BUILTIN_CLASSES),
                                            description="Device classes by name.")
    reconnect_alert_count: int = Field(
        6, ge=1, le=10_000,
        description="More 'online' statuses than this from one device within "
                    "reconnect_window_s raise a 'reconnects unusually often' trouble "
                    "(central/reconnects.py).")
    reconnect_window_s: float = Field(600.0, gt=0, le=86_400,
                                      description="The window reconnects are counted in.")

    @field_validator("classes", mode="before")
    @classmethod
    def _merge_builtin(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {**BUILTIN_CLASSES, **value}
        return value

    @model_validator(mode="after")
    def _keeps_promise(self) -> SupervisionConfig:
        if self.default_class not in self.classes:
            raise ValueError(f"default_class {self.default_class!r} is not one of the classes "
                             f"({', '.join(sorted(self.classes))})")
        for name, item in self.classes.items():
            worst = item.silence_s + item.grace_s + self.check_interval_s
            if worst > item.bound_s:
                raise ValueError(
                    f"class {name!r} cannot keep its bound: silence_s {item.silence_s:g} + "
                    f"grace_s {item.grace_s:g} + check_interval_s {self.check_interval_s:g} = "
                    f"{worst:g} s > bound_s {item.bound_s:g} s")
        return self

    def class_of(self, name: str | None) -> tuple[str, DeviceClass, bool]:
        """``(name, class, known)``: an unknown name falls back to the default class."""
        if name and name in self.classes:
            return name, self.classes[name], True
        return self.default_class, self.classes[self.default_class], not name
