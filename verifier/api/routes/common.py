"""What every router shares: the service and the caller as dependencies, the documented
error answers of a route, and the idempotent answer of an issuing route."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from verifier.api.errors import ERRORS
from verifier.api.schemas import (
    ErrorBody,
)
from verifier.app.service import (
    Answer,
    Principal,
    Service,
)


# Dependencies are coroutines: FastAPI runs a plain function dependency in the thread
# pool, a round trip per dependency per request.
def service_of(request: Request) -> Service:
    """The service of the application that answers ``request`` (made at start-up)."""
    service: Service = request.app.state.service
    return service


async def get_service(request: Request) -> Service:
    return service_of(request)


ServiceDep = Annotated[Service, Depends(get_service)]


_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="API key",
    description="An API key of the service (`zhengyin key add`, `zhengyin issuer add`): "
    "`Authorization: Bearer <key>` (the scheme name in any case).",
)


async def get_principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    """The caller, by the ``Authorization`` header as sent (the scheme name in any case; the
    service keeps a looked-up key for ``KEY_CACHE_SECONDS``). The service is read as
    :func:`get_service` reads it, not through it: one dependency less to solve on every
    request."""
    return service_of(request).authenticate(request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(get_principal)]

_STATUS_TEXT = {
    400: "The request cannot be read",
    401: "No API key, or an unknown one",
    403: "The key may not do this",
    404: "What the request names does not exist",
    409: "It conflicts with the present state",
    410: "It is gone",
    413: "The body is over the limit",
    429: "Too many requests: try again after `Retry-After` seconds",
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

LOCATION = {
    "Location": {"description": "The URL of what was created.", "schema": {"type": "string"}}
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


def canonical_json(data: Any) -> bytes:
    """A parsed JSON body in one spelling (key order and spacing do not make another
    request)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def answered(answer: Answer) -> Response:
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



def sent(receipt: Any, **facts: Any) -> dict[str, Any]:
    return {**facts, "tx_hash": receipt.tx_hash, "block": receipt.block_number}

