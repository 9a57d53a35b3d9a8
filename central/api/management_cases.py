"""Rectification notices and their PDF, proofs, re-inspection, escalation, penalty cases,
fire investigations, the leader's overview, telemetry rules, scores and the dashboard."""

from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, Field

from alarmlink.config_base import StrictModel
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.management import PREFIX, at_venue, parse_when, read, venue_filter, write
from central.auth.principal import Principal
from central.management import notices, pdf, scores, stats, telemetry

logger = logging.getLogger(__name__)

router = APIRouter(tags=["management"])


class NoticeBody(StrictModel):
    hazards: list[int] = Field(min_length=1, max_length=100, description="Hazard ids.")
    kind: Literal["immediate", "deadline"] = Field(
        description="immediate (责令立即改正) or deadline (责令限期改正).")
    deadline: AwareDatetime | None = Field(None, description="For a deadline notice.")


async def _notice(service: Service, principal: Principal, notice_id: int, action: Any,
                  audit: bool = False) -> dict[str, Any]:
    await authorize(service, principal, action, obj=f"notice:{notice_id}")
    found = await read(service, notices.get_notice, notice_id)
    await authorize(service, principal, action, station_id=found["station_id"],
                    venue_id=found["venue_id"], obj=f"notice:{notice_id}", audit_allowed=audit)
    return dict(found)


@router.post(f"{PREFIX}/notices", responses={403: {}, 404: {}, 422: {}})
async def issue_notice(service: Service, principal: CurrentPrincipal,
                       body: NoticeBody) -> dict[str, Any]:
    await authorize(service, principal, "notice.issue", obj=f"hazard:{body.hazards[0]}")
    first = await read(service, notices.get_hazard, body.hazards[0])
    await at_venue(service, principal, "notice.issue", first["venue_id"],
                   f"hazard:{first['id']}", audit=True)
    return dict(await write(service, notices.issue_notice, hazard_ids=body.hazards,
                            kind=body.kind, deadline=body.deadline, actor=principal.username,
                            now=service.clock()))


def _notices(db: Any, stations: list[str] | None) -> list[dict[str, Any]]:
    sql, args = "SELECT * FROM notices", []
    if stations is not None:
        sql += f" WHERE station_id IN ({','.join('?' * len(stations))})"
        args = stations
    return [dict(r) for r in db.query(sql + " ORDER BY id", args)]


@router.get(f"{PREFIX}/notices")
async def list_notices(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    await authorize(service, principal, "mgmt.read")
    return venue_filter(principal, await read(service, _notices, principal.station_filter))


@router.get(f"{PREFIX}/notices/{{notice_id}}", responses={403: {}, 404: {}})
async def get_notice(service: Service, principal: CurrentPrincipal,
                     notice_id: int) -> dict[str, Any]:
    return await _notice(service, principal, notice_id, "mgmt.read")


@router.get(f"{PREFIX}/notices/{{notice_id}}/pdf", responses={403: {}, 404: {}})
async def notice_pdf(service: Service, principal: CurrentPrincipal, request: Request,
                     notice_id: int) -> Response:
    found = await _notice(service, principal, notice_id, "notice.pdf")
    body = pdf.render(found, pdf.notice_url(str(request.base_url), notice_id))
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="notice-{notice_id}.pdf"'})


class ProofBody(StrictModel):
    text: str = Field(min_length=1, max_length=4000, description="What was rectified.")
    photos: list[int] = Field(default_factory=list, max_length=20,
                              description="Photo ids uploaded with owner notice:ID.")
    reinspection: bool = Field(True, description="Request re-inspection (申请复查).")


@router.post(f"{PREFIX}/notices/{{notice_id}}/proof", responses={403: {}, 404: {}, 409: {}})
async def submit_proof(service: Service, principal: CurrentPrincipal, notice_id: int,
                       body: ProofBody) -> dict[str, Any]:
    await _notice(service, principal, notice_id, "notice.proof", audit=True)
    return dict(await write(service, notices.submit_proof, notice_id, text=body.text,
                            photos=body.photos, reinspection=body.reinspection,
                            actor=principal.username, now=service.clock()))


class ReinspectionBody(StrictModel):
    passed: bool = Field(description="true: rectified, the hazards close; false: failure.")
    inspectors: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=2, max_length=10, description="At least two inspectors.")
    notes: str = Field("", max_length=4000, description="What the re-inspection found.")


@router.post(f"{PREFIX}/notices/{{notice_id}}/reinspection",
             responses={403: {}, 404: {}, 409: {}, 422: {}})
async def reinspect(service: Service, principal: CurrentPrincipal, notice_id: int,
                    body: ReinspectionBody) -> dict[str, Any]:
    await _notice(service, principal, notice_id, "reinspection.record", audit=True)
    return dict(await write(service, notices.reinspect, notice_id, passed=body.passed,
                            inspectors=body.inspectors, notes=body.notes,
                            actor=principal.username, now=service.clock()))


