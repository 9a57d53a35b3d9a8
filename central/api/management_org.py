"""Villages and their teams (一键式管理: 村、消防责任区、联络点、义务消防队): the villages a
user sees, one village's fire zones, liaison points, police assistant, volunteer fire
team with its members and drills; adding members, editing and removing them, recording
a drill or patrol; and the versions of a station's checklist.

A village assistant (node ``village:ID``) sees and edits only their village; a
police-office user the office's villages; a venue manager none. Every change is
authorised with :func:`central.api.deps.authorize` and audited (``audit_allowed``).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, Field

from alarmlink.config_base import StrictModel
from central.api.deps import CurrentPrincipal, Service, authorize, denied
from central.api.management import PREFIX, at_venue, read, write
from central.auth.permissions import Action
from central.auth.principal import Principal
from central.management import checklists, org

logger = logging.getLogger(__name__)

router = APIRouter(tags=["management"])


def sees_village(principal: Principal, village: dict[str, Any]) -> bool:
    """Whether the village lies in the principal's part of the tree."""
    if not principal.sees_station(str(village["station_id"])):
        return False
    if principal.node_kind == "village":
        return bool(village["id"] == principal.node_id)
    if principal.node_kind == "office":
        return bool(village.get("office_id") == principal.node_id)
    return principal.node_kind != "venue"


async def at_village(service: Service, principal: Principal, action: Action,
                     village_id: str, *, audit: bool = False) -> dict[str, Any]:
    """Authorise ``action`` on a village (its station, and a village user's own village
    only); returns the village with its teams."""
    obj = f"village:{village_id}"
    await authorize(service, principal, action, obj=obj)
    village = dict(await read(service, org.get_village, village_id))
    if not sees_village(principal, village):
        raise await denied(service, principal, action, obj,
                           f"{obj} is outside your part of the organisation")
    await authorize(service, principal, action, station_id=village["station_id"], obj=obj,
                    audit_allowed=audit)
    return village


async def at_team(service: Service, principal: Principal, team_id: int,
                  obj: str) -> str:
    """Authorise (and audit) ``team.manage`` on a team; returns its station."""
    team = await read(service, org.team_village, team_id)
    await at_village(service, principal, "team.manage", str(team["village_id"]))
    await authorize(service, principal, "team.manage", station_id=team["station_id"],
                    obj=obj, audit_allowed=True)
    return str(team["station_id"])


class VillageBody(StrictModel):
    id: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="Village id.")
    name: str = Field(max_length=100, description="Village name (村名).")
    station: str = Field(max_length=64, description="The station it belongs to.")
    office: str | None = Field(None, max_length=64, description="Police office (警务室).")
    zones: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=50, description="Fire zones (消防责任区).")
    venues: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=500, description="Venues inside the village.")


class Member(StrictModel):
    name: str = Field(min_length=1, max_length=50, description="Member's name.")
    phone: str = Field("", max_length=30, description="Mobile number.")
    role: str = Field("", max_length=30, description="Role in the team, e.g. 队长.")


class TeamBody(StrictModel):
    name: str = Field(max_length=100, description="Team name (义务消防队).")
    members: list[Member] = Field(max_length=100, description="Members.")


class LiaisonBody(StrictModel):
    name: str = Field(min_length=1, max_length=100, description="Liaison point (联络点).")
    contact: str = Field("", max_length=50, description="Contact person.")
    phone: str = Field("", max_length=30, description="Phone number.")


class DrillBody(StrictModel):
    kind: Literal["drill", "patrol"] = Field(description="drill (演练) or patrol (巡查).")
    team: int | None = Field(None, ge=1, description="Volunteer team id, or")
    venue: str | None = Field(None, max_length=64, description="the venue that held it.")
    held_at: AwareDatetime = Field(description="When.")
    participants: int = Field(0, ge=0, le=10000, description="How many took part.")
    notes: str = Field("", max_length=2000, description="Notes.")


@router.post(f"{PREFIX}/villages", responses={403: {}, 404: {}, 409: {}})
async def add_village(service: Service, principal: CurrentPrincipal,
                      body: VillageBody) -> dict[str, Any]:
    await authorize(service, principal, "org.manage", station_id=body.station,
                    obj=f"village:{body.id}", audit_allowed=True)
    village = await write(service, org.add_village, body.id, body.name, body.station,
                          body.office, body.zones)
    for venue in body.venues:
        await at_venue(service, principal, "org.manage", venue, f"venue:{venue}")
        await write(service, org.set_venue_village, venue, body.id)
    return dict(village)


