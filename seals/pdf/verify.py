"""Verifying sealed PDFs: every signature-like object in every revision, its byte range, its
digest, the seal signature itself, and what changed in the file after it was made.

``verify_pdf(pdf_bytes, *, at=None, anchors=(), lenient_ca=False) -> PdfReport``.

Signatures are collected from everything, not only the form: every in-use object of every
cross-reference section that is a signature field (``/FT /Sig``, inherited through
``/Parent`` too) or looks like a signature dictionary (``/Type /Sig``, ``/Type
/DocTimeStamp``, a ``/ByteRange``), and the value (``/V``) of every such field, direct
dictionaries included. Each distinct signature dictionary gets its own
:class:`PdfSignatureReport`; a signature this service cannot verify (another ``/SubFilter``)
is INVALID, never skipped. Per signature, steps in order:

- ``pdf.format``: only for a foreign ``/SubFilter``: INVALID, and nothing else is checked.
- ``pdf.byte_range``: ``/ByteRange`` is ``[0 b c d]``; the gap ``[b, c)`` is exactly the hex
  string of this signature dictionary's ``/Contents``; ``c + d`` is the end of a revision of
  the file's chain (``startxref`` naming one of its sections, then ``%%EOF``) whose view
  defines this field and signature dictionary, all of whose objects lie inside the range;
  ``propertyInfo`` names the same range; ``/Contents`` holds the DER and zero padding only.
- ``pdf.digest``: plain SM3 of the two ranges equals ``dataHash`` (it takes the place of the
  ``signature.data_hash`` step of :func:`seals.seal.verify_signature`).
- every other step of :func:`seals.seal.verify_signature`.
- ``pdf.modifications``: what the file gained after the signed revision. Nothing: VALID. Only
  later seal revisions, each checked once (see :class:`_Revision`): VALID when every seal they
  add verifies on its own. Anything else — an object redefined or deleted, bytes a revision's
  cross-reference section does not account for, an object the sealed revision referred to
  defined later, a later seal whose appearance breaks the policy (``seals/pdf/README.md``),
  a later seal that does not verify: INVALID.

Raises :class:`~seals.pdf.errors.PdfError` only when the file as a whole cannot be read or is
out of bounds (``pdf_malformed``, ``pdf_encrypted``, ``pdf_too_large``, ``pdf_hostile``);
everything about a signature is a step, never an exception.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import math
import re
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seals import sm2
from seals.errors import SealError, says_nothing_of_the_input
from seals.pdf.errors import PdfError, PdfHostile, PdfMalformed
from seals.pdf.reader import (
    DEFAULT_LIMITS,
    OBJ_HEADER,
    PdfFile,
    PdfLimits,
    View,
    find_eof,
    startxref_before,
)
from seals.pdf.stamp import (
    SUBFILTER,
    box_of,
    placement_problems,
    seal_rects,
    visible_box,
)
from seals.pdf.syntax import Name, Parser, PdfObject, Ref, Stream, brief, decode_text, equal
from seals.seal import Step, StepStatus, VerificationReport, verify_signature
from seals.ses import SealSignature, parse_signature
from seals.sm3 import IMPLEMENTATION as SM3_IMPLEMENTATION
from seals.sm3 import sm3_prefixed
from seals.x509 import X509Certificate

_HEX = re.compile(rb"[0-9A-Fa-f]*")
_WS = frozenset(b"\x00\t\n\x0c\r ")
_SHARED_SM3 = SM3_IMPLEMENTATION == "hashlib"
"""Whether hash states can be copied (OpenSSL's SM3), so that seals share the hashing."""
_MAX_TAIL = 32
"""The most whitespace accepted after the last ``%%EOF`` (a writer's end of line or two)."""
_SIGNATURE_WORDS = re.compile(
    rb"/(?:FT|ByteRange|Sig|DocTimeStamp|Widget)(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
)
"""Names without which an object cannot be (or hold) a signature field or dictionary."""


@dataclass(frozen=True)
class PdfSignatureReport:
    """One signature of a PDF and the steps of verifying it."""

    field: str
    """The field's full name (``/T``), or where the signature dictionary was found."""
    revision: int
    """How many cross-reference sections the signed revision has (1: the original file);
    0 when the byte range does not name a revision of the file."""
    byte_range: tuple[int, ...]
    signer: str | None
    """The signer certificate's subject, when readable."""
    signing_time: datetime | None
    seal_name: str | None
    steps: tuple[Step, ...]
    subject: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    revision_digest: bytes | None = None
    """SM3 of the file up to the end of the signed revision (what is anchored on chain),
    when the byte range is valid."""

    @property
    def ok(self) -> bool:
        return self.report().ok

    def report(self) -> VerificationReport:
        return VerificationReport("pdf_signature", self.steps, self.subject)


@dataclass(frozen=True)
class PdfReport:
    """Every signature of a PDF, and the document-level steps."""

    size: int
    revisions: int
    """Cross-reference sections in the file."""
    steps: tuple[Step, ...]
    """``pdf.structure`` and ``pdf.signatures``."""
    signatures: tuple[PdfSignatureReport, ...]

    data: bytes = dataclasses.field(repr=False, compare=False, default=b"")
    file: PdfFile | None = dataclasses.field(repr=False, compare=False, default=None)
    """The file as read (its objects and its work budget), for reading its attachments
    without parsing it again (:func:`seals.pdf.attachments.embedded_files`)."""

    @property
    def document_digest(self) -> bytes:
        """SM3 of the whole file (what gets anchored; computed when asked)."""
        return sm2.sm3(self.data)

    @property
    def ok(self) -> bool:
        """At least one seal signature, and every signature and document step is fine."""
        whole = VerificationReport(
            "pdf", self.steps + tuple(s for sig in self.signatures for s in sig.steps)
        )
        return bool(self.signatures) and whole.ok


def _step(name: str, type_: str, status: StepStatus, reason: str, **data: Any) -> Step:
    return Step(name, type_, status, reason, data)


def _guard(name: str, type_: str, fn: Callable[[], Step]) -> Step:
    try:
        return fn()
    except SealError as exc:
        if says_nothing_of_the_input(exc):  # this machine's SM2, not the file, failed
            return _step(name, type_, StepStatus.ERROR, f"could not check: {exc}", error=exc.code)
        return _step(name, type_, StepStatus.INVALID, f"cannot be read: {exc}", error=exc.code)
    except Exception as exc:  # a step never crashes the report
        return _step(name, type_, StepStatus.ERROR, f"could not check: {exc}", error=repr(exc))


def _is_int(value: PdfObject) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- finding


@dataclass
class _Candidate:
    """One distinct signature dictionary found somewhere in the file."""

    num: int | None
    """Its object number (None: a direct dictionary inside a field)."""
    gen: int
    section: int
    """The oldest section that defines it."""
    sig: dict[str, PdfObject]
    names: list[str] = dataclasses.field(default_factory=list)
    """Partial names (``/T``) of the fields found holding it."""

    @property
    def ref(self) -> Ref | None:
        return Ref(self.num, self.gen) if self.num is not None else None

    def range_end(self) -> int:
        br = self.sig.get("ByteRange")
        if isinstance(br, list) and len(br) == 4 and all(_is_int(v) for v in br):
            return int(br[2]) + int(br[3])
        return -1

    def label(self) -> str:
        if self.names:
            return self.names[0]
        if self.num is not None:
            return f"signature object {self.num}"
        return "a signature inside a field"


@dataclass
class _Inventory:
    candidates: dict[tuple[Any, ...], _Candidate]
    refs: list[array[int]]
    """Per section: the sorted numbers its objects (and trailer) refer to."""


def _is_sig_dict(d: dict[str, PdfObject]) -> bool:
    return d.get("Type") in ("Sig", "DocTimeStamp") or "ByteRange" in d


def _inventory(full: PdfFile) -> _Inventory:
    """Every signature dictionary of every section, and what each section refers to."""
    found: dict[tuple[Any, ...], _Candidate] = {}
    contents: dict[int, tuple[dict[str, PdfObject], bytes]] = {}

    def content(sig: dict[str, PdfObject]) -> bytes:
        """What tells signature dictionaries apart: a digest of the content, formatted once
        per dictionary read (many fields may name one big dictionary) and paid for."""
        known = contents.get(id(sig))
        if known is None:
            text = repr(sig)
            full.budget.spend(len(text) >> 8)
            known = contents[id(sig)] = (sig, hashlib.sha256(text.encode("utf-8", "replace"))
                                         .digest())
        return known[1]

    def add(num: int | None, gen: int, section: int, sig: dict[str, PdfObject], name: str) -> None:
        key = (num, gen, content(sig))
        cand = found.get(key)
        if cand is None:
            if len(found) >= full.limits.max_signatures:
                raise PdfHostile(
                    f"the PDF holds more than {full.limits.max_signatures} signatures (at most "
                    "that many are verified)"
                )
            cand = found[key] = _Candidate(num, gen, section, sig)
        cand.section = max(cand.section, section)
        if name and name not in cand.names:
            cand.names.append(name)

    for obj in full.objects(_SIGNATURE_WORDS):
        view = full.view(obj.section)
        for k, d in enumerate(obj.dicts):
            top = k == 0 and (isinstance(obj.value, dict) or isinstance(obj.value, Stream))
            if top and _is_sig_dict(d):
                add(obj.num, obj.gen, obj.section, d, "")
            if d.get("FT") != "Sig" and not (
                "FT" not in d and d.get("Subtype") == "Widget" and isinstance(d.get("Parent"), Ref)
            ):
                continue
            ft, value, name = view.field_value(d)
            if ft != "Sig" or value is None:
                continue  # not a signature field, or an empty one (a placeholder)
            if isinstance(value, Ref):
                target = view.get(value.num, value.gen)
                if target is None:
                    continue  # /V names no object: unsigned, as viewers show it
                sig = target.dict if isinstance(target, Stream) else target
                where = _defined_in(full, value.num, obj.section)
                add(value.num, value.gen, where, sig if isinstance(sig, dict) else {}, name)
            else:
                add(None, 0, obj.section, value if isinstance(value, dict) else {}, name)
    refs = full.references
    for section, numbers in zip(full.sections, refs, strict=True):
        for key in ("Root", "Info"):  # what the trailer refers to counts too
            ref = section.trailer.get(key)
            if isinstance(ref, Ref):
                i = bisect.bisect_left(numbers, ref.num)
                if i == len(numbers) or numbers[i] != ref.num:
                    numbers.insert(i, ref.num)
    return _Inventory(found, refs)


def _defined_in(full: PdfFile, num: int, start: int) -> int:
    """The section (``start`` or older) whose entry defines ``num`` in view ``start``."""
    for i in range(start, len(full.sections)):
        if num in full.sections[i].entries:
            return i
    return start


# ------------------------------------------------------------------------ byte range


@dataclass
class _Signed:
    ranges: tuple[int, int, int, int]
    end: int
    index: int
    """The section index of the signed revision's newest section."""
    view: View
    der: bytes


def _der_length(blob: bytes) -> int | None:
    if len(blob) < 2 or blob[0] != 0x30:
        return None
    first = blob[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if not 1 <= count <= 4 or len(blob) < 2 + count:
        return None
    return 2 + count + int.from_bytes(blob[2 : 2 + count], "big")


def _der_of(contents: bytes) -> bytes:
    """The DER in ``/Contents``, without its zero padding."""
    length = _der_length(contents)
    if length is None or length > len(contents):
        return contents.rstrip(b"\x00")
    return contents[:length]


def _byte_range(
    data: bytes, cand: _Candidate, parsed: SealSignature | None, full: PdfFile,
    extents: list[int],
) -> tuple[Step, _Signed | None]:
    name = "pdf.byte_range"

    def bad(reason: str, **extra: Any) -> tuple[Step, None]:
        return _step(name, "integrity", StepStatus.INVALID, reason, **extra), None

    sig = cand.sig
    br = sig.get("ByteRange")
    contents = sig.get("Contents")
    if not isinstance(br, list) or not br:
        return bad("the signature has no /ByteRange: it protects nothing")
    if not isinstance(contents, bytes) or not contents.strip(b"\x00"):
        return bad("the signature has no /Contents: there is no signature")
    if len(br) != 4 or not all(_is_int(v) for v in br):
        return bad(f"/ByteRange is not four integers: {brief(br)}")
    a, b, c, d = (int(v) for v in br)
    info: dict[str, Any] = {"byte_range": [a, b, c, d], "file_size": len(data)}
    if a != 0:
        return bad(f"/ByteRange starts at byte {a}, not 0: the file's start is not covered", **info)
    if min(b, c, d) < 0 or c <= b or c + d > len(data):
        return bad("/ByteRange points outside the file or its ranges overlap", **info)
    if not (data[b : b + 1] == b"<" and data[c - 1 : c] == b">"):
        return bad("the gap in /ByteRange is not a hex string: bytes are left unprotected", **info)
    m = _HEX.fullmatch(data, b + 1, c - 1)
    if m is None or (c - b) % 2:
        return bad("the gap in /ByteRange is not a hex string: bytes are left unprotected", **info)
    if bytes.fromhex(data[b + 1 : c - 1].decode("ascii")) != contents:
        return bad(
            "the gap in /ByteRange is not this signature's /Contents (signature wrapping?)", **info
        )
    end = c + d
    eof = data.rfind(b"%%EOF", 0, end)
    if eof < 0 or find_eof(data, eof) != end:
        return bad(
            f"the signed range ends at byte {end}, which is not the end of a revision "
            "(%%EOF): the signature does not cover its own revision",
            **info,
        )
    info["revision_end"] = end
    offset = startxref_before(data, end)
    index = next((i for i, s in enumerate(full.sections) if s.offset == offset), None)
    if index is None:
        return bad(
            "the signed revision is not a revision of this file's cross-reference chain: "
            "the file was rewritten after sealing",
            **info,
        )
    sections = full.sections[index:]
    if any(s.end > end for s in sections) or max(extents[index:], default=0) > end:
        return bad("the signed revision refers to bytes after its end", **info)
    try:
        view = full.view(index, limit=end)
        fields = [f for f in view.fields() if f[1].get("FT") == "Sig"]
    except PdfError as exc:
        return bad(f"the signed revision cannot be read: {exc}", **info)
    ref = cand.ref
    entry = view.entry(ref.num) if ref is not None else None
    if ref is None or entry is None or entry.kind != 1 or entry.gen != ref.gen:
        return bad("the signature dictionary is not an uncompressed object of the signed revision",
                   **info)
    if not any(isinstance(f[1].get("V"), Ref) and f[1]["V"] == ref for f in fields):
        return bad("the signed revision has no signature field with this signature", **info)
    # where the dictionary keeps /Contents, parsed (its strings may hold '/Contents' too)
    try:
        header = OBJ_HEADER.match(data, entry.a)
        if header is None:
            raise PdfMalformed(f"no object at byte {entry.a}")
        parser = Parser(data, max_depth=full.limits.max_depth, budget=full.budget)
        spans = parser.dict_spans(header.end())[2]
    except PdfError as exc:
        return bad(f"the signature dictionary cannot be read: {exc}", **info)
    where = spans.get("Contents")
    if where is None or where[1:] != (b, c):
        return bad("the gap is not where this signature dictionary keeps /Contents", **info)
    if not equal(view.get(ref.num, ref.gen), sig):
        return bad("the signature dictionary differs from the one the range was made for", **info)
    der = _der_of(contents)
    if contents[len(der) :].strip(b"\x00"):
        return bad("/Contents holds bytes after the signature", **info)
    if parsed is not None:
        expected = f"/ByteRange [{a} {b} {c} {d}]"
        if parsed.property_info != expected:
            return bad(f"the signature protects {brief(parsed.property_info)}, not {expected!r}",
                       **info)
    covered = (b + d) / max(1, len(data))
    return (
        _step(
            name,
            "integrity",
            StepStatus.VALID,
            f"covers bytes 0–{end} of its revision except exactly the signature "
            f"({c - b} bytes)",
            **info,
            covered=round(covered, 6),
        ),
        _Signed((a, b, c, d), end, index, view, der),
    )


# ---------------------------------------------------------------------- modifications


@dataclass
class _Problem:
    kind: str
    """``changed``, ``bytes``, ``shadow``, ``appearance``, ``redraw``, ``not_seal``,
    ``unreadable`` or ``later_seal`` (the Chinese reasons group by it)."""
    text: str


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
        self, full: PdfFile, inv: _Inventory, index: int, start: int, end: int
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

    def problem(self, kind: str, text: str) -> None:
        self.problems.append(_Problem(kind, text))

    def check(self) -> None:
        before, after = self.before, self.after
        if after.trailer.get("Root") != before.trailer.get("Root") or not isinstance(
            after.trailer.get("Root"), Ref
        ):
            self.problem("changed", "the document catalog (/Root) was replaced")
        if not equal(after.trailer.get("Info"), before.trailer.get("Info")):
            self.problem("changed", "the document information (/Info) was replaced")
        new: list[int] = []
        changed: list[int] = []
        for n, e in self.full.sections[self.index].entries.items():
            if n <= 0:
                continue
            used = before.in_use(n)
            if e.kind not in (1, 2):
                if used:
                    self.problem("changed", f"object {n} was deleted")
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
                    "changed",
                    f"object {n} was rewritten as generation {cur_entry.gen} (it was "
                    f"{old_entry.gen}): references to it now name a missing object",
                )
                continue
            old, cur = before.get(n), after.get(n)
            if not equal(old, cur):
                text = self._change(n, old, cur, new_set)
                if text:
                    self.problem("changed", text)
        self._shadow(new)
        for page, widgets in self._placed.items():
            self._appearance(page, widgets)
        if not self.seals:
            self.problem("not_seal", "it adds no signed signature field: not a seal")

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
            self.problem(
                "shadow",
                f"object {n} was referred to but undefined in an earlier revision, and is "
                "defined here (shadow attack)",
            )

    def _signature_field(self, n: int, obj: dict[str, PdfObject], new: set[int]) -> None:
        value = obj.get("V")
        sig = self.after.get(value.num, value.gen) if isinstance(value, Ref) else None
        name = decode_text(obj.get("T")) or f"object {n}"
        if not (
            isinstance(value, Ref) and value.num in new and isinstance(sig, dict)
            and "ByteRange" in sig and "Contents" in sig
        ):
            self.problem("not_seal", f"signature field {n} was added without a new signature")
            return
        if "Parent" in obj or "Kids" in obj:
            self.problem("not_seal", f"seal field {n} is part of a field hierarchy")
            return
        br = sig.get("ByteRange")
        ends = (
            isinstance(br, list) and len(br) == 4 and all(_is_int(v) for v in br)
            and br[2] + br[3] == self.end
        )
        if not ends:
            self.problem(
                "not_seal",
                f"the signature of seal field '{name}' does not end where this revision "
                f"ends (byte {self.end})",
            )
            return
        self._widgets[n] = obj
        self.seals.append(_NewSeal(name, value))

    def _change(self, n: int, old: PdfObject, cur: PdfObject, new: set[int]) -> str | None:
        before, after = self.before, self.after
        if not (isinstance(old, dict) and isinstance(cur, dict)):
            what = "stream" if isinstance(old, Stream) else type(old).__name__
            return f"object {n} ({what}) was changed"
        diff = _diff(old, cur)
        kind = old.get("Type")
        shown = sorted(diff)
        changes = ", ".join(str(k)[:64] for k in shown[:10]) + (
            f" and {len(shown) - 10} more" if len(shown) > 10 else "")
        root = before.trailer.get("Root")
        if kind == "Catalog" or (isinstance(root, Ref) and root.num == n):
            if diff <= {"AcroForm"} and self._acroform(
                before.resolve_dict(old.get("AcroForm")), after.resolve_dict(cur.get("AcroForm"))
            ):
                return None
            return f"the document catalog was changed ({changes})"
        if "Fields" in old or "Fields" in cur:
            return None if self._acroform(old, cur) else f"the form (object {n}) was changed"
        if self._is_page(n, old):
            if diff <= {"Annots"}:
                added = self._appended(
                    before.resolve(old.get("Annots")) or [], after.resolve(cur.get("Annots")) or []
                )
                if added is not None:
                    self._placed.setdefault(n, []).extend(added)
                    return None
            return f"page object {n} was changed ({changes})"
        if old.get("FT") == "Sig" and "V" not in old and diff <= {"V", "AP"}:
            self._signature_field(n, cur, new)
            page = old.get("P")
            if n in self._widgets:
                if isinstance(page, Ref) and self._is_page(page.num, before.get(page.num)):
                    self._placed.setdefault(page.num, []).append(n)
                else:
                    self.problem("appearance", f"the page of signature field {n} is unknown")
            return None
        label = f" ({brief(kind)})" if isinstance(kind, str) else ""
        return f"object {n}{label} was changed ({changes})"

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
        return _is_int(cur.get("SigFlags", 0)) and appended is not None

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
            self.problem("appearance", f"page object {page_num} has no usable /MediaBox")
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
                self.problem("appearance", f"seal '{name}' has no usable /Rect")
                continue
            for text in placement_problems(visible, rect, earlier):
                self.problem("appearance", f"seal '{name}': {text}")
            earlier.append(rect)
            problem = self._form(after.resolve(after.resolve_dict(w.get("AP")).get("N")))
            if problem:
                self.problem("appearance", f"seal '{name}': {problem}")

    def _form(self, form: PdfObject) -> str | None:
        if not isinstance(form, Stream) or form.dict.get("Subtype") != "Form":
            return "its appearance (/AP /N) is not a form XObject"
        if box_of(self.after.resolve(form.dict.get("BBox"))) is None:
            return "its appearance has no usable /BBox"
        matrix = self.after.resolve(form.dict.get("Matrix"))
        if matrix is not None:
            if not (
                isinstance(matrix, list) and len(matrix) == 6
                and all(isinstance(v, int | float) and not isinstance(v, bool)
                        and math.isfinite(v) for v in matrix)
                and abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]) > 1e-9
            ):
                return "its appearance has an unusable /Matrix"
        return None


