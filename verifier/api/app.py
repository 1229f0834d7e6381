"""The FastAPI application: routers, error answers, body limit, metrics, background work,
the OpenAPI document and its pages (Swagger UI, ReDoc: assets served locally).

Every project error becomes ``{"error": code, "message": …}`` with the status that
:mod:`verifier.api.errors` gives its code (5xx only for "could not decide": the chain or
database unreachable → 503). Anything unexpected is a 500 with code ``internal_error`` and
no traceback in the body.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import logging
import re
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from verifier.api import schemas
from verifier.api.errors import kind_of, public_message
from verifier.api.metrics import Metrics
from verifier.app.service import Service
from verifier.errors import ERROR_ROOTS
from verifier.logs import configure as configure_logging
from verifier.logs import loop_exception_handler
from verifier.settings import Settings

WEB = Path(__file__).resolve().parent.parent / "web"
_log = logging.getLogger(__name__)


DOCUMENTED_MODELS = (
    schemas.CertificateRequest,
    schemas.VerifyQr,
    schemas.VerifyCertificate,
    schemas.VerifyUpload,
    schemas.StampForm,
)
"""Bodies that routes read themselves, described in the schema by these models."""


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document: FastAPI's, with the bodies routes read themselves, and without
    FastAPI's own validation-error model (every refusal is the project's ``ErrorBody``)."""
    if app.openapi_schema is None:
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=_documented_order(app.routes),
        )
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in DOCUMENTED_MODELS:
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(found.pop("$defs", {}))
            components[model.__name__] = found
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for operations in spec["paths"].values():
            for operation in operations.values():
                for content in operation.get("requestBody", {}).get("content", {}).values():
                    schema = content.get("schema", {})
                    if "$ref" in schema:  # the model named, not FastAPI's free-form merged in
                        content["schema"] = {"$ref": schema["$ref"]}
        app.openapi_schema = spec
    return app.openapi_schema


def _documented_order(found: list[BaseRoute]) -> list[BaseRoute]:
    """The application's routes with its routers in the order of ``routes.ROUTERS`` (the
    application matches the busiest router first)."""
    from verifier.api import routes

    place = {id(router): i for i, router in enumerate(routes.ROUTERS)}
    return sorted(found, key=lambda r: place.get(id(getattr(r, "original_router", None)), -1))


