"""The one /Kids walk (seals.pdf.kids.KidsWalk): order, each node once, the node bound."""

from __future__ import annotations

import pytest

from seals.pdf.errors import PdfHostile
from seals.pdf.kids import KidsWalk
from seals.pdf.syntax import PdfObject, Ref

# a small tree by object number: 1 -> [2, 3], 2 -> [4], 3 -> [4, 1] (4 shared, 1 a cycle)
_KIDS: dict[int, list[PdfObject]] = {1: [Ref(2, 0), Ref(3, 0)], 2: [Ref(4, 0)],
                                     3: [Ref(4, 0), Ref(1, 0)], 4: []}


def _walk(max_nodes: int = 100) -> list[tuple[int, int, str]]:
    walk: KidsWalk[str] = KidsWalk([Ref(1, 0)], "", max_nodes=max_nodes, what="test nodes")
    out: list[tuple[int, int, str]] = []
    for node, depth, path in walk:
        assert isinstance(node, Ref)
        out.append((node.num, depth, path))
        walk.descend(_KIDS[node.num], f"{path}/{node.num}")
    return out


def test_depth_first_in_order_each_node_once_with_its_parents_context() -> None:
    assert _walk() == [(1, 0, ""), (2, 1, "/1"), (4, 2, "/1/2"), (3, 1, "/1")]


def test_more_nodes_than_allowed_is_hostile() -> None:
    with pytest.raises(PdfHostile, match="more than 3 test nodes"):
        _walk(max_nodes=3)
    assert len(_walk(max_nodes=4)) == 4


def test_direct_kids_are_each_a_node() -> None:
    walk: KidsWalk[None] = KidsWalk([{}, {}], None, max_nodes=2, what="nodes")
    assert [depth for _, depth, _ in walk] == [0, 0]
    with pytest.raises(PdfHostile):
        list(KidsWalk([{}, {}, {}], None, max_nodes=2, what="nodes"))
