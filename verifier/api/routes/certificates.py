"""The certificates router: issue one or a batch, read one (JSON, PDF, QR), change its
status, and its timeline."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from certs.canonical import ALWAYS_DISCLOSED
from certs.document import disclose
from certs.issuance import IssueReport
from certs.request_csv import requests_from_csv
from verifier.api import paging
from verifier.api.errors import ERRORS
from verifier.api.routes.common import (
    LOCATION,
    READ,
    WRITE,
    IdempotencyKey,
    PrincipalDep,
    ServiceDep,
    answered,
    canonical_json,
    errors,
    request_digest,
)
from verifier.api.schemas import (
    BatchRejected,
    BatchReport,
    BulkStatusChange,
    Certificate,
    CertificateList,
    ErrorBody,
    History,
    Issued,
    StatusAction,
    StatusChange,
    StatusChanged,
)
from verifier.app.service import (
    Principal,
    Service,
    check_idempotency_key,
)
from verifier.app.service.auditing import parse_time
from verifier.errors import VerifierError

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "accepted": [
            {"line": a.line, "id": a.identifier, "identifier": a.identifier, "status": "pending"}
            for a in report.accepted
        ],
        "rejected": [r.to_json() for r in report.rejected],
    }



def _one_answer(report: IssueReport) -> tuple[int, dict[str, Any]]:
    if report.rejected:
        return 422, {
            "error": "invalid_certificate",
            "message": "; ".join(str(e) for e in report.rejected[0].errors),
            "errors": report.rejected[0].to_json()["errors"],
        }
    a = report.accepted[0]
    return 201, {"id": a.identifier, "identifier": a.identifier, "status": "pending"}


def _created(path: str) -> dict[str, str]:
    return {"Location": path}


@router.post(
    "",
    status_code=201,
    response_model=None,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/CertificateRequest"}}}}},
    responses={
        201: {"model": Issued, "description": "Issued, queued for anchoring.",
              "headers": LOCATION},
        **errors(400, 401, 403, 413, 422, 503),
    },
)
def issue_one(
    service: ServiceDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Issue one certificate (queued for anchoring). With an ``Idempotency-Key`` header, a
    retry gets the first answer instead of a second certificate."""
    digest = request_digest("POST /v1/certificates", "application/json", canonical_json(body))
    answer = service.issue_once(
        principal, [(1, body)], _one_answer, key=idempotency_key, digest=digest
    )
    return answered(answer)


def _batch_answer(report: IssueReport) -> tuple[int, dict[str, Any]]:
    body = _report_json(report)
    if not report.accepted:
        return 422, {
            "error": "batch_rejected",
            "message": f"no row of the batch was accepted ({len(report.rejected)} rejected): "
            "see each row's errors",
            **body,
        }
    return 201, body


_BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/CertificateRequest"},
            "description": "Certificate requests; a row that is not one is rejected with its "
            "line, the others are issued.",
        }},
        "text/csv": {"schema": {
            "type": "string",
            "description": "A header row of dotted keys (type, holder.name, holder.code, "
            "holder.code_type, jurisdiction, fields.企业名称, …), then one row per "
            "certificate.",
            "example": "type,holder.name,holder.code,holder.code_type,jurisdiction\n"
            "11100000000013338W032,张三,11010519491231002X,111,360100\n",
        }},
    },
}