REDOC_SCRIPT = "/docs-assets/redoc.standalone.js"
_REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_script() -> tuple[bytes, str]:
    """fastapi-offline's ReDoc bundle, its one outside fetch (the 'API docs by Redocly' logo
    from Redocly's CDN) replaced by an empty local image: nothing leaves the intranet."""
    import fastapi_offline

    bundle = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
    text = bundle.read_bytes()
    script = text.replace(_REDOC_LOGO.encode(), b"data:image/gif;base64,R0lGODlhAQABAAAAACw=")
    return script, '"' + hashlib.sha256(script).hexdigest()[:32] + '"'


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of the most specific documented path that ``path`` is (a literal
    ``/v1/certificates/batch`` before ``/v1/certificates/{identifier}``)."""
    best: tuple[int, list[str]] | None = None
    for template, operations in _openapi(app)["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            params = template.count("{")
            if best is None or params < best[0]:
                best = (params, sorted(m.upper() for m in operations))
    return best[1] if best is not None else []


def create_app(
    settings: Settings | None = None,
    *,
    service: Service | None = None,
    background: bool = True,
    server_process: bool = False,
) -> FastAPI:
    """The application. ``server_process``: this process exists to serve it (a uvicorn
    worker), so it may tune process-wide settings for serving."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        asyncio.get_running_loop().set_exception_handler(loop_exception_handler)
        svc = service or Service(settings)
        app.state.service = svc
        if background:
            svc.start()
        stop_metrics = threading.Event()
        refresher = threading.Thread(
            target=_refresh_metrics, args=(metrics, svc, stop_metrics),
            name="zhengyin-metrics", daemon=True,
        )
        refresher.start()
        if server_process:
            # What start-up built (modules, keys, tables) lives as long as the process: out
            # of the collector's way, a full collection no longer walks it. The background
            # threads (indexer, batcher, event log) hand the interpreter back to the request
            # loop within 0.5 ms rather than 5. Both keep the latency tail short.
            gc.collect()
            gc.freeze()
            sys.setswitchinterval(0.0005)
        try:
            yield
        finally:
            stop_metrics.set()
            svc.stop()
            refresher.join(5)
            metrics.worker_exit()

    app = FastAPIOffline(
        redoc_url=None,  # served below, with a ReDoc that fetches no logo from its CDN
        title="Zhengyin (证印链)",
        version="1",
        description="Electronic certificates and seals anchored on chain. Every refusal is "
        '`{"error": code, "message": text}`; the README lists the codes and their statuses.',
        lifespan=lifespan,
        # the documentation pages load their scripts from this service, never a CDN, and
        # send the schema to no outside validator
        swagger_ui_parameters={"validatorUrl": None},
        # the service measures itself (Prometheus, /metrics) and configures no OpenTelemetry:
        # FastAPI's own instrumentation would only ask, on every request, whether it is on
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=str(app.openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=REDOC_SCRIPT,
            redoc_favicon_url="/static-offline-docs/favicon.png",
            with_google_fonts=False,
        )

    @app.get(REDOC_SCRIPT, include_in_schema=False)
    async def redoc_script(request: Request) -> Response:
        script, tag = _redoc_script()
        headers = {"Cache-Control": "no-cache", "ETag": tag}
        if request.headers.get("if-none-match") == tag:  # the browser's copy is current
            return Response(status_code=304, headers=headers)
        return Response(script, media_type="text/javascript", headers=headers)

    app.state.metrics = metrics
    app.state.settings = settings

    async def project_error(request: Request, exc: Exception) -> JSONResponse:
        code, status = kind_of(exc)
        message_zh = getattr(exc, "message_zh", None)
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry)} if isinstance(retry, int) else None
        if status >= 500:  # the detail (a host, a port, a query) is the operator's only
            _log_fault(request, code, status, exc)
            body = {"error": code, "message": public_message(code, exc)}
        else:
            body = {"error": code, "message": str(exc)}
        if isinstance(message_zh, str):  # the project's own words, never the detail
            body["message_zh"] = message_zh
        return JSONResponse(body, status_code=status, headers=headers)

    for root in ERROR_ROOTS:
        app.add_exception_handler(root, project_error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, sa.exc.OperationalError):  # the database did not answer
            _log_fault(request, "database_unavailable", 503, exc)
            return JSONResponse(
                {"error": "database_unavailable",
                 "message": public_message("database_unavailable", exc)},
                status_code=503,
            )
        _log.error("unexpected error %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            {"error": "internal_error", "message": f"unexpected {type(exc).__name__}"},
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        found = exc.errors()
        unreadable = [e for e in found if e.get("type") == "json_invalid"]
        if unreadable:  # malformed JSON is a 400 on every route
            context = unreadable[0].get("ctx") or {}
            return JSONResponse(
                {"error": "bad_json", "message": "the body is not JSON: "
                 f"{context.get('error', 'malformed')}"},
                status_code=400,
            )
        if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",)
               for e in found):
            return JSONResponse(
                {"error": "bad_json", "message": "the body is empty: send a JSON object"},
                status_code=400,
            )
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: "
            f"{e.get('msg')}"
            for e in exc.errors()[:10]
        )
        return JSONResponse(
            {"error": "bad_request", "message": problems or "invalid request"}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        codes = {  # Starlette's own refusals (a 400: a body it could not read)
            400: "bad_multipart" if kind == "multipart/form-data" else "bad_json",
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
        }
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # the methods of the path as the schema lists them
            allowed = _allowed_methods(app, request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        code = codes.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if code == "bad_json":
            message = f"the body is not JSON (not UTF-8, or malformed): {message}"
        return JSONResponse(
            {"error": code, "message": message},
            status_code=exc.status_code,
            headers=headers or None,
        )

    app.add_middleware(LimitAndMeasure, limit=settings.max_body_bytes, metrics=metrics)

    from verifier.api import routes

    for router in routes.ROUTERS:
        app.include_router(router)
    # Matched in this order: ``POST /v1/verify``, the busiest request by far, before every
    # other route, the documentation pages' included (no other route shares its path);
    # documented in the order of ``routes.ROUTERS`` (see ``_documented_order``).
    busiest = [r for r in app.router.routes
               if getattr(r, "original_router", None) is routes.verification.router]
    app.router.routes[:] = busiest + [r for r in app.router.routes if r not in busiest]
    if WEB.is_dir():
        app.mount("/static", _Assets(directory=WEB / "static"), name="static")
    return app


def _log_fault(request: Request, code: str, status: int, exc: BaseException) -> None:
    """One log line for a 5xx answer: what was asked, the code, and the error's own text
    and that of what it wraps (which the answer does not carry), credentials and
    SQLAlchemy's statement and values removed."""
    detail = str(exc)
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in detail:  # what it wraps
        detail += f" (from {type(cause).__name__}: {cause})"
    _log.warning("%s %s answered %d %s: %s", request.method, request.url.path, status, code,
                 redact(detail))


_USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)[^/\s@]*@", re.IGNORECASE)
_SECRET = re.compile(r"\b(password|passwd|pwd|token|api[_-]?key)\s*=\s*[^\s&;,]+", re.IGNORECASE)
_SQL_TAIL = re.compile(r"\s*\[(SQL|parameters):.*", re.DOTALL)


def redact(text: str) -> str:
    """``text`` for a log line: on one line, without a URL's user and password, a
    ``password=`` value, or the statement and values SQLAlchemy appends to its errors."""
    text = _SQL_TAIL.sub("", text)
    text = _USERINFO.sub(r"\1***@", text)
    text = _SECRET.sub(r"\1=***", text)
    return " ".join(text.split())


METRICS_REFRESH_SECONDS = 1.0
"""How often a worker copies its background loops' counters and the index's state into the
shared metrics (a scrape also does it for the worker that answers)."""


def sync_metrics(metrics: Metrics, service: Service) -> None:
    """Bring ``metrics`` up to ``service``'s background state: the index's gauges, the
    background loops' error counts, rewinds, repairs and anchored batch sizes."""
    state = service.indexer.state()
    gauges = {
        "indexer_lag_blocks": float(state.lag if state.lag is not None else -1),
        "indexer_lag_seconds": float(state.staleness if state.staleness is not None else -1),
        "indexer_block": float(state.indexed_block or 0),
        "indexer_healthy": float(state.healthy),
        "indexer_generation": float(state.generation),
        "leader_indexer": float(service.leads("indexer")),
        "leader_batcher": float(service.leads("batcher")),
    }
    counters: list[tuple[str, dict[str, str], float]] = [
        ("index_rewinds", {}, float(service.indexer.rewinds)),
    ]
    counters += [
        ("background_errors", {"loop": "indexer", "code": code}, float(n))
        for code, n in list(service.indexer.errors.items())
    ]
    counters += [
        ("background_errors", {"loop": loop, "code": code}, float(n))
        for (loop, code), n in list(service.loop_errors.items())
    ]
    if service.batcher is not None:
        counters += [
            ("background_errors", {"loop": "batcher", "code": code}, float(n))
            for code, n in list(service.batcher.errors.items())
        ]
        counters.append(("repairs", {"kind": "anchor_resent"}, float(len(service.batcher.lost))))
    counters += [("repairs", {"kind": kind}, float(n)) for kind, n in list(service.repairs.items())]
    metrics.sync(gauges, counters, service.batch_sizes)


def _refresh_metrics(metrics: Metrics, service: Service, stop: threading.Event) -> None:
    """The metrics refresher of one worker: every ``METRICS_REFRESH_SECONDS``, so a scrape
    answered by another worker sees this one's background state too."""
    while True:
        try:
            sync_metrics(metrics, service)
        except Exception as exc:  # the loop must survive; the next round tries again
            _log.warning("metrics refresh failed; retried in %gs", METRICS_REFRESH_SECONDS,
                         exc_info=exc)
        if stop.wait(METRICS_REFRESH_SECONDS):
            return


class _Assets(StaticFiles):
    """The counter page's script and style sheet: a browser keeps them and asks each time
    whether they changed (a 304 when not), so a page reload after an upgrade never runs an
    old script, and an unchanged one costs no transfer."""

    def file_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


class LimitAndMeasure:
    """Pure ASGI middleware: refuse oversized bodies (by Content-Length, and by counting a
    body sent without one), and time every request for the metrics."""

    def __init__(self, app: Any, *, limit: int, metrics: Metrics) -> None:
        self.app, self.limit, self.metrics = app, limit, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._too_large(send)
            self._observe(scope, 413, started)
            return
        seen = 0

        async def counted_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        async def recording_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, counted_receive, recording_send)
        except BodyTooLarge:
            await self._too_large(send)
            status = 413
        self._observe(scope, status, started)

    async def _too_large(self, send: Any) -> None:
        response = JSONResponse(
            {
                "error": "body_too_large",
                "message": f"the request body is over the limit of {self.limit} bytes",
            },
            status_code=413,
        )
        await response({"type": "http"}, _no_receive, send)

    def _observe(self, scope: Any, status: int, started: float) -> None:
        route = scope.get("route")
        self.metrics.observe(
            scope.get("method", "?"),
            getattr(route, "path", "unmatched"),
            status,
            time.perf_counter() - started,
        )


class BodyTooLarge(Exception):
    pass


async def _no_receive() -> Any:
    return {"type": "http.disconnect"}


def app_factory() -> Any:
    """For ``uvicorn --factory`` (each worker process builds its own app)."""
    settings = Settings()
    configure_logging(settings.log_level, default="INFO")
    return create_app(settings, server_process=True)
