"""Central's ``[auth]`` section: sessions, lockout, cookies, origins, second factor.

Every key is optional; these are the defaults::

    [auth]
    idle_timeout_s = 7200        # a session unused this long ends (an open console's
                                 # WebSocket keepalive counts as use)
    session_lifetime_s = 43200   # a session ends this long after login (one shift)
    lockout_failures = 5         # this many wrong passwords for one account ...
    lockout_window_s = 900       # ... within this window lock the account ...
    lockout_s = 900              # ... for this long (an admin can unlock it earlier)
    source_failures = 20         # this many failed logins from one address ...
    source_window_s = 600        # ... within this window: that address gets 429
    cookie_secure = "auto"       # "auto": Secure cookie when the request came over
                                 # https; or true / false
    allowed_origins = []         # extra origins allowed to POST besides the one the
                                 # request was addressed to, e.g. ["https://alarm.gov.cn"]
    totp_roles = []              # roles that must log in with a TOTP code, e.g. ["admin"]
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field, field_validator

from alarmlink.config_base import StrictModel
from central.auth.permissions import Role

logger = logging.getLogger(__name__)


class AuthConfig(StrictModel):
    idle_timeout_s: float = Field(7200, gt=0, description="A session unused this long ends; "
                                  "the console's WebSocket keepalive counts as use.")
    session_lifetime_s: float = Field(43200, gt=0, description="A session ends this long "
                                      "after login, used or not (one shift).")
    lockout_failures: int = Field(5, ge=1, description="Wrong passwords for one account "
                                  "within lockout_window_s that lock it.")
    lockout_window_s: float = Field(900, gt=0, description="Window for lockout_failures.")
    lockout_s: float = Field(900, gt=0, description="How long a locked account stays locked "
                             "(an admin can unlock it earlier).")
    source_failures: int = Field(20, ge=1, description="Failed logins from one address within "
                                 "source_window_s after which that address gets 429.")
    source_window_s: float = Field(600, gt=0, description="Window for source_failures.")
    cookie_secure: Literal["auto"] | bool = Field(
        "auto", description='"auto": the session cookie is Secure when the request came over '
                            "https; true or false to force it.")
    allowed_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to send state-changing requests "
                                          "besides the one the request was addressed to.")
    totp_roles: list[Role] = Field(default_factory=list, description="Roles that must log in "
                                   "with a TOTP code (alarmlink central user totp enable).")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        out = []
        for origin in value:
            origin = origin.rstrip("/").lower()
            if not origin.startswith(("http://", "https://")) or "/" in origin.split("//", 1)[1]:
                raise ValueError(f"{origin!r} is not an origin: write scheme://host[:port], "
                                 "e.g. https://alarm.example.cn")
            out.append(origin)
        return out

    @property
    def touch_interval_s(self) -> float:
        """A session's last use is written at most this often (at least 4 per idle timeout)."""
        return min(60.0, self.idle_timeout_s / 4)