@router.post(f"{PREFIX}/escalate", responses={403: {}})
async def escalate(service: Service, principal: CurrentPrincipal) -> dict[str, Any]:
    """Escalate every notice past its deadline to its station's leader (also run by the
    leader's overview)."""
    await authorize(service, principal, "telemetry.run", obj="notices", audit_allowed=True)
    return {"escalated": await write(service, notices.escalate_overdue, service.clock())}


class PenaltyBody(StrictModel):
    venue: str = Field(max_length=64, description="Venue.")
    notice: int | None = Field(None, ge=1, description="The notice it follows, if any.")
    proposal: str = Field(min_length=1, max_length=2000, description="Proposal (立案理由).")


class ApprovalBody(StrictModel):
    approve: bool = Field(description="The leader approves (true) or rejects (false).")


class DecisionBody(StrictModel):
    decision: Literal["warning", "fine"] = Field(description="warning (警告) or fine (罚款).")
    amount_yuan: int | None = Field(None, ge=1, le=10_000_000, description="Fine in yuan.")


async def _penalty(service: Service, principal: Principal, penalty_id: int, action: Any
                   ) -> None:
    await authorize(service, principal, action, obj=f"penalty:{penalty_id}")
    found = await read(service, notices.get_penalty, penalty_id)
    await authorize(service, principal, action, station_id=found["station_id"],
                    venue_id=found["venue_id"], obj=f"penalty:{penalty_id}",
                    audit_allowed=True)


@router.post(f"{PREFIX}/penalties", responses={403: {}, 404: {}, 422: {}})
async def propose_penalty(service: Service, principal: CurrentPrincipal,
                          body: PenaltyBody) -> dict[str, Any]:
    await at_venue(service, principal, "penalty.propose", body.venue, f"venue:{body.venue}",
                   audit=True)
    return dict(await write(service, notices.propose_penalty, venue_id=body.venue,
                            notice_id=body.notice, proposal=body.proposal,
                            actor=principal.username, now=service.clock()))


@router.post(f"{PREFIX}/penalties/{{penalty_id}}/approval", responses={403: {}, 404: {}, 409: {}})
async def approve_penalty(service: Service, principal: CurrentPrincipal, penalty_id: int,
                          body: ApprovalBody) -> dict[str, Any]:
    await _penalty(service, principal, penalty_id, "penalty.approve")
    return dict(await write(service, notices.approve_penalty, penalty_id, approve=body.approve,
                            actor=principal.username, now=service.clock()))


@router.post(f"{PREFIX}/penalties/{{penalty_id}}/decision", responses={403: {}, 404: {}, 409: {}})
async def decide_penalty(service: Service, principal: CurrentPrincipal, penalty_id: int,
                         body: DecisionBody) -> dict[str, Any]:
    await _penalty(service, principal, penalty_id, "penalty.decide")
    return dict(await write(service, notices.decide_penalty, penalty_id,
                            decision=body.decision, amount_yuan=body.amount_yuan,
                            actor=principal.username, now=service.clock()))


class InvestigationBody(StrictModel):
    venue: str = Field(max_length=64, description="Venue of the fire.")
    incident: int | None = Field(None, ge=1, description="The alarm incident, if any.")
    summary: str = Field(min_length=1, max_length=4000, description="Findings.")
    at: AwareDatetime | None = Field(None, description="When (default now).")


@router.post(f"{PREFIX}/investigations", responses={403: {}, 404: {}})
async def add_investigation(service: Service, principal: CurrentPrincipal,
                            body: InvestigationBody) -> dict[str, Any]:
    await at_venue(service, principal, "investigation.record", body.venue,
                   f"venue:{body.venue}", audit=True)
    return dict(await write(service, notices.record_investigation, venue_id=body.venue,
                            incident_id=body.incident, summary=body.summary,
                            actor=principal.username, at=body.at or service.clock()))


@router.get(f"{PREFIX}/leader", responses={403: {}})
async def leader_overview(service: Service, principal: CurrentPrincipal) -> dict[str, Any]:
    await authorize(service, principal, "stats.read")
    await write(service, notices.escalate_overdue, service.clock())
    return dict(await read(service, notices.leader_overview, principal.station_filter))


@router.get(f"{PREFIX}/telemetry-rules")
async def telemetry_rules(service: Service, principal: CurrentPrincipal
                          ) -> list[dict[str, Any]]:
    await authorize(service, principal, "mgmt.read")
    return list(await read(service, telemetry.rules))


@router.post(f"{PREFIX}/telemetry/run", responses={403: {}})
async def run_telemetry(service: Service, principal: CurrentPrincipal) -> dict[str, Any]:
    await authorize(service, principal, "telemetry.run", obj="telemetry", audit_allowed=True)
    return {"opened": await write(service, telemetry.run, service.clock())}


Subject = Literal["venue", "station", "village"]


class ComputeBody(StrictModel):
    subject: Subject = Field(description="venue, station or village.")
    period: str = Field(pattern=r"^\d{4}-\d{2}$", description="Month, YYYY-MM.")
    version: int | None = Field(None, ge=1, description="Rule version (default newest).")


