"""The HTTP routers, one per resource (each module's ``router``), gathered here in the
order the OpenAPI document lists them."""

from __future__ import annotations

from fastapi import APIRouter

from verifier.api.routes import (
    certificates,
    events,
    holder,
    issuers,
    operations,
    presentations,
    seals,
    types,
    verification,
)

ROUTERS: list[APIRouter] = [
    certificates.router,
    verification.router,
    presentations.router,
    holder.router,
    seals.router,
    types.router,
    issuers.router,
    events.router,
    operations.router,
]
"""Every router of the API, in the order of the OpenAPI document."""
