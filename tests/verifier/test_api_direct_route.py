"""``POST /v1/verify`` is called without FastAPI's dependency solving (``DirectRoute``):
these tests hold that nothing declared is ever skipped by it — a dependency added to the
route, or to a router that includes it, is solved and applies to every request, a QR
included — and that the production route really takes the direct path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient

from verifier.api.app import create_app
from verifier.api.routes import verification
from verifier.api.routes.direct import DirectRoute, needs_solving
from verifier.app.service import AccessDenied, Principal
from verifier.checks.verdict import Fragment, Status, Verdict
from verifier.settings import Settings


class _Stub:
    """A service that knows one key and finds every QR valid."""

    settings = Settings()

    def authenticate(self, header: str | None) -> Principal:
        if header != "Bearer k":
            raise AccessDenied("no", code="api_key_invalid")
        return Principal("counter", "c")

    def verify_qr(self, text: str) -> Verdict:
        found = Fragment("certificate.signature", "signature", Status.VALID,
                         "qr.signature.valid", {"issuer": "某局", "who": "某局"}, {"block": 7})
        return Verdict((found,), {"identifier": "X"})

    def log_verification(self, *_: Any) -> None:
        pass


def _route() -> DirectRoute:
    found = next(r for r in verification.router.routes if getattr(r, "path", "") == "/v1/verify")
    assert isinstance(found, DirectRoute)
    return found


def _app(**include: Any) -> FastAPI:
    app = create_app(Settings(), background=False)
    if include:  # the verification router included once more, before the application's
        app.include_router(verification.router, **include)
        app.router.routes.insert(0, app.router.routes.pop())
    app.state.service = _Stub()
    return app


def _qr(app: FastAPI) -> Any:
    return TestClient(app).post("/v1/verify", json={"qr": "ZY2.X"},
                                headers={"Authorization": "Bearer k"})


def test_the_verify_route_is_called_directly_and_answers() -> None:
    app = _app()
    route = _route()
    assert not route.solved_somewhere  # every request to it is answered directly
    assert not needs_solving(route.dependant)  # it declares nothing: the direct handler
    assert getattr(route.get_route_handler(), "direct", False)
    answer = _qr(app)
    assert answer.status_code == 200 and answer.json()["verdict"] == "valid", answer.text


def test_the_verify_route_is_matched_before_every_other_route() -> None:
    first = create_app(Settings(), background=False).router.routes[0]
    assert getattr(first, "original_router", None) is verification.router


def test_a_dependency_of_an_including_router_is_solved_for_a_qr_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    monkeypatch.setattr(_route(), "solved_somewhere", False)  # restored for the other tests

    async def closed(request: Request) -> None:
        ran.append(request.url.path)
        raise AccessDenied("this counter is closed", code="wrong_role")

    refused = _qr(_app(dependencies=[Depends(closed)]))
    assert _route().solved_somewhere
    assert ran == ["/v1/verify"]
    assert refused.status_code == 403, refused.text
    assert refused.json() == {"error": "wrong_role", "message": "this counter is closed"}


def test_a_dependency_of_the_route_itself_is_solved() -> None:
    ran: list[str] = []

    async def counted() -> None:
        ran.append("dependency")

    router = APIRouter(route_class=DirectRoute)

    @router.post("/echo", dependencies=[Depends(counted)])
    async def echo(request: Request) -> Response:
        return JSONResponse(json.loads(await request.body()))

    app = FastAPI()
    app.include_router(router)
    answer = TestClient(app).post("/echo", json={"a": 1})
    assert answer.json() == {"a": 1} and ran == ["dependency"]


def test_a_declared_parameter_is_solved_as_on_any_route() -> None:
    router = APIRouter(route_class=DirectRoute)

    @router.get("/hello")
    async def hello(request: Request, name: str) -> Response:
        return JSONResponse({"hello": name})

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    assert client.get("/hello", params={"name": "x"}).json() == {"hello": "x"}
    assert client.get("/hello").status_code == 422
