"""The verification router: ``POST /v1/verify`` (a QR payload or a typed short code, a
certificate document, or an uploaded file) and the JSON answer of a verdict.

``{"qr": text}`` carries whatever the counter scanned or typed: a ``ZY2.`` QR payload, or a
short code (核验码, :mod:`certs.shortcode`), which is resolved to the stored certificate it
names and verified in full (:mod:`verifier.checks.short_code_checks`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from certs.canonical import MAX_DOCUMENT_BYTES
from certs.shortcode import looks_like_short_code
from seals.report import Message
from verifier.api.routes.common import (
    errors,
    get_principal,
    service_of,
)
from verifier.api.routes.direct import DirectRoute
from verifier.api.schemas import (
    QR_MAX_LENGTH,
    VerifyResponse,
)
from verifier.app.isolation import LimitExceeded
from verifier.app.service import (
    Principal,
    Service,
    limit_verdict,
)
from verifier.checks.verdict import Fragment, Verdict
from verifier.errors import VerifierError

router = APIRouter(prefix="/v1", tags=["verification"], route_class=DirectRoute)


def check_code(check: Fragment) -> str:
    """A check's stable code: its message id — for a check about one seal of a file
    (``pdf.in_field``: "[Seal1] …"), the id of what was found about that seal."""
    inner = check.params.get("check") if check.message == "pdf.in_field" else None
    return inner.id if isinstance(inner, Message) else check.message


def verify_json(verdict: Verdict) -> dict[str, Any]:
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
                "code": check_code(f),
                **({"cause": f.data["code"]} if isinstance(f.data.get("code"), str) else {}),
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


@router.post(
    "/verify",
    response_model=VerifyResponse,
    openapi_extra={"requestBody": _VERIFY_BODY, "security": [{"HTTPBearer": []}]},
    responses={
        200: {"description": "The verdict: valid, invalid, or error (could not check: "
              "never taken as valid or invalid)."},
        **errors(400, 401, 403, 413, 422, 503),
    },
)
async def verify(request: Request) -> JSONResponse:
    """Verify a QR payload, a certificate document, or an uploaded file (PDF, seal, seal
    signature, certificate JSON) — whatever was sent."""
    # The one implementation of this route, QR payloads included. The caller is found by
    # the dependency every route declares (PrincipalDep: get_principal), called here rather
    # than solved by the framework, which would double the time of a QR verification.
    # Why: bench/PERFORMANCE.md, "POST /v1/verify: one route, no dependency solving"
    principal = await get_principal(request)
    service = service_of(request)
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
            service, "file", verify_logged, service, principal, "file", service.verify_bytes, data
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
        if qr_text is not None and looks_like_short_code(qr_text):
            # a typed short code (核验码): the stored certificate it names, verified in full
            verdict = await _within_limit(
                service, "short_code", verify_logged, service, principal, "short_code",
                service.verify_short_code, qr_text,
            )
        elif qr_text is not None:
            # a QR check is a signature check and a few indexed rows (about a millisecond):
            # on the event loop, not through a thread pool whose threads would contend for
            # the GIL with the loop under load
            verdict = verify_logged(service, principal, "qr", service.verify_qr, qr_text)
        else:
            verdict = await _within_limit(
                service,
                "certificate",
                verify_logged,
                service,
                principal,
                "certificate",
                service.verify_bytes,
                certificate,
            )
    request.app.state.metrics.verdict(verdict.outcome.value)
    return JSONResponse(verify_json(verdict))


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
    qr_text = _only_qr(text)
    if qr_text is not None:
        return qr_text, None
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


def _only_qr(text: str) -> str | None:
    """The QR text of what a counter sends all day, exactly ``{"qr": "<text>"}``, read in one
    C call; ``None`` for any other body (then read member by member, as every body was)."""
    if len(text) > QR_MAX_LENGTH + 100 or not text.lstrip(" \t\n\r").startswith("{"):
        return None  # not a QR body, or not an object (an array of pairs would look like one)
    try:
        pairs = json.loads(text, object_pairs_hook=list)
    except (ValueError, RecursionError):
        return None
    if len(pairs) != 1 or pairs[0][0] != "qr":
        return None
    value = pairs[0][1]
    return value if isinstance(value, str) and len(value) <= QR_MAX_LENGTH else None


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


def verify_logged(
    service: Service, principal: Principal, how: str, check: Any, value: Any
) -> Verdict:
    verdict: Verdict = check(value)
    service.log_verification(principal, verdict, how)
    return verdict

