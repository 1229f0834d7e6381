"""The /Kids walks pay for the text they meet at every node: a direct node is walked again
wherever it is listed (only indirect ones are met once), so one long string in a small file
could be decoded, or a field's full name grow, at each of up to ``max_nodes`` visits."""

from __future__ import annotations

import time

import pytest
from hostile_shapes import _original

from seals.pdf import PdfLimits
from seals.pdf.attachments import embedded_files
from seals.pdf.errors import PdfHostile
from seals.pdf.reader import PdfFile
from seals.pdf.syntax import Name, PdfObject, Ref


def field_in_its_own_kids(title: int) -> bytes:
    """A form field whose ``/Kids`` (object 5) lists one direct named field whose ``/Kids``
    is object 5 again: each level's full name is the last one and ``title`` more
    characters (quadratic memory: a 400-byte file took more than 3 GB)."""
    kid = b"<</T (" + b"a" * title + b") /Kids 5 0 R>>"
    return _original(
        [b"<</Fields [4 0 R]>>", b"<</T (top) /Kids 5 0 R>>", b"[" + kid + b"]"],
        b" /AcroForm 3 0 R",
    )


def name_tree_of_one_string(size: int, levels: int) -> bytes:
    """An ``/EmbeddedFiles`` tree of ``levels`` levels, each an array of two direct nodes
    whose ``/Kids`` is the next level's, every node naming the same ``size``-byte string
    (object 4): 2 ** levels visits decode it (a 4 MB file took 50 s of CPU)."""
    objects = [b"<</EmbeddedFiles <</Kids 5 0 R>> >>", b"(" + b"a" * size + b")"]
    for i in range(levels):
        kids = b" /Kids %d 0 R" % (6 + i) if i < levels - 1 else b""
        node = b"<</Names [4 0 R null]" + kids + b">>"
        objects.append(b"[" + node + b" " + node + b"]")
    return _original(objects, b" /Names 3 0 R")


def test_a_field_name_that_grows_at_every_level_is_paid_for() -> None:
    file = PdfFile(field_in_its_own_kids(100), PdfLimits(max_nodes=2_000))
    started = time.process_time()
    with pytest.raises(PdfHostile, match="more work"):
        file.view().fields()
    assert time.process_time() - started < 2


def test_a_name_tree_key_met_at_every_node_is_paid_for() -> None:
    pdf = name_tree_of_one_string(100_000, 11)
    started = time.process_time()
    with pytest.raises(PdfHostile, match="more work"):
        embedded_files(pdf)
    assert time.process_time() - started < 2


def test_short_names_cost_nothing_more() -> None:
    """Names of ordinary length (under TEXT_PER_UNIT characters) spend no extra work."""
    assert embedded_files(name_tree_of_one_string(10, 3)) == {}


def test_a_parents_long_name_met_by_every_widget_is_paid_for() -> None:
    """Every widget without a /T under one parent decodes the parent's: a 9 MB file of
    25 000 widgets under a parent with an 8 MB /T took 55 s to verify."""
    pdf = _original([b"<</FT /Sig /T (" + b"a" * 100_000 + b")>>"])
    view = PdfFile(pdf).view()
    widget: dict[str, PdfObject] = {"Subtype": Name("Widget"), "Parent": Ref(3, 0)}
    with pytest.raises(PdfHostile, match="more work"):
        for _ in range(1_000):
            assert view.field_value(widget)[2] == "a" * 100_000