def _diff(old: dict[str, PdfObject], cur: dict[str, PdfObject]) -> set[str]:
    """The keys whose values differ, a key with a null value and an absent key included."""
    return {
        k for k in old.keys() | cur.keys()
        if (k in old) != (k in cur) or not equal(old[k], cur[k])
    }


class _Later:
    """The revisions after the signed ones, each checked once (cached)."""

    def __init__(self, full: PdfFile, inv: _Inventory) -> None:
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
                self._redraw.append(_Problem("unreadable", f"the form cannot be read: {exc}"))
            else:
                if flag is not False and flag is not None:
                    self._redraw.append(_Problem(
                        "redraw",
                        "the form asks viewers to redraw its fields (/NeedAppearances "
                        f"{flag!r}): they show the fields' values drawn anew, and no seal in "
                        "poppler",
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
                            "shadow",
                            f"the sealed revision defines object {n}, which the document "
                            "referred to before without defining it (what it showed changed)",
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
            rev.problem(
                "bytes",
                "the revision before it does not end with 'startxref' naming its "
                f"cross-reference section and '%%EOF' (byte {full.sections[index + 1].end})",
            )
        elif end is None:
            rev.problem(
                "bytes",
                f"its cross-reference section (byte {full.sections[index].offset}) is not "
                "followed by 'startxref' naming it and '%%EOF'",
            )
        else:
            _, tiling = full.tile(index, start)
            if tiling:
                rev.problem("bytes", tiling)
            try:
                rev.check()
            except PdfError as exc:
                rev.problem("unreadable", f"it cannot be read: {exc}")
        self._done[index] = rev
        return rev


def _modifications(
    data: bytes, full: PdfFile, signed: _Signed, later: _Later,
    verdicts: Mapping[tuple[int, int], tuple[str, bool]],
) -> Step:
    name = "pdf.modifications"
    problems: list[_Problem] = []
    seals: list[str] = []
    tail = data[full.end :]
    if tail and (len(tail) > _MAX_TAIL or not all(ch in _WS for ch in tail)):
        # whitespace too: enough of it pushes 'startxref' out of the last 1 024 bytes,
        # where viewers look for it, and they rebuild the xref from the bytes
        problems.append(_Problem("bytes", f"{len(tail)} bytes after the end of the last revision"))
    if signed.index == 0 and full.end > signed.end:
        extra = data[signed.end : full.end]
        if not all(ch in _WS for ch in extra):
            problems.append(_Problem(
                "bytes", f"{len(extra)} bytes after the sealed revision that are no revision"
            ))
    problems += later.own(signed.index) + later.redraw()
    for idx in range(signed.index - 1, -1, -1):
        rev = later.revision(idx)
        number = rev.number
        if full.sections[idx].offset < signed.end:
            problems.append(_Problem(
                "bytes", f"revision {number} is written inside the sealed bytes"
            ))
            break
        problems += [_Problem(p.kind, f"revision {number}: {p.text}") for p in rev.problems]
        for seal in rev.seals:
            seals.append(f"revision {number} adds seal field '{seal.name}'")
            label, ok = verdicts.get((seal.ref.num, seal.ref.gen), (seal.name, False))
            if not ok:
                problems.append(_Problem(
                    "later_seal",
                    f"revision {number}: the seal '{label}' it adds does not verify",
                ))
    later_count = signed.index
    data_out: dict[str, Any] = {"later_revisions": later_count, "revision_end": signed.end}
    if problems:
        return _step(
            name,
            "integrity",
            StepStatus.INVALID,
            "the document was changed after this seal: "
            + "; ".join(p.text for p in problems[:10])
            + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""),
            problems=[p.text for p in problems[:50]],
            kinds=sorted({p.kind for p in problems}),
            **data_out,
        )
    if later_count:
        return _step(
            name,
            "integrity",
            StepStatus.VALID,
            "only further seals were added after this one, each verified: " + "; ".join(seals),
            seals=seals,
            **data_out,
        )
    note = f" ({len(tail)} bytes of trailing whitespace ignored)" if tail else ""
    return _step(
        name, "integrity", StepStatus.VALID, "nothing was changed after this seal" + note,
        **data_out,
    )


# ------------------------------------------------------------------------------ verify


@dataclass
class _Draft:
    """A signature's report before its ``pdf.modifications`` step is known."""

    cand: _Candidate
    name: str
    steps: list[Step]
    signed: _Signed | None
    report: VerificationReport | None
    parsed: SealSignature | None
    digest: bytes | None


def _foreign(cand: _Candidate, name: str) -> _Draft:
    subfilter = cand.sig.get("SubFilter")
    what = f"/SubFilter {brief(subfilter)}" if isinstance(subfilter, Name) else "no /SubFilter"
    step = _step(
        "pdf.format",
        "format",
        StepStatus.INVALID,
        f"field '{name}' holds a {what} signature, not a GB/T 38540 seal signature: this "
        "service cannot verify it, so the file cannot be accepted as sealed",
        subfilter=str(subfilter)[:200] if subfilter is not None else None,
    )
    return _Draft(cand, name, [step], None, None, None, None)


class _Hasher:
    """SM3 over prefixes of one file, the work shared between signatures: seals are checked
    in the order their revisions end, and each one's revision digest (SM3 of the file up to
    its end) is the state the next seal's prefix continues from. A file of 20 MB with seven
    seals hashes about 20 MB, not 140 MB (it used to be refused as ``pdf_hostile``)."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.state: Any = hashlib.new("sm3") if _SHARED_SM3 else None

    def prefix(self, end: int) -> Callable[[bytes | memoryview], bytes]:
        """``x -> SM3(data[:end] ‖ x)``."""
        if self.state is None:
            plain = sm3_prefixed(bytes(self.data[:end]))
            return lambda more: plain(bytes(more))
        if end < self.pos:
            self.state, self.pos = hashlib.new("sm3"), 0
        self.state.update(self.data[self.pos : end])
        self.pos = end
        state = self.state.copy()

        def digest(more: bytes | memoryview) -> bytes:
            h = state.copy()
            h.update(more)
            return bytes(h.digest())

        return digest

    def revision(self, start: int, end: int) -> bytes:
        """SM3 of ``data[:end]``, continuing the last prefix (at ``start``); the next prefix
        continues from it."""
        if self.state is None or start != self.pos:
            return sm2.sm3(bytes(self.data[:end]))
        self.state.update(self.data[start:end])
        self.pos = end
        return bytes(self.state.copy().digest())


def _hash_cost(cands: Sequence[_Candidate], size: int) -> int:
    """The bytes :class:`_Hasher` hashes for these signatures (in the order checked)."""
    pos = total = 0
    for cand in cands:
        br = cand.sig.get("ByteRange")
        if not (isinstance(br, list) and len(br) == 4 and all(_is_int(v) for v in br)):
            continue
        b, c, end = int(br[1]), int(br[2]), min(max(0, cand.range_end()), size)
        b, c = min(max(b, 0), end), min(max(c, 0), end)
        total += (b if b < pos else b - pos) + (end - c) + (end - b)
        pos = end
    return total


def _draft(
    data: bytes, full: PdfFile, cand: _Candidate, extents: list[int], *,
    at: datetime | None, anchors: Sequence[X509Certificate], lenient_ca: bool,
    hasher: _Hasher | None = None,
) -> _Draft:
    sig = cand.sig
    name = cand.label()
    if sig.get("SubFilter") != SUBFILTER:
        return _foreign(cand, name)
    contents = sig.get("Contents")
    der = _der_of(contents) if isinstance(contents, bytes) else b""
    parsed, report = _read_signature(der, at=at, anchors=anchors, lenient_ca=lenient_ca)
    step, signed = _byte_range(data, cand, parsed, full, extents)
    if signed is not None:
        name = _full_name(signed.view, cand) or name
    steps: list[Step] = [step]
    digest_holder: list[bytes] = []

    def digest() -> Step:
        if signed is None:
            return _step("pdf.digest", "integrity", StepStatus.SKIPPED, "no valid byte range")
        if parsed is None:
            return _step(
                "pdf.digest", "integrity", StepStatus.SKIPPED, "the signature cannot be read"
            )
        _, b, c, e = *signed.ranges[:3], signed.end
        shared = hasher or _Hasher(data)
        actual = shared.prefix(b)(memoryview(data)[c:e])
        digest_holder.append(shared.revision(b, e))
        facts = {"data_hash": parsed.data_hash.hex(), "sm3": actual.hex()}
        if actual == parsed.data_hash:
            return _step(
                "pdf.digest", "integrity", StepStatus.VALID,
                "the signed bytes are exactly what was sealed (SM3 matches)", **facts,
            )
        return _step(
            "pdf.digest", "integrity", StepStatus.INVALID,
            "the signed bytes differ from what was sealed (SM3 does not match)", **facts,
        )

    for s in report.steps:
        if s.name == "signature.data_hash":
            steps.append(_guard("pdf.digest", "integrity", digest))
        else:
            steps.append(s)
    if not any(s.name == "pdf.digest" for s in steps):
        steps.append(_guard("pdf.digest", "integrity", digest))
    return _Draft(cand, name, steps, signed, report, parsed,
                  digest_holder[0] if digest_holder else None)


def _read_signature(
    der: bytes, *, at: datetime | None, anchors: Sequence[X509Certificate], lenient_ca: bool
) -> tuple[SealSignature | None, VerificationReport]:
    """The signature in ``/Contents`` and the report of :func:`verify_signature` on it; bytes
    that cannot be decoded give one INVALID ``signature.structure`` step, whatever the
    decoder raises (these bytes are the attacker's)."""
    try:
        parsed = parse_signature(der)
    except SealError:
        parsed = None
    except Exception as exc:  # a decoder's own exception on hostile bytes
        step = _step("signature.structure", "format", StepStatus.INVALID,
                     f"cannot be read: {exc}", error="ses_bad_der")
        return None, VerificationReport("signature", (step,))
    return parsed, verify_signature(
        parsed if parsed is not None else der, at=at, anchors=anchors, lenient_ca=lenient_ca
    )


def _full_name(view: View, cand: _Candidate) -> str | None:
    for _, f, full_name in view.fields():
        if f.get("V") == cand.ref and full_name:
            return full_name
    return None


def _finish(draft: _Draft, modifications: Step) -> PdfSignatureReport:
    sig = draft.cand.sig
    br = sig.get("ByteRange")
    byte_range = tuple(int(v) for v in br if _is_int(v)) if isinstance(br, list) else ()
    subject: dict[str, Any] = {"field": draft.name, "byte_range": list(byte_range)}
    steps = [*draft.steps]
    if draft.report is not None:
        steps.append(modifications)
        subject.update(draft.report.subject)
        subject["field"] = draft.name
    report = draft.report
    first = draft.parsed
    return PdfSignatureReport(
        field=draft.name,
        revision=len(draft.signed.view.sections) if draft.signed else 0,
        byte_range=byte_range,
        signer=str(report.subject["signer"]) if report and report.subject.get("signer") else None,
        signing_time=first.signing_time if first else None,
        seal_name=first.seal.property.name if first else None,
        steps=tuple(steps),
        subject=subject,
        revision_digest=draft.digest,
    )


_SIGNATURE_WORK = 3000
"""Work units (about a microsecond each) to verify one seal signature (SM2, paths)."""


def _check_budget(full: PdfFile, cands: Iterable[_Candidate]) -> None:
    """Hashing and verifying every signature fits in what is left of the budget."""
    cands = list(cands)
    hashed = _hash_cost(cands, len(full.data))
    if hashed > full.limits.max_hashed:
        raise PdfHostile(
            f"verifying every signature would hash {hashed} bytes; at most "
            f"{full.limits.max_hashed} are hashed per file"
        )
    full.budget.spend(hashed // 256 + _SIGNATURE_WORK * len(cands))


def verify_pdf(
    pdf_bytes: bytes,
    *,
    at: datetime | None = None,
    anchors: Sequence[X509Certificate] = (),
    lenient_ca: bool = False,
    limits: PdfLimits = DEFAULT_LIMITS,
) -> PdfReport:
    """Verify every signature of a PDF (see the module docstring)."""
    data = bytes(pdf_bytes)
    full = PdfFile(data, limits)
    inv = _inventory(full)
    kinds = sorted({s.kind for s in full.sections})
    structure = _step(
        "pdf.structure",
        "format",
        StepStatus.VALID,
        f"a PDF {full.version} of {len(data)} bytes with {len(full.sections)} "
        f"cross-reference section(s) ({', '.join(kinds)})",
        size=len(data),
        sections=len(full.sections),
    )
    cands = sorted(inv.candidates.values(), key=lambda c: (c.range_end(), c.section))
    _check_budget(full, cands)
    extents = full.extents
    hasher = _Hasher(data)
    drafts = [
        _draft(data, full, c, extents, at=at, anchors=anchors, lenient_ca=lenient_ca,
               hasher=hasher)
        for c in cands
    ]
    later = _Later(full, inv)
    verdicts: dict[tuple[int, int], tuple[str, bool]] = {}
    finished: dict[int, PdfSignatureReport] = {}
    # the newest seal first: an earlier seal's verdict depends on the later ones'
    for i in sorted(range(len(drafts)), key=lambda i: -cands[i].range_end()):
        draft = drafts[i]
        signed = draft.signed
        if signed is None:
            modifications = _step(
                "pdf.modifications", "integrity", StepStatus.SKIPPED,
                "cannot tell what changed: the byte range is not valid",
            )
        else:
            modifications = _guard(
                "pdf.modifications", "integrity",
                functools.partial(_modifications, data, full, signed, later, verdicts),
            )
        report = _finish(draft, modifications)
        finished[i] = report
        if draft.cand.num is not None:
            key = (draft.cand.num, draft.cand.gen)
            label, ok = verdicts.get(key, (report.field, True))
            verdicts[key] = (label, ok and report.ok)
    signatures = tuple(finished[i] for i in range(len(drafts)))
    seals = [s for s in signatures if s.steps[0].name != "pdf.format"]
    if seals:
        count = _step(
            "pdf.signatures",
            "format",
            StepStatus.VALID,
            f"{len(seals)} seal signature(s): " + ", ".join(s.field for s in seals),
            fields=[s.field for s in seals],
        )
    else:
        count = _step(
            "pdf.signatures", "format", StepStatus.INVALID,
            "the PDF carries no GB/T 38540 seal signature",
        )
    return PdfReport(
        size=len(data),
        revisions=len(full.sections),
        steps=(structure, count),
        signatures=signatures,
        data=data,
        file=full,
    )
