"""``[receiver]`` in central's config: the DC-09 IP receiver (off by default).

::

    [receiver]
    host = "0.0.0.0"                  # the address panels reach
    tcp_port = 9000                   # leave out (or 0) for no TCP listener
    udp_port = 9000                   # leave out (or 0) for no UDP listener
    keys_file = "/etc/alarmlink/dc09-keys.toml"   # account = "hex key"; mode 0600
    window_past_s = 40                # encrypted timestamps accepted from 40 s ago ...
    window_future_s = 20              # ... to 20 s ahead (SIA DC-09)
    max_connections = 2000
    idle_timeout_s = 300              # a silent TCP connection is closed after this

Accounts are registered against devices in the registry (``dc09_account`` on a
``[[devices]]`` entry); the device's supervision class gives the account's link-test
interval. docs/receiver.md.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from alarmlink.config_base import StrictModel


class ReceiverConfig(StrictModel):
    host: str = Field("0.0.0.0", description="Address the DC-09 listeners bind to.")
    tcp_port: int = Field(0, ge=0, le=65535, description="DC-09 over TCP; 0 = off.")
    udp_port: int = Field(0, ge=0, le=65535, description="DC-09 over UDP; 0 = off.")
    keys_file: Path | None = Field(
        None, description="TOML file 'account = \"hex key\"' of AES keys (16/24/32 bytes); "
                          "must not be readable by group or others.")
    window_past_s: float = Field(40.0, gt=0, le=3600, description="Oldest accepted "
                                 "timestamp of an encrypted message, seconds before now.")
    window_future_s: float = Field(20.0, gt=0, le=3600, description="Newest accepted "
                                   "timestamp of an encrypted message, seconds after now.")
    max_connections: int = Field(2000, ge=1, le=100_000,
                                 description="Open TCP connections at most; more are refused.")
    idle_timeout_s: float = Field(300.0, gt=0, le=86_400,
                                  description="A TCP connection silent this long is closed.")

    @property
    def enabled(self) -> bool:
        return bool(self.tcp_port or self.udp_port)
