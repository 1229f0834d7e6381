"""The one walk of a PDF node tree linked by ``/Kids`` arrays (form fields, name trees): depth
first and in order, each indirect node at most once (shared ``/Kids`` arrays make a DAG, and a
hostile file a cycle), and at most ``max_nodes`` nodes. What a node means, and whether to go
into its kids, is the caller's; so is paying for the kids it looks at and the text it
decodes (:data:`TEXT_PER_UNIT`): a direct node is not an indirect one, so a direct node
listed in its own ``/Kids`` is met again at every level."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from seals.pdf.errors import PdfHostile
from seals.pdf.syntax import PdfObject, Ref

TEXT_PER_UNIT = 16
"""Characters of text decoded or built by a walk (a field's full name, a name-tree key) per
unit of work: what bounds the time and memory of a walk that meets one long string at every
node."""


C = TypeVar("C")
"""What the caller carries down from a node to its kids (a field's name and inherited keys)."""

class KidsWalk(Generic[C]):
    """Iterate to get ``(node, depth, context)`` for every node not seen before (``node`` as
    found in its parent's ``/Kids``: a reference or a direct object; ``depth`` 0 for the
    roots); call :meth:`descend` while at a node to walk its kids next. More than
    ``max_nodes`` nodes is :class:`PdfHostile` ("more than N <what>")."""

    def __init__(
        self, roots: Iterable[PdfObject], context: C, *, max_nodes: int, what: str
    ) -> None:
        # a frame per node whose kids are being walked: an iterator over its /Kids, not a
        # copy (a shared array of thousands costs no memory per visit), its depth, its context
        self._stack: list[tuple[Iterator[PdfObject], int, C]] = [(iter(roots), 0, context)]
        self._max_nodes = max_nodes
        self._what = what
        self._depth = 0

    def descend(self, kids: Iterable[PdfObject], context: C) -> None:
        """Walk ``kids`` (of the node last yielded) before that node's next sibling."""
        self._stack.append((iter(kids), self._depth + 1, context))

    def __iter__(self) -> Iterator[tuple[PdfObject, int, C]]:
        seen: set[int] = set()
        walked = 0
        stack = self._stack
        while stack:
            kids_left, depth, context = stack[-1]
            try:
                ref = next(kids_left)
            except StopIteration:
                stack.pop()
                continue
            if isinstance(ref, Ref):
                if ref.num in seen:
                    continue
                seen.add(ref.num)
            walked += 1
            if walked > self._max_nodes:
                raise PdfHostile(f"more than {self._max_nodes} {self._what}")
            self._depth = depth
            yield ref, depth, context
