"""``DirectRoute``: a route whose endpoint takes the ``Request`` and answers a ready
``Response``, called without FastAPI's per-request dependency solving — unless the route
(or a router that includes it) declares a dependency or a parameter, which is then solved as
on any route, so nothing declared is ever skipped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from fastapi import Request, Response
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """An ``APIRoute`` (documented from its declaration as any route is) whose handler calls
    ``endpoint(request)`` directly when there is nothing for FastAPI to solve."""

    solved_somewhere = False
    """Whether some handler of this route (its own, or that of a router including it) is
    FastAPI's: then every request goes the framework's way (the route object is shared by
    its inclusions, so the safe side for all of them)."""

    def get_route_handler(self) -> Handler:
        solved = super().get_route_handler()
        if needs_solving(_effective_dependant(self)):
            self.solved_somewhere = True
            return solved  # a declared dependency or parameter: FastAPI's own handler
        endpoint = cast(Callable[[Request], Awaitable[Response]], self.endpoint)

        async def direct(request: Request) -> Response:
            return await endpoint(request)

        direct.direct = True  # type: ignore[attr-defined]
        return direct

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The endpoint's answer, without the framework's per-request wrapper (two exit
        stacks for dependencies with ``yield``, of which a direct route has none, and an
        exception handler that the application's own, outside it, is the same as) when
        nothing is solved for this route anywhere and the method is the route's."""
        if self.solved_somewhere or scope["method"] not in (self.methods or ()):
            await super().handle(scope, receive, send)
            return
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def needs_solving(dependant: Dependant) -> bool:
    """Whether the endpoint's declaration asks FastAPI for anything but the ``Request``:
    a dependency (of the route, or of a router that includes it), a path, query, header,
    cookie or body parameter, or any other injected object."""
    return bool(
        dependant.dependencies
        or dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.request_param_name is None
    )


def _effective_dependant(route: APIRoute) -> Dependant:
    """The dependant the handler being built serves: the route's own, or, while FastAPI
    builds the handler of the route as included by a router, that inclusion's (the
    router's dependencies merged in), as ``APIRoute.get_route_handler`` finds it."""
    var = getattr(fastapi_routing, "_effective_route_context_var", None)
    context = var.get() if var is not None else None
    if context is not None and context.original_route is route and context.dependant:
        return cast(Dependant, context.dependant)
    return route.dependant
