"""The seals router: seal a PDF or an OFD file with the calling agency's seal."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from verifier.api.routes.common import (
    PrincipalDep,
    ServiceDep,
    errors,
)
from verifier.errors import VerifierError

router = APIRouter(prefix="/v1/seals", tags=["seals"])


_STAMP_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/StampForm"}},
    },
}


@router.post(
    "/stamp",
    response_class=Response,
    openapi_extra={"requestBody": _STAMP_BODY},
    responses={
        200: {
            "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "application/ofd": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The sealed PDF, or the sealed OFD package when an OFD was sent.",
            "headers": {
                "X-Anchor-Tx": {"description": "The anchoring transaction.",
                                "schema": {"type": "string"}},
                "X-Anchor-Block": {"description": "Its block.", "schema": {"type": "string"}},
            },
        },
        **errors(400, 401, 403, 413, 422, 503),
    },
)
async def stamp(request: Request, service: ServiceDep, principal: PrincipalDep) -> Response:
    """Seal a PDF or an OFD file (by its content: a zip is an OFD package) with the calling
    agency's seal (multipart: ``file``, optional ``page``, ``x``, ``y`` in mm — the stamp's
    bottom-left corner from the page's bottom-left, for both formats — and ``width`` in mm);
    the sealed document is anchored on chain. Returns the sealed file, of the kind sent."""
    service.require(principal, "issuer")
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise VerifierError("send the PDF or OFD file in a multipart field named 'file'",
                            code="file_missing")
    data = await upload.read()

    def number(name: str) -> float | None:
        value = form.get(name)
        if value is None or value == "":
            return None
        try:
            result = float(str(value))
        except ValueError:
            raise VerifierError(f"'{name}' must be a number", code="bad_request") from None
        if not math.isfinite(result) or (name == "page" and not result.is_integer()):
            kind = "a whole number" if name == "page" else "a finite number"
            raise VerifierError(f"'{name}' must be {kind}", code="bad_request")
        return result

    from verifier.app.stamping import media_type

    page = number("page")
    sealed, receipt = await run_in_threadpool(
        service.stamp,
        principal,
        data,
        int(page) if page is not None else None,
        number("x"),
        number("y"),
        number("width"),
    )
    return Response(
        sealed,
        media_type=media_type(sealed),
        headers={"X-Anchor-Tx": receipt.tx_hash, "X-Anchor-Block": str(receipt.block_number)},
    )

