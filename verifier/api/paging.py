"""Cursor pagination of every list the API answers: ``?limit=&cursor=`` in, ``next_cursor``
out (``null`` on the last page).

A cursor is the position of the last item of a page (an opaque base64url text naming the
list it belongs to); the next page starts after it, so items added meanwhile are neither
repeated nor skipped before that position.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query

from verifier.errors import VerifierError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"At most this many items (default {DEFAULT_LIMIT}, "
          f"at most {MAX_LIMIT})."),
]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The `next_cursor` of the previous page (absent: the "
          "first page)."),
]

T = TypeVar("T")


def encode(kind: str, position: Sequence[Any]) -> str:
    text = json.dumps([kind, list(position)], separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str | None, shape: Sequence[type]) -> tuple[Any, ...] | None:
    """The position a cursor of list ``kind`` names, its items of the types ``shape``; a
    ``bad_cursor`` refusal for anything this service did not give for that list."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found, position = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, RecursionError):
        raise _bad(cursor) from None
    if (
        found != kind
        or not isinstance(position, list)
        or len(position) != len(shape)
        or not all(type(v) is t for v, t in zip(position, shape, strict=True))
    ):
        raise _bad(cursor)
    return tuple(position)


def _bad(cursor: str) -> VerifierError:
    shown = cursor if len(cursor) <= 40 else cursor[:40] + "…"
    return VerifierError(
        f"the cursor {shown!r} is not one this list gave: start again without a cursor, "
        "then pass each answer's next_cursor",
        code="bad_cursor",
    )


def page(
    items: Sequence[T],
    key: Callable[[T], Sequence[Any]],
    kind: str,
    cursor: str | None,
    limit: int,
    shape: Sequence[type],
) -> tuple[list[T], str | None]:
    """One page of ``items`` (in ascending ``key`` order) after the cursor's position, and
    the cursor of the next page."""
    after = decode(kind, cursor, shape)
    ordered = sorted(items, key=lambda item: tuple(key(item)))
    rest = [i for i in ordered if after is None or tuple(key(i)) > after]
    shown = rest[:limit]
    more = len(rest) > limit
    return shown, encode(kind, key(shown[-1])) if more and shown else None
