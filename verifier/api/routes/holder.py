"""The holder router: no account, the certificate file is the credential.

``POST /v1/holder/open`` verifies the holder's file (certificate JSON, or the sealed PDF or
OFD carrying it) and says whether a presentation code can be made from it;
``POST /v1/holder/presentations`` makes one (:mod:`verifier.app.holder` says what is
checked). Both are limited per client address; making a code also per certificate.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from typing import Annotated, Any

import segno
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from certs.canonical import CertificateDocument
from verifier.api.routes.common import ServiceDep, errors
from verifier.api.routes.verification import verify_json
from verifier.api.schemas import HolderOpened, HolderPresentation
from verifier.app import holder
from verifier.app.service import Service
from verifier.checks.seal_checks import trust_anchors

router = APIRouter(prefix="/v1/holder", tags=["holder"])

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                                "schema": {"type": "integer"}}}
_HOLDER_ERRORS: dict[int | str, dict[str, Any]] = {
    **errors(400, 404, 409, 413, 422, 429, 503),
}
_HOLDER_ERRORS[429] = {**_HOLDER_ERRORS[429], "headers": _RETRY_AFTER}

_limiter_lock = threading.Lock()


def _limit_address(request: Request, service: Service) -> None:
    """Count this request against its client address (``rate_limited`` when over)."""
    state = request.app.state
    with _limiter_lock:
        limiter = getattr(state, "holder_limiter", None)
        if limiter is None:
            settings = service.settings
            limiter = holder.AddressLimiter(
                settings.holder_address_limit, settings.holder_address_window_seconds
            )
            state.holder_limiter = limiter
    limiter.take(holder.address_key(request.client.host if request.client is not None
                                    else "unknown"))


def _read(service: Service, data: bytes) -> holder.HolderFile:
    settings = service.settings
    return holder.read_file(
        data,
        service.indexer,
        seconds=settings.verify_seconds,
        memory=settings.verify_memory_bytes,
        anchors=trust_anchors(settings.home_dir, ()),
    )


def _labels(document: CertificateDocument, paths: list[str]) -> list[dict[str, Any]]:
    rows = {row["path"]: row for row in holder.field_rows(document)}
    return [{"path": p, "label": rows[p]["label"], "always": rows[p]["always"]}
            for p in paths if p in rows]


FileField = Annotated[UploadFile, File(description="The holder's certificate file: its "
                                       "sealed PDF or OFD, or its JSON document.")]


@router.post("/open", response_model=HolderOpened, responses=_HOLDER_ERRORS)
def open_file(request: Request, service: ServiceDep, file: FileField) -> dict[str, Any]:
    """Verify a holder's certificate file in full and list its fields with their Chinese
    labels; ``presentable`` says whether a presentation code can be made from it (and
    ``refusal`` why not). Nothing is stored."""
    _limit_address(request, service)
    found = _read(service, file.file.read())
    out = verify_json(found.verdict)
    refusal = None
    try:
        holder.check_presentable(service.store, found)
    except holder.HolderRefused as exc:
        refusal = {"error": exc.code, "message": str(exc), "message_zh": exc.message_zh}
    return {
        **out,
        "kind": found.kind,
        "fields": holder.field_rows(found.document) if found.document is not None else [],
        "presentable": refusal is None,
        "refusal": refusal,
    }


@router.post(
    "/presentations",
    status_code=201,
    response_model=HolderPresentation,
    responses={
        201: {"headers": {"Location": {
            "description": "The certificate's timeline, where the presentation is recorded "
            "(the code is a secret: no URL names it).",
            "schema": {"type": "string"}}}},
        **_HOLDER_ERRORS,
    },
)
def present(
    request: Request,
    service: ServiceDep,
    response: Response,
    file: FileField,
    purpose: Annotated[str, Form(min_length=1, max_length=200, description="用证事由",
                                 examples=["办理社保"])],
    fields: Annotated[list[str], Form(max_length=200, description="A path to disclose, "
                                      "once per path (none: only the always-disclosed "
                                      "ones).")] = [],  # noqa: B006 (FastAPI copies it)
    ttl_seconds: Annotated[int, Form(ge=holder.TTL_MIN, le=holder.TTL_MAX)] = 300,
) -> dict[str, Any]:
    """A short-lived, single-use presentation code made from the holder's own certificate
    file (the full document, verified valid, the very one this service holds), disclosing
    the fields chosen and the always-disclosed ones, for a stated purpose (用证事由)."""
    _limit_address(request, service)
    settings = service.settings
    found = _read(service, file.file.read())
    try:
        made = holder.present(
            service.store,
            found,
            purpose,
            list(fields),
            dt.timedelta(seconds=ttl_seconds),
            certificate_limit=settings.holder_certificate_limit,
            certificate_window=settings.holder_certificate_window_seconds,
        )
    except holder.HolderRefused as exc:
        # a refused attempt on the certificate the file names (a copy with forged salts,
        # a revoked one, too many codes): in that certificate's timeline for its auditors
        # (refusals by address are not logged: the address limit bounds what is)
        named = found.document.values().get("identifier") if found.document else None
        service.log_refusal(holder.ACTOR, "present_refused",
                            named if isinstance(named, str) else None, exc)
        raise
    assert found.document is not None  # holder.present refuses a file without one
    # a full QR symbol, never the Micro QR that segno.make picks for 11 characters: the
    # counters' scanners and the browsers' BarcodeDetector read QR
    svg = io.BytesIO()
    symbol = segno.make_qr(made.code, error="m")
    symbol.save(svg, kind="svg", scale=1, xmldecl=False, svgns=True, nl=False)
    response.headers["Location"] = f"/v1/certificates/{made.identifier}/history"
    return {
        "code": made.code,
        "expires_at": made.expires_at.isoformat().replace("+00:00", "Z"),
        "ttl_seconds": ttl_seconds,
        "certificate": made.identifier,
        "purpose": made.purpose,
        "fields": _labels(found.document, list(made.fields or ())),
        "qr_svg": svg.getvalue().decode("utf-8"),
    }
