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


Member = Callable[[Any], bool]
"""A check of one member of a cursor's position: true when the value is one this service
could have given there."""

MAX_INDEX = 2**63 - 1
"""The largest integer a position may hold (a database's 64-bit signed integer)."""


def _text(value: Any) -> bool:
    """A text member (a type code): a string (only ever compared with others)."""
    return type(value) is str


def _index(value: Any) -> bool:
    """A block number, row id or log index: an integer 0..2**63-1."""
    return type(value) is int and 0 <= value <= MAX_INDEX


def _source(value: Any) -> bool:
    """Which an entry of a timeline is: 1 a service event, 2 a chain event."""
    return type(value) is int and value in (1, 2)


TEXT: Member = _text
INDEX: Member = _index
HISTORY: tuple[Member, ...] = (_index, _source, _index, _index)
"""A timeline position (see ``verifier.app.service.TimelineKey``): the service event's id (or
the id of the one a chain event follows), 1 service or 2 chain, the chain event's block and
log index (0 for a service event)."""
EVENTS: tuple[Member, ...] = (_index,)
"""A position in the audit log: the last event's sequence number."""
MAX_ROW_ID = 2**31 - 1
"""The largest id of a service event (its column is a 32-bit integer in PostgreSQL)."""


def history_position(position: Sequence[Any]) -> bool:
    """A timeline position names a service event id its column can hold."""
    return bool(position[0] <= MAX_ROW_ID)


def events_position(position: Sequence[Any]) -> bool:
    return bool(position[0] <= MAX_ROW_ID)


def decode(
    kind: str,
    cursor: str | None,
    shape: Sequence[Member],
    whole: Callable[[Sequence[Any]], bool] | None = None,
) -> tuple[Any, ...] | None:
    """The position a cursor of list ``kind`` names, each member passing its check of
    ``shape`` (and the position ``whole``, if given); a ``bad_cursor`` refusal for anything
    this service did not give for that list (every member checked here, so no query ever
    sees a value it cannot take)."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found, position = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, RecursionError):
        raise _bad(cursor) from None
    if (
        type(found) is not str
        or found != kind
        or not isinstance(position, list)
        or len(position) != len(shape)
        or not all(check(v) for v, check in zip(position, shape, strict=True))
        or (whole is not None and not whole(position))
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
    shape: Sequence[Member],
) -> tuple[list[T], str | None]:
    """One page of ``items`` (in ascending ``key`` order) after the cursor's position, and
    the cursor of the next page."""
    after = decode(kind, cursor, shape)
    ordered = sorted(items, key=lambda item: tuple(key(item)))
    rest = [i for i in ordered if after is None or tuple(key(i)) > after]
    shown = rest[:limit]
    more = len(rest) > limit
    return shown, encode(kind, key(shown[-1])) if more and shown else None