@router.post(
    "/batch",
    status_code=201,
    response_model=None,
    openapi_extra={"requestBody": _BATCH_BODY},
    responses={
        201: {"model": BatchReport, "headers": LOCATION,
              "description": "At least one row was issued (Location: the first of them); "
              "the rejected rows are listed with their line and errors."},
        **errors(400, 401, 403, 413),
        422: {"model": BatchRejected | ErrorBody,
              "description": "No row was accepted (`batch_rejected`, with each row's "
              "errors), or the request is invalid: "
              + ", ".join(f"`{c}`" for c, k in sorted(ERRORS.items()) if k.status == 422)},
        **errors(503),
    },
)
async def issue_batch(
    service: ServiceDep,
    principal: PrincipalDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Issue many: a JSON list, or CSV (``text/csv``) with dotted keys. Bad rows are listed
    with their line; the good rows are issued. With an ``Idempotency-Key`` header, a retry
    gets the first answer instead of a second issuance."""
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    rows: list[tuple[int, Any]]
    if kind == "text/csv":
        try:
            rows = list(requests_from_csv(raw.decode("utf-8-sig")))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise VerifierError(f"the CSV is unreadable: {exc}", code="bad_csv") from exc
        asked = raw
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise VerifierError(f"the body is not JSON: {exc}", code="bad_json") from exc
        except RecursionError:
            raise VerifierError("the JSON is nested too deeply", code="bad_json") from None
        if not isinstance(data, list):
            raise VerifierError(
                "a batch is a JSON list of certificate requests", code="batch_not_list"
            )
        rows = list(enumerate(data, start=1))
        asked = canonical_json(data) if idempotency_key is not None else b""
        kind = "application/json"
    if len(rows) > 100_000:
        raise VerifierError("at most 100,000 rows per batch", code="batch_too_large")
    digest = request_digest("POST /v1/certificates/batch", kind, asked)
    answer = await run_in_threadpool(
        service.issue_once,
        principal,
        rows,
        _batch_answer,
        key=idempotency_key,
        digest=digest,
    )
    return answered(answer)


@router.get("/{identifier}", response_model=Certificate, responses=errors(*READ))
def get_certificate(
    identifier: str, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The certificate and its document. The full salted document is the holder's credential
    (possessing it makes presentation codes: ``POST /v1/holder/presentations``), so only the
    issuing agency (which hands it to the holder) and an admin get it; an auditor gets its
    values, and the document with every claim but the always-disclosed ones hidden."""
    record = service.own_record(principal, identifier, roles=("issuer", "auditor", "admin"))
    document = record.document
    values: dict[str, Any] | None = None
    if principal.role == "auditor":
        values = {path: list(value) if isinstance(value, tuple) else value
                  for path, value in document.values().items()}
        document = disclose(document, [p for p in document.claims if p not in ALWAYS_DISCLOSED])
    return {
        "id": record.identifier,
        "identifier": record.identifier,
        "status": record.status,
        "issuer": record.issuer,
        "document": json.loads(document.to_json()),
        **({"values": values} if values is not None else {}),
    }


@router.get(
    "/{identifier}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string",
                                                          "format": "binary"}}},
              "description": "The sealed PDF."},
        **errors(*READ, 409),
    },
)
def get_pdf(identifier: str, service: ServiceDep, principal: PrincipalDep) -> Response:
    """The certificate as a sealed PDF (its seal anchored on chain)."""
    return Response(service.certificate_pdf(principal, identifier), media_type="application/pdf")


@router.get(
    "/{identifier}/ofd",
    response_class=Response,
    responses={
        200: {"content": {"application/ofd": {"schema": {"type": "string",
                                                          "format": "binary"}}},
              "description": "The sealed OFD (GB/T 33190)."},
        **errors(*READ, 409),
    },
)
def get_ofd(identifier: str, service: ServiceDep, principal: PrincipalDep) -> Response:
    """The certificate as a sealed OFD package (its SM3 anchored on chain, as the PDF's)."""
    return Response(service.certificate_ofd(principal, identifier), media_type="application/ofd")


@router.get(
    "/{identifier}/qr",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}},
                          "image/svg+xml": {"schema": {"type": "string"}}},
              "description": "The certificate's QR code."},
        **errors(*READ),
    },
)
def get_qr(
    identifier: str,
    service: ServiceDep,
    principal: PrincipalDep,
    format: Annotated[str, Query(pattern="^(png|svg)$")] = "png",
) -> Response:
    record = service.own_record(principal, identifier)
    code = segno.make(service.qr_text(record), error="m")
    buffer = io.BytesIO()
    if format == "svg":
        code.save(buffer, kind="svg", scale=4)
        return Response(buffer.getvalue(), media_type="image/svg+xml")
    code.save(buffer, kind="png", scale=6)
    return Response(buffer.getvalue(), media_type="image/png")


