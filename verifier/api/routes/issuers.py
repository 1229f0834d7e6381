"""The issuers router: the authorizations of an issuing agency by type, and their
changes (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from verifier.api import paging
from verifier.api.routes.common import (
    LOCATION,
    READ,
    WRITE,
    PrincipalDep,
    ServiceDep,
    errors,
    sent,
)
from verifier.api.schemas import (
    AuthorizationRequest,
    Authorizations,
    ChainChange,
    DeauthorizeRequest,
)
from verifier.app.service import (
    Principal,
    Service,
)

router = APIRouter(prefix="/v1/issuers", tags=["catalogue"])


@router.get("/{uscc}/authorizations", response_model=Authorizations,
             responses=errors(*READ))
def list_authorizations(
    uscc: str,
    service: ServiceDep,
    principal: PrincipalDep,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    cursor: paging.Cursor = None,
) -> dict[str, Any]:
    """An agency's authorizations by type and whether each is issuable now (admins, and
    the agency itself); by type code, a page at a time."""
    shown, following = paging.page(
        service.authorizations(principal, uscc), lambda a: [a["type"]], "authorizations",
        cursor, limit, (paging.TEXT,),
    )
    return {
        "issuer": uscc,
        "authorizations": shown,
        "indexed_block": service.indexer.state().indexed_block,
        "next_cursor": following,
    }


@router.post(
    "/{uscc}/authorizations",
    status_code=201,
    response_model=ChainChange,
    responses={201: {"headers": LOCATION}, **errors(*WRITE)},
)
def authorize(
    uscc: str,
    body: AuthorizationRequest,
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> dict[str, Any]:
    """Authorize an agency for a type, from ``from`` to ``until`` (Beijing dates; default
    today, no end), in ``jurisdiction`` (admins, within the operator's scope on chain)."""
    grant, receipt = service.authorize(
        principal, uscc, body.type, body.valid_from, body.valid_until, body.jurisdiction
    )
    response.headers["Location"] = f"/v1/issuers/{uscc}/authorizations"
    return sent(receipt, done="authorized", **grant.to_json())


def _deauthorize(
    uscc: str, type_code: str, service: Service, principal: Principal
) -> dict[str, Any]:
    receipt = service.deauthorize(principal, uscc, type_code)
    return sent(receipt, done="deauthorized", issuer=uscc, type=type_code)


@router.delete("/{uscc}/authorizations/{type_code}", response_model=ChainChange,
                responses=errors(*WRITE))
def deauthorize(
    uscc: str, type_code: str, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """End an agency's authorization for a type now (earlier certificates stay valid)."""
    return _deauthorize(uscc, type_code, service, principal)


@router.post("/{uscc}/authorizations/deauthorize", response_model=ChainChange,
              responses=errors(*WRITE))
def deauthorize_by_post(
    uscc: str, body: DeauthorizeRequest, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The same as ``DELETE …/authorizations/{type}``, for clients that send only POST."""
    return _deauthorize(uscc, body.type, service, principal)

