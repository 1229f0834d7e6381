"""What a PDF gained after a seal: the ``pdf.modifications`` check.

:class:`Later` checks each revision after a signed one once (:class:`_Revision`), and
:func:`modifications_check` judges one seal against the revisions after it (rules: see
:mod:`seals.pdf.verify` and ``seals/pdf/README.md``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seals.pdf.errors import PdfError
from seals.pdf.reader import (
    PdfFile,
)
from seals.pdf.signatures import EMPTY, MAX_TAIL, WS, Inventory, Signed, is_int, said
from seals.pdf.stamp import (
    box_of,
    placement_problems,
    seal_rects,
    visible_box,
)
from seals.pdf.syntax import PdfObject, Ref, Stream, brief, decode_text, equal
from seals.report import Check, Joined, Message, Status

# ---------------------------------------------------------------------- modifications


@dataclass
class _Problem:
    kind: str
    """``changed``, ``bytes``, ``shadow``, ``appearance``, ``redraw``, ``not_seal``,
    ``unreadable`` or ``later_seal`` (the Chinese reasons group by it)."""
    message: Message
    """What is wrong, a ``pdf.problem.*`` message."""

    @property
    def text(self) -> str:
        return self.message.render("en")


@dataclass
class _NewSeal:
    name: str
    ref: Ref


class _Revision:
    """One revision after a seal, compared with the document before it. Checked once per
    file, whatever number of earlier seals it follows.

    Accepted only when everything it adds or changes makes one or more new seals: its bytes
    tile (its listed objects, its cross-reference section, ``startxref``, ``%%EOF``); it
    adds signature fields (merged with their widgets) whose signature dictionaries are new
    and whose byte ranges end exactly at this revision's end; the pages' ``/Annots`` and the
    form's ``/Fields`` only gain those widgets (``/SigFlags`` may change, the catalog may get
    an ``/AcroForm``); an existing empty signature field may get its ``/V`` and ``/AP``;
    objects may be rewritten unchanged (same generation). Every new seal's widget follows
    the appearance policy (:meth:`_appearance`). New objects never take a number that an
    earlier revision referred to (a prepared shadow attack)."""

    def __init__(
        self, full: PdfFile, inv: Inventory, index: int, start: int, end: int
    ) -> None:
        self.full, self.inv, self.index, self.start, self.end = full, inv, index, start, end
        self.before = full.view(index + 1)
        self.after = full.view(index)
        self.number = len(full.sections) - index
        self.problems: list[_Problem] = []
        self.seals: list[_NewSeal] = []
        self._widgets: dict[int, dict[str, PdfObject]] = {}
        self._placed: dict[int, list[int]] = {}  # page number -> widgets appended to it
        self._kids: dict[int, frozenset[int]] = {}  # parent number -> numbers of its /Kids

    def problem(self, kind: str, message: str, **params: Any) -> None:
        self.problems.append(_Problem(kind, Message(message, params)))

    def check(self) -> None:
        before, after = self.before, self.after
        if after.trailer.get("Root") != before.trailer.get("Root") or not isinstance(
            after.trailer.get("Root"), Ref
        ):
            self.problem("changed", "pdf.problem.root_replaced")
        if not equal(after.trailer.get("Info"), before.trailer.get("Info")):
            self.problem("changed", "pdf.problem.info_replaced")
        new: list[int] = []
        changed: list[int] = []
        for n, e in self.full.sections[self.index].entries.items():
            if n <= 0:
                continue
            used = before.in_use(n)
            if e.kind not in (1, 2):
                if used:
                    self.problem("changed", "pdf.problem.deleted", n=n)
                continue
            (changed if used else new).append(n)
        new_set = set(new)
        for n in new:
            obj = after.peek(n)
            if isinstance(obj, dict) and obj.get("FT") == "Sig":
                self._signature_field(n, obj, new_set)
        for n in changed:
            old_entry, cur_entry = before.entry(n), after.entry(n)
            assert old_entry is not None and cur_entry is not None
            if old_entry.gen != cur_entry.gen:
                self.problem(
                    "changed", "pdf.problem.new_generation",
                    n=n, gen=cur_entry.gen, old=old_entry.gen,
                )
                continue
            old, cur = before.get(n), after.get(n)
            if not equal(old, cur):
                change = self._change(n, old, cur, new_set)
                if change is not None:
                    self.problems.append(_Problem("changed", change))
        self._shadow(new)
        for page, widgets in self._placed.items():
            self._appearance(page, widgets)
        if not self.seals:
            self.problem("not_seal", "pdf.problem.no_seal")

    def _shadow(self, new: list[int]) -> None:
        """A new object whose number an earlier revision already referred to."""
        early = []
        for n in new:
            for refs in self.inv.refs[self.index + 1 :]:
                i = bisect.bisect_left(refs, n)
                if i < len(refs) and refs[i] == n:
                    early.append(n)
                    break
        for n in early[:5]:
            self.problem("shadow", "pdf.problem.shadow", n=n)

    def _signature_field(self, n: int, obj: dict[str, PdfObject], new: set[int]) -> None:
        value = obj.get("V")
        sig = self.after.get(value.num, value.gen) if isinstance(value, Ref) else None
        name = decode_text(obj.get("T")) or f"object {n}"
        if not (
            isinstance(value, Ref) and value.num in new and isinstance(sig, dict)
            and "ByteRange" in sig and "Contents" in sig
        ):
            self.problem("not_seal", "pdf.problem.unsigned_field", n=n)
            return
        if "Parent" in obj or "Kids" in obj:
            self.problem("not_seal", "pdf.problem.field_hierarchy", n=n)
            return
        br = sig.get("ByteRange")
        ends = (
            isinstance(br, list) and len(br) == 4 and all(is_int(v) for v in br)
            and br[2] + br[3] == self.end
        )
        if not ends:
            self.problem("not_seal", "pdf.problem.range_end", name=name, end=self.end)
            return
        self._widgets[n] = obj
        self.seals.append(_NewSeal(name, value))

    def _change(self, n: int, old: PdfObject, cur: PdfObject, new: set[int]) -> Message | None:
        before, after = self.before, self.after
        if not (isinstance(old, dict) and isinstance(cur, dict)):
            what = "stream" if isinstance(old, Stream) else type(old).__name__
            return Message("pdf.problem.object_changed", {"n": n, "what": what})
        diff = _diff(old, cur)
        kind = old.get("Type")
        shown = sorted(diff)
        keys = ", ".join(str(k)[:64] for k in shown[:10])
        changes = (
            Message("pdf.problem.keys_more",
                    {"keys": keys, "more": len(shown) - 10, "total": len(shown)})
            if len(shown) > 10
            else Message("pdf.problem.keys", {"keys": keys})
        )
        root = before.trailer.get("Root")
        if kind == "Catalog" or (isinstance(root, Ref) and root.num == n):
            if diff <= {"AcroForm"} and self._acroform(
                before.resolve_dict(old.get("AcroForm")), after.resolve_dict(cur.get("AcroForm"))
            ):
                return None
            return Message("pdf.problem.catalog_changed", {"changes": changes})
        if "Fields" in old or "Fields" in cur:
            if self._acroform(old, cur):
                return None
            return Message("pdf.problem.form_changed", {"n": n})
        if self._is_page(n, old):
            if diff <= {"Annots"}:
                added = self._appended(
                    before.resolve(old.get("Annots")) or [], after.resolve(cur.get("Annots")) or []
                )
                if added is not None:
                    self._placed.setdefault(n, []).extend(added)
                    return None
            return Message("pdf.problem.page_changed", {"n": n, "changes": changes})
        if old.get("FT") == "Sig" and "V" not in old and diff <= {"V", "AP"}:
            self._signature_field(n, cur, new)
            page = old.get("P")
            if n in self._widgets:
                if isinstance(page, Ref) and self._is_page(page.num, before.get(page.num)):
                    self._placed.setdefault(page.num, []).append(n)
                else:
                    self.problem("appearance", "pdf.problem.unknown_page", n=n)
            return None
        if isinstance(kind, str):
            return Message(
                "pdf.problem.kind_changed", {"n": n, "kind": brief(kind), "changes": changes}
            )
        return Message("pdf.problem.other_changed", {"n": n, "changes": changes})

    def _is_page(self, n: int, node: PdfObject) -> bool:
        """A page: ``/Type /Page``, or a leaf its ``/Parent`` lists among its ``/Kids``
        (``/Type`` is often missing in the wild)."""
        if not isinstance(node, dict):
            return False
        if node.get("Type") == "Page":
            return True
        if node.get("Type") is not None or "Kids" in node:
            return False
        parent_ref = node.get("Parent")
        key = parent_ref.num if isinstance(parent_ref, Ref) else None
        numbers = self._kids.get(key) if key is not None else None
        if numbers is None:  # each parent's /Kids read once (it may be shared and huge)
            kids = self.before.resolve(self.before.resolve_dict(parent_ref).get("Kids"))
            kids = kids if isinstance(kids, list) else []
            self.full.budget.spend(len(kids) // 4 + 1)
            numbers = frozenset(k.num for k in kids if isinstance(k, Ref))
            if key is not None:
                self._kids[key] = numbers
        return n in numbers

    def _acroform(self, old: dict[str, PdfObject], cur: dict[str, PdfObject]) -> bool:
        diff = _diff(old, cur)
        if not diff <= {"Fields", "SigFlags"}:
            return False
        fields_old = self.before.resolve(old.get("Fields")) or []
        fields_new = self.after.resolve(cur.get("Fields")) or []
        appended = self._appended(fields_old, fields_new)
        return is_int(cur.get("SigFlags", 0)) and appended is not None

    def _appended(self, old: PdfObject, cur: PdfObject) -> list[int] | None:
        """The new seal widgets appended to ``old`` to make ``cur``, or None if ``cur`` is
        not ``old`` followed by new seal widgets only."""
        if not isinstance(old, list) or not isinstance(cur, list) or len(cur) < len(old):
            return None
        self.full.budget.spend(len(cur) // 4 + 1)  # arrays shared by many pages: paid each time
        if not all(equal(x, y) for x, y in zip(old, cur, strict=False)):
            return None
        added = cur[len(old) :]
        if not all(isinstance(r, Ref) and r.num in self._widgets for r in added):
            return None
        return [r.num for r in added]

    def _appearance(self, page_num: int, widgets: list[int]) -> None:
        """The appearance policy for seals added after an earlier seal (README, and
        :func:`~seals.pdf.stamp.placement_problems`): each new widget's ``/Rect`` lies within
        the page's crop box, covers at most :data:`~seals.pdf.stamp.MAX_SEAL_SHARE` of it,
        overlaps no seal already on the page (nor another new one), and its ``/AP /N`` is a
        form XObject with a ``/BBox`` (and an invertible ``/Matrix``, if any), so that
        viewers draw it inside its ``/Rect`` only."""
        before, after = self.before, self.after
        visible = visible_box(after, after.page_attributes(after.resolve_dict(after.get(page_num))))
        if visible is None:
            self.problem("appearance", "pdf.problem.no_media_box", n=page_num)
            return
        page = before.resolve_dict(before.get(page_num))
        annots = before.resolve(page.get("Annots"))
        self.full.budget.spend(len(annots) + 1 if isinstance(annots, list) else 1)
        earlier = seal_rects(before, page)
        for n in widgets:
            w = self._widgets[n]
            name = decode_text(w.get("T")) or f"object {n}"
            rect = box_of(after.resolve(w.get("Rect")))
            if rect is None:
                self.problem("appearance", "pdf.problem.no_rect", name=name)
                continue
            for problem in placement_problems(visible, rect, earlier):
                self.problem("appearance", "pdf.problem.of_seal", name=name, problem=problem)
            earlier.append(rect)
            form = self._form(after.resolve(after.resolve_dict(w.get("AP")).get("N")))
            if form is not None:
                self.problem("appearance", "pdf.problem.of_seal", name=name, problem=Message(form))

    def _form(self, form: PdfObject) -> str | None:
        """None if ``form`` is a usable appearance; else the id of what is wrong with it."""
        if not isinstance(form, Stream) or form.dict.get("Subtype") != "Form":
            return "pdf.problem.not_form"
        if box_of(self.after.resolve(form.dict.get("BBox"))) is None:
            return "pdf.problem.no_bbox"
        matrix = self.after.resolve(form.dict.get("Matrix"))
        if matrix is not None:
            if not (
                isinstance(matrix, list) and len(matrix) == 6
                and all(isinstance(v, int | float) and not isinstance(v, bool)
                        and math.isfinite(v) for v in matrix)
                and abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]) > 1e-9
            ):
                return "pdf.problem.bad_matrix"
        return None


def _diff(old: dict[str, PdfObject], cur: dict[str, PdfObject]) -> set[str]:
    """The keys whose values differ, a key with a null value and an absent key included."""
    return {
        k for k in old.keys() | cur.keys()
        if (k in old) != (k in cur) or not equal(old[k], cur[k])
    }


class Later:
    """The revisions after the signed ones, each checked once (cached)."""

    def __init__(self, full: PdfFile, inv: Inventory) -> None:
        self.full, self.inv = full, inv
        self._done: dict[int, _Revision] = {}
        self._own: dict[int, list[_Problem]] = {}
        self._redraw: list[_Problem] | None = None

    def redraw(self) -> list[_Problem]:
        """``/NeedAppearances true`` in the form viewers read: they draw the fields anew from
        their values (poppler then draws no seal), not what the appearances say; what is
        shown is not what was sealed."""
        if self._redraw is None:
            view = self.full.view()
            self._redraw = []
            try:
                flag = view.resolve(view.acroform().get("NeedAppearances"))
            except PdfError as exc:
                self._redraw.append(_Problem(
                    "unreadable", Message("pdf.problem.form_unreadable", {"error": str(exc)})
                ))
            else:
                if flag is not False and flag is not None:
                    self._redraw.append(_Problem(
                        "redraw", Message("pdf.problem.redraw", {"flag": repr(flag)})
                    ))
        return self._redraw

    def own(self, index: int) -> list[_Problem]:
        """What the signed revision ``index`` itself must not do: define an object that an
        earlier revision referred to without defining it (the reference was null to
        viewers; now it names the seal's object, and what the document showed changes)."""
        cached = self._own.get(index)
        if cached is not None:
            return cached
        full = self.full
        found: list[_Problem] = []
        if index + 1 < len(full.sections):
            before = full.view(index + 1)
            earlier = self.inv.refs[index + 1 :]
            full.budget.spend(len(full.sections[index].entries) // 8)
            for n, e in full.sections[index].entries.items():
                if n <= 0 or e.kind not in (1, 2) or before.in_use(n):
                    continue
                for refs in earlier:
                    i = bisect.bisect_left(refs, n)
                    if i < len(refs) and refs[i] == n:
                        found.append(_Problem(
                            "shadow", Message("pdf.problem.sealed_defines", {"n": n})
                        ))
                        break
                if len(found) >= 5:
                    break
        self._own[index] = found
        return found

    def revision(self, index: int) -> _Revision:
        cached = self._done.get(index)
        if cached is not None:
            return cached
        full = self.full
        start = full.tail(full.sections[index + 1])
        end = full.tail(full.sections[index])
        rev = _Revision(full, self.inv, index, start or -1, end or -1)
        if start is None:
            rev.problem("bytes", "pdf.problem.previous_end", end=full.sections[index + 1].end)
        elif end is None:
            rev.problem("bytes", "pdf.problem.own_end", offset=full.sections[index].offset)
        else:
            _, tiling = full.tile(index, start)
            if tiling is not None:
                rev.problem("bytes", tiling.id, **tiling.params)
            try:
                rev.check()
            except PdfError as exc:
                rev.problem("unreadable", "pdf.problem.unreadable", error=str(exc))
        self._done[index] = rev
        return rev


def modifications_check(
    data: bytes, full: PdfFile, signed: Signed, later: Later,
    verdicts: Mapping[tuple[int, int], tuple[str, bool]],
) -> Check:
    name = "pdf.modifications"
    problems: list[_Problem] = []
    seals: list[Message] = []
    tail = data[full.end :]
    if tail and (len(tail) > MAX_TAIL or not all(ch in WS for ch in tail)):
        # whitespace too: enough of it pushes 'startxref' out of the last 1 024 bytes,
        # where viewers look for it, and they rebuild the xref from the bytes
        problems.append(
            _Problem("bytes", Message("pdf.problem.after_last", {"count": len(tail)}))
        )
    if signed.index == 0 and full.end > signed.end:
        extra = data[signed.end : full.end]
        if not all(ch in WS for ch in extra):
            problems.append(_Problem(
                "bytes", Message("pdf.problem.after_sealed", {"count": len(extra)})
            ))
    problems += later.own(signed.index) + later.redraw()
    for idx in range(signed.index - 1, -1, -1):
        rev = later.revision(idx)
        number = rev.number
        if full.sections[idx].offset < signed.end:
            problems.append(_Problem(
                "bytes", Message("pdf.problem.inside_sealed", {"revision": number})
            ))
            break
        problems += [
            _Problem(
                p.kind,
                Message("pdf.problem.in_revision", {"revision": number, "problem": p.message}),
            )
            for p in rev.problems
        ]
        for seal in rev.seals:
            seals.append(Message(
                "pdf.modifications.seal_added", {"revision": number, "field": seal.name}
            ))
            label, ok = verdicts.get((seal.ref.num, seal.ref.gen), (seal.name, False))
            if not ok:
                problems.append(_Problem(
                    "later_seal",
                    Message("pdf.problem.later_seal", {"revision": number, "label": label}),
                ))
    later_count = signed.index
    data_out: dict[str, Any] = {"later_revisions": later_count, "revision_end": signed.end}
    if problems:
        kinds = sorted({p.kind for p in problems})
        more = len(problems) - 10
        params = {
            # the problems: technical detail, each said in both languages
            "problems": Joined(tuple(p.message for p in problems[:10])),
            "more": Message("pdf.modifications.more", {"count": more}) if more > 0 else EMPTY,
            "count": min(len(problems), 50),
            "kinds": Message(
                "pdf.modifications.kinds",
                {"kinds": Joined(tuple(Message(f"pdf.change.{k}") for k in kinds))},
            ),
        }
        return said(
            name, "integrity", Status.INVALID, "pdf.modifications.changed", params,
            problems=[p.text for p in problems[:50]], kinds=kinds, **data_out,
        )
    if later_count:
        added = Joined(tuple(seals))
        return said(
            name, "integrity", Status.VALID, "pdf.modifications.seals_only", {"seals": added},
            seals=[m.render("en") for m in seals], **data_out,
        )
    note = (
        Message("pdf.modifications.whitespace", {"count": len(tail)}) if tail else EMPTY
    )
    return said(
        name, "integrity", Status.VALID, "pdf.modifications.none", {"note": note}, **data_out
    )


