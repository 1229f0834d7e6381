"""The routers, one per resource. Each route authenticates, calls the service, shapes JSON."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import math
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from certs.canonical import MAX_DOCUMENT_BYTES
from certs.issuance import IssueReport
from certs.request_csv import requests_from_csv
from verifier.api import paging
from verifier.api.errors import ERRORS
from verifier.api.schemas import (
    QR_MAX_LENGTH,
    AuthorizationRequest,
    Authorizations,
    BatchRejected,
    BatchReport,
    BulkStatusChange,
    Catalogue,
    CatalogueTypeWithSchema,
    Certificate,
    ChainChange,
    DeauthorizeRequest,
    ErrorBody,
    Health,
    History,
    Issued,
    Presentation,
    PresentationRequest,
    Redeemed,
    RedeemRequest,
    StatusAction,
    StatusChange,
    StatusChanged,
    TypeAdd,
    VerifyResponse,
)
from verifier.errors import VerifierError
from verifier.isolation import LimitExceeded
from verifier.service import (
    Answer,
    Principal,
    Service,
    check_idempotency_key,
    limit_verdict,
)
from verifier.verdict import Verdict


# Dependencies are coroutines: FastAPI runs a plain function dependency in the thread
# pool, a round trip per dependency per request.
async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="API key",
    description="An API key of the service (`zhengyin key add`, `zhengyin issuer add`): "
    "`Authorization: Bearer <key>` (the scheme name in any case).",
)


async def get_principal(
    service: ServiceDep,
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    # the header as sent: the service reads it as the fast path of /v1/verify does
    return service.authenticate(request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(get_principal)]

_STATUS_TEXT = {
    400: "The request cannot be read",
    401: "No API key, or an unknown one",
    403: "The key may not do this",
    404: "What the request names does not exist",
    409: "It conflicts with the present state",
    410: "It is gone",
    413: "The body is over the limit",
    422: "The request was read, but what it says is invalid",
    503: "Could not decide now: the chain or the database does not answer (try again)",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, each with the project's error model and its codes."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        codes = sorted(c for c, kind in ERRORS.items() if kind.status == status)
        out[status] = {
            "model": ErrorBody,
            "description": f"{_STATUS_TEXT[status]}: " + ", ".join(f"`{c}`" for c in codes)
            + ("; or a code of the PDF, seal, key and certificate readers" if status == 422
               else ""),
        }
    return out


READ = (401, 403, 404, 422, 503)
"""What a route that reads a thing by its name may answer besides its 200."""
WRITE = (400, 401, 403, 404, 409, 413, 422, 503)
"""What a route that takes a JSON body and changes something may answer."""

_LOCATION = {
    "Location": {"description": "The URL of what was created.", "schema": {"type": "string"}}
}


certificates = APIRouter(prefix="/v1/certificates", tags=["certificates"])
verification = APIRouter(prefix="/v1", tags=["verification"])
presenting = APIRouter(prefix="/v1/presentations", tags=["presentations"])
operations = APIRouter(tags=["operations"])
types = APIRouter(prefix="/v1/types", tags=["catalogue"])
issuers = APIRouter(prefix="/v1/issuers", tags=["catalogue"])


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "accepted": [
            {"line": a.line, "id": a.identifier, "identifier": a.identifier, "status": "pending"}
            for a in report.accepted
        ],
        "rejected": [r.to_json() for r in report.rejected],
    }


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A key of 1 to 255 printable ASCII characters (a UUID): a retry with "
        "the same key and body gets the first answer instead of a second issuance.",
        json_schema_extra={"pattern": "^[ -~]{1,255}$", "minLength": 1, "maxLength": 255},
    ),
]


def request_digest(route: str, kind: str, body: bytes) -> str:
    """SHA-256 of what an idempotent request asks (route, content type, body): a retry must
    send the same, and only this digest is stored, never the body."""
    digest = hashlib.sha256()
    for part in (route.encode(), kind.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _canonical(data: Any) -> bytes:
    """A parsed JSON body in one spelling (key order and spacing do not make another
    request)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _answered(answer: Answer) -> Response:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if answer.status == 201:
        created = json.loads(answer.body)
        first = created.get("identifier") or next(
            (a["identifier"] for a in created.get("accepted", ())), None
        )
        if first is not None:
            headers["Location"] = f"/v1/certificates/{first}"
    return Response(
        answer.body, status_code=answer.status, media_type="application/json", headers=headers
    )


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


