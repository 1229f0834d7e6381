"""The whole-file checks of a PDF: every in-use object of every section read from where its
entry points and checked against it (:func:`objects`), and each revision's bytes tiled
exactly by its objects and cross-reference section (:func:`tile`, :func:`tail`). The
:class:`~seals.pdf.reader.PdfFile` methods of the same names call these.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING

from seals.pdf.syntax import (
    MAX_OBJECT_NUMBER,
    PdfObject,
    Ref,
    check_object_number,
    skip_plain_ws,
    skip_ws,
    stream_span,
    walk,
)
from seals.pdf.view import View
from seals.pdf.xref import TAIL, Entry, FoundObject, Section
from seals.report import Message

if TYPE_CHECKING:
    from seals.pdf.reader import PdfFile

_PW = rb"[\x00\t\n\x0c\r ]"
_PREG = rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%#]"
_PLAIN_BODY = re.compile(  # possessive: no backtracking
    rb"(?:[\x00\t\n\x0c\r \[\]]++|/" + _PREG + rb"*+|<<|>>"
    rb"|(?:\d{1,10}+" + _PW + rb"++\d{1,5}+" + _PW + rb"++R"
    rb"|[+-]?+(?:\d{1,20}+(?:\.\d{0,40}+)?+|\.\d{1,40}+)|true|false|null)"
    rb"(?![^\x00\t\n\x0c\r ()<>\[\]{}/%]))*+"
)
"""The body of a plain object (see :meth:`PdfFile.objects`)."""
_PLAIN_OBJECT = re.compile(
    rb"(\d{1,10}+)" + _PW + rb"++(\d{1,5}+)" + _PW + rb"++obj(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])("
    + _PLAIN_BODY.pattern + rb")(endobj|stream)"
)
_SCAN_SHIFT = 2
"""Scanning a plain object costs a unit of work per 4 bytes (the densest objects' cost)."""
# Why: bench/PERFORMANCE.md, "PDF reader: units of work"
_NOT_PLAIN = re.compile(rb"[()%{}#]|(?<!<)<(?!<)")
"""A byte that never occurs in a plain object (a string, a comment, a name escape…)."""
_SCAN_FREE = 256
"""Bytes of a plain object included in its flat cost (4 units)."""
_REF_ITEM = re.compile(rb"(\d{1,10}+)" + _PW + rb"++(\d{1,5}+)" + _PW + rb"++R")
_ODD_REF = re.compile(rb"\d" + _PW + rb"++0*+[1-9]\d{0,4}+" + _PW + rb"++R")
_PLAIN_LENGTH = re.compile(
    rb"/Length" + _PW + rb"*(?:(\d{1,10})" + _PW + rb"+(\d{1,5})" + _PW + rb"+R|(\d{1,20}))"
    rb"(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
)


def objects(
    file: PdfFile,
    interesting: re.Pattern[bytes] | None = None,
    *,
    fast: bool = True,
    references: bool = True,
) -> Iterator[FoundObject]:
    """Every in-use object of every section (the oldest section first), each read from
    where its entry points and checked: the header has the entry's number and generation,
    a compressed object is in the object stream its entry names, under that number; every
    reference in it has the generation its object has (in the section's own view and, if
    the object is current, in the newest one). Streams' data is not read. Bounded by the
    budget; raises :class:`PdfMalformed` at the first bad entry.

    ``interesting``: a pattern of what the caller looks for (None: nothing). With
    ``fast``, a *plain* object — only names without ``#`` escapes, numbers, references,
    ``true``/``false``/``null``, balanced brackets (a stream's dictionary with a plain
    ``/Length``), then ``endobj`` (or the next member) — in which the pattern does not
    occur is checked but not parsed nor yielded: its references are read off its bytes
    (exact, as a plain object holds no strings or comments). Anything else is parsed in
    full and yielded. What every object of a section refers to ends in
    :attr:`references`."""
    newest = file.view()
    odd_gens = _odd_generations(file)
    budget = file.budget
    file.extents = [s.end for s in file.sections]
    file.references = [array("q") for _ in file.sections]
    for i in range(len(file.sections) - 1, -1, -1):
        view = file.view(i)
        referenced: set[int] = set()
        extent = file.extents[i]
        spent = 0
        for num, entry in file.sections[i].entries.items():
            if num <= 0 or entry.kind not in (1, 2):
                continue
            plain = (
                _plain(file, view, num, entry, interesting, references or bool(odd_gens))
                if fast
                else None
            )
            if plain is not None:
                found, end = plain
                for a, b in found:
                    n = int(a)
                    if n > MAX_OBJECT_NUMBER:
                        check_object_number(n, entry.a)
                    if references:
                        referenced.add(n)
                    if b != b"0" or n in odd_gens:
                        _check_ref(file, view, newest, i, num, Ref(n, int(b)))
                # an object's scan, its references and their generations' checks cost
                # 9 units (10 in an object stream)
                # Why: bench/PERFORMANCE.md, "PDF reader: units of work"
                spent += (9 if entry.kind == 1 else 10) + (len(found) >> 1)
                if spent > 4096:
                    budget.spend(spent)
                    spent = 0
            else:
                value, end = view.locate(num, entry, keep_data=False)
                refs: list[Ref] = []
                dicts: list[dict[str, PdfObject]] = []
                walk(value, refs, dicts)
                budget.spend(len(refs) // 4 + 4)
                for ref in refs:
                    if references:
                        referenced.add(ref.num)
                    if ref.gen or ref.num in odd_gens:
                        _check_ref(file, view, newest, i, num, ref)
                yield FoundObject(i, num, entry.gen, value, dicts)
            if end > extent:
                extent = end
        budget.spend(spent + len(referenced) // 8)
        file.extents[i] = extent
        file.references[i] = array("q", sorted(referenced))

def _check_ref(file: PdfFile, view: View, newest: View, i: int, num: int, ref: Ref) -> None:
    """A reference in object ``num`` of section ``i`` names its object's generation, in
    the section's own view and, if the object is the current one, in the newest view."""
    view.check_ref(ref)
    if i == 0 or _newest_section(file, num) == i:
        newest.check_ref(ref)

def _plain_stream(file: PdfFile, view: View, data: bytes, start: int, stop: int) -> int | None:
    """The end (after ``endobj``) of a plain stream object whose dictionary is
    ``data[start:stop]``, its ``/Length`` read off the bytes; None if unsure."""
    head = data[start:stop]
    if head.count(b"/Length") != 1 or not head.lstrip(b"\x00\t\n\x0c\r ").startswith(b"<<"):
        return None
    m = _PLAIN_LENGTH.search(head)
    if m is None:
        return None
    before = head[: m.start()]
    if before.count(b"<<") - before.count(b">>") != 1 or before.count(b"[") != before.count(
        b"]"
    ):
        return None  # /Length of a nested dictionary
    if m.group(1) is not None:
        length = view.length(Ref(int(m.group(1)), int(m.group(2))), 1)
    else:
        length = int(m.group(3))
    _, end = stream_span(data, stop + 6, length, view.limit)
    end = skip_ws(data, end)
    if not data.startswith(b"endobj", end):
        return None
    return end + 6

def _plain(
    file: PdfFile,
    view: View,
    num: int,
    entry: Entry,
    interesting: re.Pattern[bytes] | None,
    all_refs: bool = True,
) -> tuple[list[tuple[bytes, bytes]], int] | None:
    """The references (number, generation, as written) and end of object ``num`` if it is
    plain and not interesting (see :meth:`objects`), else None. Without ``all_refs``,
    only if one of them may name a generation other than 0."""
    # the scan costs a unit of work per 4 bytes: it may look no further than what
    # is left of the budget (then the parser, which pays as it goes, reads the object)
    window = (max(file.budget.work, 0) << _SCAN_SHIFT) + _SCAN_FREE
    if entry.kind == 1:
        data = file.data
        if view.limit is not None and entry.a >= view.limit:
            return None
        m = None
        if 0 <= entry.a < len(data):
            # most objects are small: a first look at _SCAN_FREE bytes, for their flat cost
            m = _PLAIN_OBJECT.match(data, entry.a, min(len(data), entry.a + _SCAN_FREE))
            if m is None and window > _SCAN_FREE:
                # a bigger one ends at its first 'endobj' or 'stream': the expression
                # looks no further, and the bytes up to there are paid for
                top = _first_end(data, entry.a, min(len(data), entry.a + window))
                if not _scan(file, data, entry.a, top):
                    return None  # a string, a comment…: not plain, the parser reads it
                m = _PLAIN_OBJECT.match(data, entry.a, top)
        if m is None or int(m.group(1)) != num or int(m.group(2)) != entry.b:
            return None  # the full read says what is wrong, if anything
        start, stop = m.span(3)
        if m.group(4) == b"stream":
            after = _plain_stream(file, view, data, start, stop)
            if after is None:
                return None
            end = after
        else:
            end = m.end()
    else:
        holder_entry = view.entry(entry.a)
        if holder_entry is None or holder_entry.kind != 1 or holder_entry.b != 0:
            return None
        holder = view._read(holder_entry.a, keep_data=True, level=0)
        if holder.num != entry.a or holder.gen != 0:
            return None
        data, start, member_stop = file.member_span(holder, holder_entry.a, entry.b, num)
        top = min(member_stop, start + window)
        if top - start > _SCAN_FREE and not _scan(file, data, start, top):
            return None
        body = _PLAIN_BODY.match(data, start, top)
        assert body is not None
        stop = body.end()
        if stop != member_stop:
            return None
        end = holder.end
    if interesting is not None and interesting.search(data, start, stop):
        return None
    segment = data[start:stop]
    opened = segment.count(b"<<"), segment.count(b"[")
    if opened != (segment.count(b">>"), segment.count(b"]")):
        return None
    if opened[0] + opened[1] > file.limits.max_depth:
        return None  # could be nested too deeply: the parser checks
    if opened[0] + opened[1] > 1 and not _nested(segment):
        return None
    if not segment.strip(b"\x00\t\n\x0c\r "):
        return None  # no value at all: let the parser say so
    if not all_refs and not _ODD_REF.search(segment):
        return [], end
    return _REF_ITEM.findall(segment), end

def _scan(file: PdfFile, data: bytes, start: int, top: int) -> bool:
    """Whether ``data[start:top]`` may be plain (no string, comment or ``#`` escape: a
    quick search in C), the bytes the plain-object expressions will scan paid for: a
    big plain object, or one listed again by many sections, is not one object's worth
    of work. Only what comes before the first byte that is never plain is paid for at
    the expressions' rate."""
    file.budget.spend((top - start) >> 8)  # the searches for the end and for that byte
    bad = _NOT_PLAIN.search(data, start, top)
    scanned = (bad.start() if bad else top) - start
    if scanned > _SCAN_FREE:
        file.budget.spend((scanned - _SCAN_FREE) >> _SCAN_SHIFT)
    return bad is None

def _newest_section(file: PdfFile, num: int) -> int:
    if len(file.sections) > 8:
        where = file.where(num)
        return where[0] if where else -1
    for i, section in enumerate(file.sections):
        if num in section.entries:
            return i
    return -1

def _odd_generations(file: PdfFile) -> set[int]:
    """Numbers that some section lists in use with a generation other than 0."""
    out: set[int] = set()
    for section in file.sections:
        out.update(section.entries.odd_generations())
    return out

def tail(file: PdfFile, section: Section) -> int | None:
    """The end of ``startxref N %%EOF`` right after ``section`` (N its offset), or None."""
    m = TAIL.match(file.data, section.end)
    if m is None or int(m.group(1)) != section.offset:
        return None
    return m.end()

def tile(file: PdfFile, index: int, start: int) -> tuple[int, Message | None]:
    """Check that revision ``index`` is written exactly from ``start``: its listed
    objects one after the other (each with ``endobj``), its cross-reference section,
    ``startxref`` naming it and ``%%EOF``, with only whitespace between. Returns where
    the revision ends and the first problem found (a ``pdf.tile.*`` message; None: it
    tiles)."""
    data = file.data
    section = file.sections[index]
    view = file.view(index)
    listed = sorted(
        (e.a, num) for num, e in section.entries.items() if num > 0 and e.kind == 1
    )
    file.budget.spend(len(listed))
    pos = start
    xref_seen = False
    for offset, num in listed:
        pos = skip_plain_ws(data, pos)
        if offset != pos:
            if offset < pos:
                return pos, Message(
                    "pdf.tile.overlap", {"num": num, "offset": offset, "start": start}
                )
            return pos, Message("pdf.tile.gap", {"first": pos, "last": offset})
        if offset == section.offset and section.kind == "stream":
            pos, xref_seen = section.end, True
            continue
        obj = file.read(offset, view.length)
        if obj.num != num or not obj.endobj:
            return pos, Message("pdf.tile.no_endobj", {"num": num, "offset": offset})
        pos = obj.end
    if not xref_seen:
        pos = skip_plain_ws(data, pos)
        if pos != section.offset:
            if section.offset < pos:
                return pos, Message("pdf.tile.xref_overlap", {"offset": section.offset})
            return pos, Message("pdf.tile.gap", {"first": pos, "last": section.offset})
        pos = section.end
    m = TAIL.match(data, pos)
    if m is None or int(m.group(1)) != section.offset:
        return pos, Message("pdf.tile.no_tail", {"offset": section.offset})
    return m.end(), None


_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"<>[]")


def _first_end(data: bytes, start: int, top: int) -> int:
    """The end of the first ``endobj`` or ``stream`` keyword after ``start``, else ``top``;
    looked for in growing chunks, so that what is searched is at most twice what comes
    before it (a big stream's data is not searched for the ``endobj`` after it)."""
    pos, step = start, 1024
    while pos < top:
        stop = min(top, pos + step + 6)
        found = [i for i in (data.find(b"endobj", pos, stop), data.find(b"stream", pos, stop))
                 if i >= 0]
        if found:
            return min(found) + 6
        pos += step
        step *= 2
    return top


def _nested(segment: bytes) -> bool:
    """Whether the brackets of a plain object's body (``<<``/``>>`` and ``[``/``]``, no
    hex strings there) close in order: innermost pairs are removed until none is left."""
    brackets = segment.translate(None, _NOT_BRACKETS)
    while brackets:
        inner = brackets.replace(b"[]", b"").replace(b"<<>>", b"")
        if inner == brackets:
            return False
        brackets = inner
    return True
