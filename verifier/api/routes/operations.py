"""The operations router: health, metrics, the counter page and the holder's page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from verifier.api.routes.common import (
    ServiceDep,
)
from verifier.api.schemas import (
    Health,
)

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Degraded: the chain, the database or "
                     "the index is not current."}},
)
def healthz(service: ServiceDep) -> JSONResponse:
    """``ok`` (200) only while the chain answers, the database answers and the index is
    current within ``ZHENGYIN_MAX_STALENESS_SECONDS``; otherwise ``degraded`` (503). The
    lag is stated in blocks and seconds; errors name the chain by scheme, host and port.
    ``roles``: the elected roles this process holds now (``indexer`` on PostgreSQL,
    ``batcher``), whichever instance answers."""
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
        "roles": [role for role in ("indexer", "batcher") if service.leads(role)],
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get(
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


@router.get("/holder", response_class=HTMLResponse, include_in_schema=False)
def holder_page() -> HTMLResponse:
    """The holder's page: open the certificate file, choose what to show, get a code."""
    from verifier.api.app import WEB

    page = WEB / "holder.html"
    if not page.is_file():
        return HTMLResponse("<!doctype html><title>证印链</title><p>持证人页面尚未构建。</p>")
    return HTMLResponse(page.read_text(encoding="utf-8"))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def counter_page() -> HTMLResponse:
    from verifier.api.app import WEB

    page = WEB / "index.html"
    if not page.is_file():
        return HTMLResponse("<!doctype html><title>证印链</title><p>核验页面尚未构建。</p>")
    return HTMLResponse(page.read_text(encoding="utf-8"))

