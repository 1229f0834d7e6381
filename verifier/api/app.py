"""The FastAPI application: routers, error mapping, body limit, metrics, background work.

Every project error becomes ``{"error": code, "message": …}`` with a 4xx status (5xx only
for "could not decide": the chain or database unreachable → 503). Anything unexpected is a
500 with code ``internal_error`` and no traceback in the body.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from certs.errors import CertError, ValidationError
from certs.status import CertificateNotFound, StatusChangeRefused
from chain.errors import ChainError, ChainUnavailable, ContractRevert
from seals.errors import SealError
from verifier.api.metrics import Metrics
from verifier.errors import ERROR_ROOTS, error_code
from verifier.presentations import PresentationRefused
from verifier.service import AccessDenied, NotFound, Service, Unauthenticated
from verifier.settings import Settings

WEB = Path(__file__).resolve().parent.parent / "web"


def _status_of(exc: Exception) -> int:
    if isinstance(exc, Unauthenticated):
        return 401
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, NotFound | CertificateNotFound):
        return 404
    if isinstance(exc, PresentationRefused):
        return 410 if exc.code in ("presentation_used", "presentation_expired") else 404
    if isinstance(exc, StatusChangeRefused | ContractRevert):
        return 409
    if isinstance(exc, ChainUnavailable) or exc.__class__.__name__ == "StoreError":
        return 503
    if isinstance(exc, ChainError):
        return 502
    if isinstance(exc, CertError | SealError | ValidationError):
        return 422
    return 400


def create_app(
    settings: Settings | None = None, *, service: Service | None = None, background: bool = True
) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or Service(settings)
        app.state.service = svc
        if background:
            svc.start()
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(
        title="Zhengyin (证印链)",
        version="1",
        description="Electronic certificates and seals anchored on chain.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.settings = settings

    async def project_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": error_code(exc), "message": str(exc)}, status_code=_status_of(exc)
        )

    for root in ERROR_ROOTS:
        app.add_exception_handler(root, project_error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": "internal_error", "message": f"unexpected {type(exc).__name__}"},
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
            for e in exc.errors()[:10]
        )
        return JSONResponse(
            {"error": "bad_request", "message": problems or "invalid request"}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
            415: "unsupported_media_type",
        }
        return JSONResponse(
            {"error": codes.get(exc.status_code, "http_error"), "message": str(exc.detail)},
            status_code=exc.status_code,
        )

    @app.middleware("http")
    async def limit_and_measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length")
        limit = settings.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            response: Response = JSONResponse(
                {
                    "error": "body_too_large",
                    "message": f"the request body is over the limit of {limit} bytes",
                },
                status_code=413,
            )
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.observe(request.method, path, response.status_code, time.perf_counter() - started)
        return response

    from verifier.api import routes

    for router in routes.ROUTERS:
        app.include_router(router)
    if WEB.is_dir():
        app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    return app


def app_factory() -> Any:
    """For ``uvicorn --factory`` (each worker process builds its own app)."""
    return create_app()
