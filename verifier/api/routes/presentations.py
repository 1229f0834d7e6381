"""The presentations router: a short-lived code for a stated purpose, and its redemption."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from verifier.api.routes.common import (
    WRITE,
    PrincipalDep,
    ServiceDep,
    errors,
)
from verifier.api.routes.verification import verify_json
from verifier.api.schemas import (
    Presentation,
    PresentationRequest,
    Redeemed,
    RedeemRequest,
)

router = APIRouter(prefix="/v1/presentations", tags=["presentations"])


@router.post(
    "",
    status_code=201,
    response_model=Presentation,
    responses={
        201: {"headers": {"Location": {
            "description": "The certificate's timeline, where the presentation is recorded "
            "(the code is a secret: no URL names it).",
            "schema": {"type": "string"}}}},
        **errors(*WRITE),
    },
)
def present(
    body: PresentationRequest, service: ServiceDep, principal: PrincipalDep, response: Response
) -> dict[str, Any]:
    """A short-lived, single-use code for a stated purpose (用证事由)."""
    import datetime as dt

    presentation = service.present(
        principal,
        body.certificate,
        body.purpose,
        body.fields,
        dt.timedelta(seconds=body.ttl_seconds),
    )
    response.headers["Location"] = f"/v1/certificates/{presentation.identifier}/history"
    return {
        "code": presentation.code,
        "expires_at": presentation.expires_at.isoformat(),
        "certificate": presentation.identifier,
        "purpose": presentation.purpose,
    }


@router.post("/redeem", response_model=Redeemed, response_model_exclude_unset=True,
                 responses=errors(*WRITE, 410))
def redeem(body: RedeemRequest, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """Exchange a code for the certificate (only the disclosed fields) and its verdict."""
    verdict, shown = service.redeem(principal, body.code)
    out = verify_json(verdict)
    out["certificate"] = {**out["certificate"], **shown["values"], "hidden": shown["hidden"]}
    out["purpose"] = shown["purpose"]
    return out