@certificates.post(
    "",
    status_code=201,
    response_model=None,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/CertificateRequest"}}}}},
    responses={
        201: {"model": Issued, "description": "Issued, queued for anchoring.",
              "headers": _LOCATION},
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
    digest = request_digest("POST /v1/certificates", "application/json", _canonical(body))
    answer = service.issue_once(
        principal, [(1, body)], _one_answer, key=idempotency_key, digest=digest
    )
    return _answered(answer)


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


@certificates.post(
    "/batch",
    status_code=201,
    response_model=None,
    openapi_extra={"requestBody": _BATCH_BODY},
    responses={
        201: {"model": BatchReport, "headers": _LOCATION,
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
        asked = _canonical(data) if idempotency_key is not None else b""
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
    return _answered(answer)


@certificates.get("/{identifier}", response_model=Certificate, responses=errors(*READ))
def get_certificate(
    identifier: str, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    record = service.own_record(principal, identifier, roles=("issuer", "auditor", "admin"))
    return {
        "id": record.identifier,
        "identifier": record.identifier,
        "status": record.status,
        "issuer": record.issuer,
        "document": json.loads(record.document.to_json()),
    }


@certificates.get(
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


@certificates.get(
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
    certificates.post(
        f"/bulk/{action}",
        name=f"{action}_many",
        summary=f"{action.capitalize()} many certificates in one transaction",
        response_model=StatusChanged,
        responses=errors(*WRITE),
    )(bulk)
    certificates.post(
        f"/{{identifier}}/{action}",
        name=f"{action}_one",
        summary=f"{action.capitalize()} one certificate",
        response_model=StatusChanged,
        responses=errors(*WRITE),
    )(single)


for _action in StatusAction:
    _status_routes(_action.value)


@certificates.get("/{identifier}/history", response_model=History,
                  response_model_exclude_unset=True, responses=errors(*READ))
def history(
    identifier: str,
    service: ServiceDep,
    principal: PrincipalDep,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    cursor: paging.Cursor = None,
) -> dict[str, Any]:
    """The auditor's timeline of a certificate: its chain events (and those of its type,
    its issuer and the issuer's authorization) and the service's (issued, presented,
    verified …), in time order, a page at a time."""
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


def _verify_json(verdict: Verdict) -> dict[str, Any]:
    subject = dict(verdict.subject)
    chain = subject.pop("chain", None) or {}
    blocks = [f.data.get("block") for f in verdict.checks if f.data.get("block") is not None]
    lags = [f.data for f in verdict.checks if "lag_seconds" in f.data]
    return {
        "verdict": verdict.outcome.value,
        "checks": [
            {
                "name": f.name,
                "type": f.type,
                "status": f.status.value,
                "reason": f.reason,
                "reason_zh": f.reason_zh or f.reason,
            }
            for f in verdict.checks
        ],
        "certificate": subject,
        "chain": {
            "block": chain.get("block", blocks[0] if blocks else None),
            "checked_at": _now_iso(),
            # how far behind the chain the facts judged may be (the chain checks' data)
            **({k: lags[0][k] for k in ("lag_blocks", "lag_seconds")} if lags else {}),
        },
    }


def _now_iso() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


_VERIFY_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"oneOf": [
            {"$ref": "#/components/schemas/VerifyQr"},
            {"$ref": "#/components/schemas/VerifyCertificate"},
        ]}},
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/VerifyUpload"}},
    },
}


@verification.post(
    "/verify",
    response_model=VerifyResponse,
    openapi_extra={"requestBody": _VERIFY_BODY},
    responses={
        200: {"description": "The verdict: valid, invalid, or error (could not check: "
              "never taken as valid or invalid)."},
        **errors(400, 401, 403, 413, 422, 503),
    },
)
async def verify(request: Request, service: ServiceDep, principal: PrincipalDep) -> JSONResponse:
    """Verify a QR payload, a certificate document, or an uploaded file (PDF, seal, seal
    signature, certificate JSON) — whatever was sent."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise VerifierError(
                "send the file in a multipart field named 'file'", code="file_missing"
            )
        data = await upload.read()
        verdict = await _within_limit(
            service, "file", _verify_logged, service, principal, "file", service.verify_bytes, data
        )
    else:
        raw = await request.body()
        if len(raw) > MAX_DOCUMENT_BYTES + 64 * 1024:  # a document is at most 1 MiB
            raise VerifierError(
                f"a JSON body to verify is at most {MAX_DOCUMENT_BYTES} bytes of document; "
                "upload larger files as multipart 'file'",
                code="body_too_large",
            )
        qr_text, certificate = _verify_body(raw)
        if qr_text is not None:
            # a QR check is a signature check and a few indexed rows (about a millisecond):
            # on the event loop, not through a thread pool whose threads would contend for
            # the GIL with the loop under load
            verdict = _verify_logged(service, principal, "qr", service.verify_qr, qr_text)
        else:
            verdict = await _within_limit(
                service,
                "certificate",
                _verify_logged,
                service,
                principal,
                "certificate",
                service.verify_bytes,
                certificate,
            )
    request.app.state.metrics.verdict(verdict.outcome.value)
    return JSONResponse(_verify_json(verdict))


def _verify_body(raw: bytes) -> tuple[str | None, bytes | None]:
    """``{"qr": "…"}`` or ``{"certificate": {…}}`` (the other member absent or null): the QR
    text, or the certificate member's own bytes, exactly as sent — the document reader then
    judges them as it judges an uploaded file (duplicate member names included)."""

    def bad(problem: str) -> VerifierError:
        return VerifierError(
            f'send {{"qr": …}} or {{"certificate": …}}: {problem}', code="bad_request"
        )

    def unreadable(problem: str) -> VerifierError:
        return VerifierError(f"the body is not JSON: {problem}", code="bad_json")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise unreadable("it is not UTF-8") from None
    try:
        members = _json_members(text)
    except NotAnObject as exc:
        raise bad(str(exc)) from None
    except (ValueError, RecursionError) as exc:
        if not text.strip():
            raise unreadable("it is empty") from None
        raise unreadable(str(exc)) from None
    unknown = sorted(set(members) - {"qr", "certificate"})
    if unknown:
        raise bad(f"unknown member(s) {', '.join(unknown)}")
    given = {k: v for k, v in members.items() if v.strip() != "null"}
    if len(given) != 1:
        raise bad("send exactly one of 'qr' or 'certificate'")
    if "qr" in given:
        value = json.loads(given["qr"])
        if not isinstance(value, str) or len(value) > QR_MAX_LENGTH:
            raise bad(f"qr must be text of at most {QR_MAX_LENGTH} characters")
        return value, None
    if not given["certificate"].lstrip().startswith("{"):
        raise bad("certificate must be a JSON object")
    return None, given["certificate"].encode("utf-8")


def _json_members(text: str) -> dict[str, str]:
    """The top-level members of a JSON object, each value as its exact source text."""
    decoder = json.JSONDecoder()
    members: dict[str, str] = {}
    at = _skip_space(text, 0)
    if text[at : at + 1] != "{":
        json.loads(text)  # JSON that is not an object, or not JSON at all
        raise NotAnObject("the body is not a JSON object")
    at = _skip_space(text, at + 1)
    if text[at : at + 1] == "}":
        at += 1
    else:
        while True:
            if text[at : at + 1] != '"':
                raise ValueError(f"a member name expected at character {at}")
            name, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
            at = _skip_space(text, at)
            if text[at : at + 1] != ":":
                raise ValueError(f"':' expected at character {at}")
            start = _skip_space(text, at + 1)
            _, end = decoder.raw_decode(text, start)
            if name in members:
                raise NotAnObject(f"the member {name!r} is repeated")
            members[name] = text[start:end]
            at = _skip_space(text, end)
            if text[at : at + 1] == ",":
                at = _skip_space(text, at + 1)
                continue
            if text[at : at + 1] != "}":
                raise ValueError(f"',' or '}}' expected at character {at}")
            at += 1
            break
    if _skip_space(text, at) != len(text):
        raise ValueError("text after the object")
    return members


class NotAnObject(ValueError):
    """Well-formed JSON, but not an object."""


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


async def _within_limit(service: Service, kind: str, fn: Any, *args: Any) -> Verdict:
    """``fn(*args)`` in the thread pool, answered within the wall-clock limit of a
    verification (an uploaded file is read in a child process that is killed at that limit;
    this bounds the rest, such as a database that does not answer)."""
    seconds = service.settings.verify_seconds
    try:
        verdict: Verdict = await asyncio.wait_for(run_in_threadpool(fn, *args), seconds + 5)
    except TimeoutError:
        return limit_verdict(
            LimitExceeded(f"the verification took more than {seconds + 5:g} s: it was "
                          "abandoned", code="verify_timeout"),
            kind,
        )
    return verdict


def _verify_logged(
    service: Service, principal: Principal, how: str, check: Any, value: Any
) -> Verdict:
    verdict: Verdict = check(value)
    service.log_verification(principal, verdict, how)
    return verdict


seals = APIRouter(prefix="/v1/seals", tags=["seals"])


_STAMP_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/StampForm"}},
    },
}


@seals.post(
    "/stamp",
    response_class=Response,
    openapi_extra={"requestBody": _STAMP_BODY},
    responses={
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The sealed PDF.",
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
    """Seal a PDF with the calling agency's seal (multipart: ``file``, optional ``page``,
    ``x``, ``y`` in mm, ``width`` in mm); the sealed document is anchored on chain. Returns
    the sealed PDF."""
    service.require(principal, "issuer")
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise VerifierError("send the PDF in a multipart field named 'file'", code="file_missing")
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
        media_type="application/pdf",
        headers={"X-Anchor-Tx": receipt.tx_hash, "X-Anchor-Block": str(receipt.block_number)},
    )


@presenting.post(
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


@presenting.post("/redeem", response_model=Redeemed, response_model_exclude_unset=True,
                 responses=errors(*WRITE, 410))
def redeem(body: RedeemRequest, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """Exchange a code for the certificate (only the disclosed fields) and its verdict."""
    verdict, shown = service.redeem(principal, body.code)
    out = _verify_json(verdict)
    out["certificate"] = {**out["certificate"], **shown["values"], "hidden": shown["hidden"]}
    out["purpose"] = shown["purpose"]
    return out


def _sent(receipt: Any, **facts: Any) -> dict[str, Any]:
    return {**facts, "tx_hash": receipt.tx_hash, "block": receipt.block_number}


@types.get("", response_model=Catalogue, responses=errors(401, 403, 422, 503))
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


@types.get("/{code}", response_model=CatalogueTypeWithSchema, response_model_by_alias=True,
           responses=errors(*READ))
def show_type(code: str, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """One type of the catalogue, with its field schema (certs/types.json)."""
    found: dict[str, Any] = service.catalogue(principal, code)
    return found


@types.post(
    "",
    status_code=201,
    response_model=ChainChange,
    responses={201: {"headers": _LOCATION}, **errors(*WRITE)},
)
def add_type(
    body: TypeAdd, service: ServiceDep, principal: PrincipalDep, response: Response
) -> dict[str, Any]:
    """Put a type (its schema as published with the project) into the catalogue on chain
    (admins; the operator account must be a national admin on chain)."""
    receipt = service.publish_type(principal, body.code)
    response.headers["Location"] = f"/v1/types/{body.code}"
    return _sent(receipt, done="added", code=body.code)


@types.post("/{code}/revise", response_model=ChainChange, responses=errors(*WRITE))
def revise_type(code: str, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """Publish a new version of a type (names and schema as the project has them)."""
    receipt = service.publish_type(principal, code, revise=True)
    return _sent(receipt, done="revised", code=code)


@types.post("/{code}/withdraw", response_model=ChainChange, responses=errors(*WRITE))
def withdraw_type(code: str, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """Withdraw a type: no certificate of it anchored from now on is valid."""
    receipt = service.withdraw_type(principal, code)
    return _sent(receipt, done="withdrawn", code=code)


@issuers.get("/{uscc}/authorizations", response_model=Authorizations,
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


@issuers.post(
    "/{uscc}/authorizations",
    status_code=201,
    response_model=ChainChange,
    responses={201: {"headers": _LOCATION}, **errors(*WRITE)},
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
    return _sent(receipt, done="authorized", **grant.to_json())


def _deauthorize(
    uscc: str, type_code: str, service: Service, principal: Principal
) -> dict[str, Any]:
    receipt = service.deauthorize(principal, uscc, type_code)
    return _sent(receipt, done="deauthorized", issuer=uscc, type=type_code)


@issuers.delete("/{uscc}/authorizations/{type_code}", response_model=ChainChange,
                responses=errors(*WRITE))
def deauthorize(
    uscc: str, type_code: str, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """End an agency's authorization for a type now (earlier certificates stay valid)."""
    return _deauthorize(uscc, type_code, service, principal)


@issuers.post("/{uscc}/authorizations/deauthorize", response_model=ChainChange,
              responses=errors(*WRITE))
def deauthorize_by_post(
    uscc: str, body: DeauthorizeRequest, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The same as ``DELETE …/authorizations/{type}``, for clients that send only POST."""
    return _deauthorize(uscc, body.type, service, principal)


@operations.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Degraded: the chain, the database or "
                     "the index is not current."}},
)
def healthz(service: ServiceDep) -> JSONResponse:
    """``ok`` (200) only while the chain answers, the database answers and the index is
    current within ``ZHENGYIN_MAX_STALENESS_SECONDS``; otherwise ``degraded`` (503). The
    lag is stated in blocks and seconds; errors name the chain by scheme, host and port."""
    state = service.indexer.state()
    database = True
    try:
        service.store.api_key("health-check")
    except Exception:
        database = False
    bound = service.settings.max_staleness_seconds
    chain = (
        state.error is None
        and state.seconds_since_contact is not None
        and state.seconds_since_contact <= bound
    )
    ok = chain and database and state.healthy
    body = {
        "status": "ok" if ok else "degraded",
        "chain": chain,
        "database": database,
        "indexer": {
            "block": state.indexed_block,
            "head": state.head,
            "lag": state.lag,
            **state.lag_data,
            "max_staleness_seconds": bound,
            "generation": state.generation,
            "healthy": state.healthy,
            "error": state.error,
        },
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@operations.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "Prometheus text format: under ``zhengyin serve``, the "
                     "totals of all its workers."}},
)
def metrics(request: Request, service: ServiceDep) -> Response:
    """Prometheus metrics: under ``zhengyin serve``, the totals of all its workers."""
    from verifier.api.app import sync_metrics
    from verifier.api.metrics import CONTENT_TYPE

    sync_metrics(request.app.state.metrics, service)
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)


@operations.get("/", response_class=HTMLResponse, include_in_schema=False)
def counter_page() -> HTMLResponse:
    from verifier.api.app import WEB

    page = WEB / "index.html"
    if not page.is_file():
        return HTMLResponse("<!doctype html><title>证印链</title><p>核验页面尚未构建。</p>")
    return HTMLResponse(page.read_text(encoding="utf-8"))


ROUTERS = [certificates, verification, presenting, seals, types, issuers, operations]