@router.get(f"{PREFIX}/villages")
async def villages(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The villages the user sees (a village assistant: theirs)."""
    await authorize(service, principal, "mgmt.read")
    rows = await read(service, org.list_villages, principal.station_filter)
    return [r for r in rows if sees_village(principal, r)]


@router.get(f"{PREFIX}/villages/{{village_id}}", responses={403: {}, 404: {}})
async def village(service: Service, principal: CurrentPrincipal,
                  village_id: str) -> dict[str, Any]:
    """A village with its fire zones, liaison points, police assistants, venues and
    volunteer teams (members, drills and patrols, newest first)."""
    return await at_village(service, principal, "mgmt.read", village_id)


@router.post(f"{PREFIX}/villages/{{village_id}}/teams", responses={403: {}, 404: {}})
async def add_team(service: Service, principal: CurrentPrincipal, village_id: str,
                   body: TeamBody) -> dict[str, Any]:
    await at_village(service, principal, "team.manage", village_id, audit=True)
    return dict(await write(service, org.add_team, village_id, body.name,
                            [m.model_dump() for m in body.members]))


@router.post(f"{PREFIX}/villages/{{village_id}}/liaison-points",
             responses={403: {}, 404: {}})
async def add_liaison_point(service: Service, principal: CurrentPrincipal, village_id: str,
                            body: LiaisonBody) -> dict[str, Any]:
    found = await at_village(service, principal, "org.manage", village_id, audit=True)
    point = await write(service, org.add_liaison_point, found["station_id"], village_id,
                        body.name, body.contact, body.phone)
    return {"id": point}


@router.post(f"{PREFIX}/teams/{{team_id}}/members", responses={403: {}, 404: {}})
async def add_member(service: Service, principal: CurrentPrincipal, team_id: int,
                     body: Member) -> dict[str, Any]:
    await at_team(service, principal, team_id, f"team:{team_id}")
    member = await write(service, org.add_member, team_id, body.name, body.phone, body.role)
    return {"id": member, **body.model_dump()}


@router.put(f"{PREFIX}/teams/{{team_id}}/members/{{member_id}}",
            responses={403: {}, 404: {}})
async def update_member(service: Service, principal: CurrentPrincipal, team_id: int,
                        member_id: int, body: Member) -> dict[str, Any]:
    await at_team(service, principal, team_id, f"team:{team_id}:member:{member_id}")
    await write(service, org.update_member, team_id, member_id, body.name, body.phone,
                body.role)
    return {"id": member_id, **body.model_dump()}


@router.delete(f"{PREFIX}/teams/{{team_id}}/members/{{member_id}}",
               responses={403: {}, 404: {}})
async def remove_member(service: Service, principal: CurrentPrincipal, team_id: int,
                        member_id: int) -> dict[str, Any]:
    await at_team(service, principal, team_id, f"team:{team_id}:member:{member_id}")
    await write(service, org.remove_member, team_id, member_id)
    return {"id": member_id, "removed": True}


@router.post(f"{PREFIX}/drills", responses={403: {}, 404: {}, 422: {}})
async def add_drill(service: Service, principal: CurrentPrincipal,
                    body: DrillBody) -> dict[str, Any]:
    """A drill or patrol of a volunteer team (date, participants, notes) or a venue's."""
    if body.team is not None:
        station = await at_team(service, principal, body.team, f"team:{body.team}")
    elif body.venue is not None:
        station = await at_venue(service, principal, "team.manage", body.venue,
                                 f"venue:{body.venue}", audit=True)
    else:
        raise HTTPException(422, "name the team or the venue that held the drill")
    drill_id = await write(service, org.add_drill, station_id=station, kind=body.kind,
                           held_at=body.held_at, actor=principal.username, team_id=body.team,
                           venue_id=body.venue, participants=body.participants,
                           notes=body.notes)
    return {"id": drill_id}


@router.get(f"{PREFIX}/checklists/versions", responses={403: {}, 404: {}})
async def checklist_versions(service: Service, principal: CurrentPrincipal,
                             station: Annotated[str, Query(max_length=64)],
                             category: Annotated[str, Query(max_length=20)]
                             ) -> list[dict[str, Any]]:
    """Every version of the station's checklist for the category, newest first, each
    with its items and the number of inspections that used it."""
    await authorize(service, principal, "mgmt.read", station_id=station,
                    obj=f"station:{station}")
    return list(await read(service, checklists.versions, station, category))