class RuleTerm(StrictModel):
    input: str = Field(min_length=1, max_length=64,
                       description="A score input of the subject, e.g. hazards_open.")
    weight: float = Field(ge=-100, le=100, description="Points per unit of the input.")


class RuleBody(StrictModel):
    subject: Subject = Field(description="venue, station or village.")
    base: float = Field(ge=0, le=100, description="Points before the terms.")
    terms: list[RuleTerm] = Field(max_length=20, description="The rule's terms.")


@router.post(f"{PREFIX}/scores/compute", responses={403: {}, 422: {}})
async def compute_scores(service: Service, principal: CurrentPrincipal,
                         body: ComputeBody) -> dict[str, Any]:
    await authorize(service, principal, "score.compute", obj=f"scores:{body.subject}",
                    audit_allowed=True)
    result = await write(service, scores.compute, body.subject, body.period, service.clock(),
                         body.version)
    if principal.stations is not None:
        result["scores"] = [s for s in result["scores"] if body.subject != "station"
                            or s["subject_id"] in principal.stations]
    return dict(result)


@router.post(f"{PREFIX}/score-rules", responses={403: {}, 422: {}})
async def new_score_rule(service: Service, principal: CurrentPrincipal,
                         body: RuleBody) -> dict[str, Any]:
    await authorize(service, principal, "score.rules", obj=f"score-rule:{body.subject}",
                    audit_allowed=True)
    return dict(await write(service, scores.new_rule, body.subject,
                            {"base": body.base,
                             "terms": [t.model_dump() for t in body.terms]},
                            principal.username,
                            service.clock()))


@router.get(f"{PREFIX}/scores/{{subject}}/{{subject_id}}", responses={403: {}})
async def explain_score(service: Service, principal: CurrentPrincipal, subject: Subject,
                        subject_id: str, period: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
                        ) -> list[dict[str, Any]]:
    await authorize(service, principal, "score.read", obj=f"{subject}:{subject_id}")
    if subject == "venue":
        await at_venue(service, principal, "score.read", subject_id, f"venue:{subject_id}")
    elif subject == "station":
        await authorize(service, principal, "score.read", station_id=subject_id,
                        obj=f"station:{subject_id}")
    return list(await read(service, scores.explain, subject, subject_id, period))


@router.get(f"{PREFIX}/rankings", responses={403: {}})
async def rankings(service: Service, principal: CurrentPrincipal, subject: Subject,
                   county: Annotated[str, Query(max_length=64)],
                   period: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
                   ) -> list[dict[str, Any]]:
    await authorize(service, principal, "stats.read", obj=f"county:{county}")
    return list(await read(service, scores.ranking, subject, period, county))


def _scope_stations(db: Any, station: str | None, county: str | None, city: str | None
                    ) -> list[str] | None:
    if station:
        return [station]
    if county:
        return [r["id"] for r in db.query("SELECT id FROM stations WHERE county_id = ?",
                                          [county])]
    if city:
        return [r["id"] for r in db.query("SELECT s.id FROM stations s JOIN counties c ON "
                                          "c.id = s.county_id WHERE c.city_id = ?", [city])]
    return None


async def _period(service: Service, principal: Principal, station: str | None,
                  county: str | None, city: str | None, since: str | None,
                  until: str | None) -> tuple[list[str] | None, datetime, datetime]:
    await authorize(service, principal, "stats.read")
    wanted = await read(service, _scope_stations, station, county, city)
    if principal.stations is not None:
        outside = [s for s in (wanted or []) if s not in principal.stations]
        if outside:
            await authorize(service, principal, "stats.read", station_id=outside[0],
                            obj=f"station:{outside[0]}")
        wanted = sorted(principal.stations) if wanted is None else wanted
    now = service.clock()
    return wanted, parse_when(since, now - timedelta(days=30)), parse_when(until, now)


Q = Annotated[str | None, Query(max_length=64)]


@router.get(f"{PREFIX}/dashboard", responses={403: {}, 422: {}})
async def dashboard(service: Service, principal: CurrentPrincipal, station: Q = None,
                    county: Q = None, city: Q = None, since: Q = None,
                    until: Q = None) -> dict[str, Any]:
    scope, start, end = await _period(service, principal, station, county, city, since, until)
    return dict(await read(service, stats.dashboard, scope, start, end))


@router.get(f"{PREFIX}/dashboard/records", responses={403: {}, 422: {}})
async def dashboard_records(service: Service, principal: CurrentPrincipal,
                            figure: Literal[tuple(stats.FIGURES)],  # type: ignore[valid-type]
                            station: Q = None, county: Q = None, city: Q = None,
                            since: Q = None, until: Q = None,
                            format: Literal["json", "csv"] = "json") -> Any:
    scope, start, end = await _period(service, principal, station, county, city, since, until)
    rows = await read(service, stats.records, figure, scope, start, end)
    if format == "json":
        return rows
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{figure}.csv"'})
