"""The certificate types router: the catalogue as the chain holds it, and its changes
(admins)."""

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
    Catalogue,
    CatalogueTypeWithSchema,
    ChainChange,
    TypeAdd,
)

router = APIRouter(prefix="/v1/types", tags=["catalogue"])


@router.get("", response_model=Catalogue, responses=errors(401, 403, 422, 503))
def list_types(
    service: ServiceDep,
    principal: PrincipalDep,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    cursor: paging.Cursor = None,
) -> dict[str, Any]:
    """The certificate catalogue as the chain holds it (as this service's index read it):
    each type's name, defining body, version, withdrawal, schema digest, and whether that
    digest is the schema published with the project; by type code, a page at a time."""
    shown, following = paging.page(
        service.catalogue(principal), lambda t: [t["code"]], "types", cursor, limit,
        (paging.TEXT,),
    )
    return {
        "types": shown,
        "indexed_block": service.indexer.state().indexed_block,
        "next_cursor": following,
    }


@router.get("/{code}", response_model=CatalogueTypeWithSchema, response_model_by_alias=True,
           responses=errors(*READ))
def show_type(code: str, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """One type of the catalogue, with its field schema (certs/types.json)."""
    found: dict[str, Any] = service.catalogue(principal, code)
    return found


@router.post(
    "",
    status_code=201,
    response_model=ChainChange,
    responses={201: {"headers": LOCATION}, **errors(*WRITE)},
)
def add_type(
    body: TypeAdd, service: ServiceDep, principal: PrincipalDep, response: Response
) -> dict[str, Any]:
    """Put a type (its schema as published with the project) into the catalogue on chain
    (admins; the operator account must be a national admin on chain)."""
    receipt = service.publish_type(principal, body.code)
    response.headers["Location"] = f"/v1/types/{body.code}"
    return sent(receipt, done="added", code=body.code)


@router.post("/{code}/revise", response_model=ChainChange, responses=errors(*WRITE))
def revise_type(code: str, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """Publish a new version of a type (names and schema as the project has them)."""
    receipt = service.publish_type(principal, code, revise=True)
    return sent(receipt, done="revised", code=code)


@router.post("/{code}/withdraw", response_model=ChainChange, responses=errors(*WRITE))
def withdraw_type(code: str, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """Withdraw a type: no certificate of it anchored from now on is valid."""
    receipt = service.withdraw_type(principal, code)
    return sent(receipt, done="withdrawn", code=code)


