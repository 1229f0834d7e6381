"""The audit log router: ``GET /v1/events``, the service's events across certificates
(auditors and admins; an agency's key: its own agency's), filtered, a page at a time."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from verifier.api import paging
from verifier.api.routes.common import PrincipalDep, ServiceDep, errors
from verifier.api.schemas import Events
from verifier.app.service import EventFilter
from verifier.app.service.auditing import parse_time

router = APIRouter(prefix="/v1/events", tags=["audit"])


@router.get("", response_model=Events, response_model_exclude_unset=True,
            responses=errors(401, 403, 422, 503))
def list_events(
    service: ServiceDep,
    principal: PrincipalDep,
    issuer: Annotated[str | None, Query(max_length=18, description="The agency's USCC.")] = None,
    certificate: Annotated[str | None, Query(max_length=120, description="A certificate's "
                                             "identifier.")] = None,
    type: Annotated[str | None, Query(max_length=21, description="A type code.")] = None,
    actor: Annotated[str | None, Query(max_length=200, description="Who, as the events name "
                                       "them (`counter:一号窗口`).")] = None,
    role: Annotated[str | None, Query(
        pattern="^(admin|issuer|counter|auditor|holder|system)$")] = None,
    event: Annotated[str | None, Query(max_length=400, description="Event kinds, separated "
                                       "by commas (`verified,redeem_refused`).")] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40, description="At or after "
                                       "(ISO 8601; without an offset: 北京时间).")] = None,
    to: Annotated[str | None, Query(max_length=40, description="Before (ISO 8601).")] = None,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    cursor: paging.Cursor = None,
) -> dict[str, Any]:
    """The audit log: every service event (issued, presented, redeemed, verified, status
    changes with their reasons and chain events, refused attempts), each with its actor,
    role and sequence number, in sequence, a page at a time."""
    after = paging.decode("events", cursor, paging.EVENTS, paging.events_position)
    wanted = EventFilter(
        issuer=issuer, identifier=certificate, type_code=type, actor=actor, role=role,
        events=tuple(e.strip() for e in event.split(",") if e.strip()) if event else (),
        since=parse_time(from_, "from") if from_ is not None else None,
        until=parse_time(to, "to") if to is not None else None,
    )
    found, more = service.events(principal, wanted, after=after[0] if after else None,
                                 limit=limit)
    return {
        "events": found,
        "next_cursor": paging.encode("events", [found[-1]["seq"]]) if more and found else None,
    }
