"""The registry's records as pydantic models (see :mod:`central.registry` for the file).

Unknown keys are errors; ids are short lower-case names.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from alarmlink.config_base import StrictModel
from alarmlink.wire import DEVICE_ID_PATTERN, Zone

logger = logging.getLogger(__name__)

RecordId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
VenueKind = Literal["school", "hotel", "village"]


class RegistryError(ValueError):
    """A registry file or record that cannot be loaded. ``str()`` names the key."""


class _Record(StrictModel):
    """Unknown keys are errors."""


class City(_Record):
    id: RecordId = Field(description="Short id, lower case, e.g. 'sanming'.")
    name: Name = Field(description="The city bureau's name, e.g. 三明市公安局.")


Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Phone = Annotated[str, StringConstraints(max_length=40)]


class County(_Record):
    id: RecordId = Field(description="Short id, lower case, e.g. 'duan'.")
    name: Name = Field(description="The county bureau's name.")
    city: RecordId | None = Field(None, description="Id of the city above it (optional).")
    outline: list[tuple[Longitude, Latitude]] = Field(
        default_factory=list, max_length=5000,
        description="The county's boundary as [longitude, latitude] points (WGS 84), drawn "
                    "on the console's map when no tiles are installed; empty = none.")


class Station(_Record):
    id: RecordId
    name: Name
    county: RecordId = Field(description="Id of the county bureau the station belongs to.")
    phone: Annotated[str, StringConstraints(max_length=40)] = ""


class Office(_Record):
    id: RecordId = Field(description="Short id of the police office (警务室).")
    name: Name = Field(description="The office's name, e.g. 学府警务室.")
    station: RecordId = Field(description="Id of the police station the office belongs to.")


class Contact(_Record):
    name: Name = Field(description="The person's name, e.g. 张校长.")
    role: Literal["contact", "keyholder", "village_assistant", "volunteer"] = Field(
        "contact", description="contact (联系人), keyholder (钥匙持有人), village_assistant "
        "(村辅警/村级协管员) or volunteer (a member of the village's volunteer team, 义务消防队): "
        "the last two are told of the village's alarms in parallel with the station.")
    title: Annotated[str, StringConstraints(max_length=100)] = Field(
        "", description="What they are at the venue, e.g. 校长 (head teacher).")
    phone: Phone = Field(description="Phone number to call.")


class Venue(_Record):
    id: RecordId
    name: Name
    kind: VenueKind
    address: Annotated[str, StringConstraints(max_length=300)] = ""
    station: RecordId = Field(description="Id of the police station responsible for the venue.")
    office: RecordId | None = Field(None, description="Id of the police office (of the same "
                                    "station) that looks after the venue (optional).")
    lat: Latitude | None = Field(None, description="Latitude (WGS 84) for the console's map.")
    lon: Longitude | None = Field(None, description="Longitude (WGS 84) for the console's map.")
    contacts: list[Contact] = Field(default_factory=list, max_length=20,
                                    description="Who to call: contacts and keyholders.")
    procedure: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=30,
        description="The venue's own response procedure (预案): steps the officer ticks.")
    av_max_kbps: int | None = Field(
        None, ge=64, le=8000, description="Cap on the venue's live video bitrate (kbit/s) "
        "for its uplink; the agent uses the lower of this and its [rtc] max_kbps. "
        "None: the agent's own.")
    av_max_height: int | None = Field(
        None, ge=120, le=1080, description="Cap on the venue's live video height in pixels "
        "(e.g. 360); the agent scales down, keeping the aspect. None: the agent's own.")


class Device(_Record):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)] = Field(
        description="Device id: its MQTT user name and the id in its topics.")
    venue: RecordId
    zones: list[Zone] = Field(default_factory=list, description="Zones the device reports.")
    device_class: Annotated[str, StringConstraints(pattern=r"^([a-z0-9][a-z0-9_-]{0,31})?$")] = \
        Field("", alias="class", description="Supervision class (central config "
                                             "[supervision.classes]); empty = the default.")
    dc09_account: Annotated[str, StringConstraints(pattern=r"^[0-9A-F]{3,16}$")] | None = Field(
        None, description="SIA DC-09 account of a panel that reports straight to central's "
                          "IP receiver (a device without a Pi); 3-16 upper-case hex digits.")


class RegistryFile(_Record):
    cities: list[City] = Field(default_factory=list)
    counties: list[County] = Field(default_factory=list)
    stations: list[Station] = Field(default_factory=list)
    offices: list[Office] = Field(default_factory=list)
    venues: list[Venue] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