def _change(
    service: Service, principal: Principal, ids: list[str], action: str, body: StatusChange
) -> dict[str, Any]:
    """Change the status of certificates of one agency in one chain transaction."""
    receipt = service.change_status(principal, ids, action, body.reason_code, body.reason)
    return {
        "identifiers": ids,
        "action": action,
        "tx_hash": receipt.tx_hash,
        "block": receipt.block_number,
    }


def _status_routes(action: str) -> None:
    def single(
        identifier: str, body: StatusChange, service: ServiceDep, principal: PrincipalDep
    ) -> dict[str, Any]:
        return _change(service, principal, [identifier], action, body)

    def bulk(
        body: BulkStatusChange, service: ServiceDep, principal: PrincipalDep
    ) -> dict[str, Any]:
        return _change(service, principal, body.identifiers, action, body)

    # the bulk route first: "/bulk/revoke" would otherwise match "/{identifier}/revoke"
    router.post(
        f"/bulk/{action}",
        name=f"{action}_many",
        summary=f"{action.capitalize()} many certificates in one transaction",
        response_model=StatusChanged,
        responses=errors(*WRITE),
    )(bulk)
    router.post(
        f"/{{identifier}}/{action}",
        name=f"{action}_one",
        summary=f"{action.capitalize()} one certificate",
        response_model=StatusChanged,
        responses=errors(*WRITE),
    )(single)


for _action in StatusAction:
    _status_routes(_action.value)


@router.get("/{identifier}/history", response_model=History,
                  response_model_exclude_unset=True, responses=errors(*READ))
def history(
    identifier: str,
    service: ServiceDep,
    principal: PrincipalDep,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    cursor: paging.Cursor = None,
) -> dict[str, Any]:
    """The auditor's timeline of a certificate: the service's events (issued, presented,
    verified, suspended … and refused attempts), each with its actor, role and reason, a
    status change with the chain event it caused; and the other chain events (anchored, its
    type's and its issuer's), in their true order (docs/audit.md), a page at a time."""
    after = paging.decode("history", cursor, paging.HISTORY, paging.history_position)
    found = service.history(principal, identifier, after=after,
                            limit=limit)
    events = found.pop("events")
    more = found.pop("more")
    keys = [e.pop("key") for e in events]
    return {
        **found,
        "events": events,
        "next_cursor": paging.encode("history", keys[-1]) if more and keys else None,
    }




@router.get("", response_model=CertificateList, responses=errors(401, 403, 422, 503))
def list_certificates(
    service: ServiceDep,
    principal: PrincipalDep,
    issuer: Annotated[str | None, Query(max_length=18, description="The agency's USCC (an "
                                        "agency's key: its own, the default).")] = None,
    type: Annotated[str | None, Query(max_length=21, description="Type code.")] = None,
    status: Annotated[str | None, Query(
        pattern="^(pending|active|suspended|revoked|superseded)$")] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40, description="Issued at or "
                                       "after (ISO 8601; without an offset: 北京时间).")] = None,
    to: Annotated[str | None, Query(max_length=40, description="Issued before.")] = None,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    cursor: paging.Cursor = None,
) -> dict[str, Any]:
    """An agency's certificates, by identifier, a page at a time (auditors and admins: any
    agency's; an agency's key: its own)."""
    after = paging.decode("certificates", cursor, (paging.TEXT,))
    found, more = service.list_certificates(
        principal, issuer=issuer, type_code=type, status=status,
        since=parse_time(from_, "from") if from_ is not None else None,
        until=parse_time(to, "to") if to is not None else None,
        after=after[0] if after is not None else None, limit=limit,
    )
    return {
        "certificates": found,
        "next_cursor": paging.encode("certificates", [found[-1]["identifier"]])
        if more and found else None,
    }
