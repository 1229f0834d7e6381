"""The model of an OFD package as far as verifying seals needs it: ``OFD.xml`` → each
``DocBody`` → ``DocRoot`` (``Document.xml``: pages, their boxes, and every file the document
refers to) → ``Signatures`` (``Signatures.xml``) → each ``Signature.xml`` (references,
stamp annotations, the seal file, the signed value).

Locations (``ST_Loc``) are absolute (``/Doc_0/…``, from the package root) or relative to
the folder of the file that holds them; ``..`` is followed but never above the root
(``ofd_bad_path``). A location names the package's file of that name, or the one file whose
name equals it after case folding (:meth:`seals.ofd.package.OfdPackage.find`).

The **document's files** are every file reachable from ``OFD.xml`` through the document
structure, without the signatures: the cover image, ``DocRoot``; in ``Document.xml`` the
templates, pages, ``PublicRes``, ``DocumentRes``, ``Annotations``, ``Attachments``,
``CustomTags``, ``Extensions``; each page's ``PageRes``; each resource file's media, fonts
and colour profiles (relative to its ``Res/@BaseLoc`` folder); the page annotation files;
the attachments and custom tag files; version files. The structural ones (OFD.xml, documents,
pages, templates, resources, annotation lists) are parsed; the others are leaves.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from seals.ofd.errors import OfdHostile, OfdMalformed
from seals.ofd.names import ENTRY, PATH_ELEMENTS
from seals.ofd.package import DEFAULT_LIMITS, OfdLimits, OfdPackage
from seals.ofd.xml import ElementBudget, parse_xml

Box = tuple[float, float, float, float]
"""x, y, width, height in millimetres."""

_Refer = Callable[..., "str | None"]
"""``refer(location, base folder, referring file, parse?, *other bases)``: the file named,
or None."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f\\:]")


def folder(path: str) -> str:
    """The folder of a package path (``""`` at the root)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


def resolve(loc: str, base: str) -> str:
    """The package path of location ``loc`` written in a file of folder ``base``."""
    text = loc.strip()
    if not text or _CONTROL.search(text):
        raise OfdMalformed(f"location {text[:80]!r} is empty or not a plain path",
                           code="ofd_bad_path")
    parts: list[str] = [] if text.startswith("/") else [p for p in base.split("/") if p]
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise OfdMalformed(f"location {text[:80]!r} leads out of the package",
                                   code="ofd_bad_path")
            parts.pop()
        else:
            parts.append(part)
    if not parts:
        raise OfdMalformed(f"location {text[:80]!r} names no file", code="ofd_bad_path")
    return "/".join(parts)


def box(text: str | None, what: str) -> Box | None:
    """Four numbers ``x y w h`` (None when absent)."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split())
    except ValueError:
        values = ()
    if len(values) != 4 or not all(abs(v) < 1e6 for v in values):
        raise OfdMalformed(f"{what}: {text[:80]!r} is not four numbers", code="ofd_bad_structure")
    return (values[0], values[1], values[2], values[3])


def _local(el: etree._Element) -> str | None:
    """The local name of an element, **whatever its namespace** (None for comments and
    processing instructions). Readers that match local names only (some producers write
    OFD without its namespace) must not see a page or a resource that this model misses:
    the model reads a superset of what they read."""
    tag = el.tag
    if not isinstance(tag, str):
        return None
    return tag.rsplit("}", 1)[-1]


def _children(el: etree._Element, local: str) -> Iterator[etree._Element]:
    return (c for c in el if _local(c) == local)


def _child(el: etree._Element, local: str) -> etree._Element | None:
    """The one child ``local`` of ``el`` (None when absent). Every element read this way is
    single in GB/T 33190; two are refused (``ofd_bad_structure``): one reader would take
    the first, another the last."""
    found = list(itertools.islice(_children(el, local), 2))
    if len(found) > 1:
        raise OfdMalformed(f"two {local} elements in one {_local(el)}",
                           code="ofd_bad_structure")
    return found[0] if found else None


def _text(el: etree._Element | None) -> str | None:
    return None if el is None else (el.text or "").strip()


@dataclass(frozen=True)
class Reference:
    """One ``SignedInfo/References/Reference``."""

    file_ref: str
    """As written."""
    path: str | None
    """The package path it names (None: not a plain path)."""
    check_value: bytes | None
    """The decoded ``CheckValue`` (None: not base64)."""


@dataclass(frozen=True)
class StampAnnot:
    id: str
    page_ref: str
    boundary: Box | None


@dataclass(frozen=True)
class Signature:
    """One signature listed in ``Signatures.xml`` and its ``Signature.xml``."""

    id: str
    type: str
    path: str
    """The package path of its ``Signature.xml``."""
    xml: bytes = field(repr=False)
    check_method: str | None
    references: tuple[Reference, ...]
    stamps: tuple[StampAnnot, ...]
    signed_value: str
    """The package path of its ``SignedValue`` file."""
    seal_file: str | None
    """``SignedInfo/Seal/BaseLoc``: the seal as a file of its own, when written."""
    signature_method: str | None
    signature_time: str | None

    @property
    def own_files(self) -> tuple[str, ...]:
        return (self.path, self.signed_value) + ((self.seal_file,) if self.seal_file else ())


@dataclass(frozen=True)
class Page:
    id: str
    path: str
    box: Box | None


@dataclass
class Document:
    """One ``DocBody``: its document, pages, files and signatures."""

    root: str
    """The package path of its ``Document.xml``."""
    pages: dict[str, Page]
    """By page ID."""
    files: dict[str, str]
    """Every file the document refers to (see the module docstring): package path → the file
    that refers to it."""
    missing: list[tuple[str, str]]
    """Locations the document refers to that name no file: (location, referring file)."""
    signatures_path: str | None
    signatures: list[Signature]
    attachments: list[tuple[str, str | None]] = field(default_factory=list)
    """Each ``Attachments/Attachment`` of its attachment files: its ``Name`` and the package
    path of its ``FileLoc`` (None when the package lacks it)."""


@dataclass
class OfdDocument:
    """The whole package as read."""

    package: OfdPackage
    documents: list[Document]


# the files whose references are followed, by the element that points at them
_PARSED = frozenset(
    {"DocRoot", "PublicRes", "DocumentRes", "PageRes", "Annotations", "Attachments",
     "CustomTags", "Extensions"}
)


class _Reader:
    def __init__(self, package: OfdPackage, limits: OfdLimits) -> None:
        self.package = package
        self.limits = limits
        self.budget = ElementBudget(limits)
        self.parsed: dict[str, etree._Element] = {}

    def name(self, path: str, referrer: str) -> str:
        found = self.package.find(path)
        if found is None:
            raise OfdMalformed(f"{referrer} refers to {path[:120]!r}, which the package lacks",
                               code="ofd_missing_file")
        return found

    def xml(self, path: str) -> etree._Element:
        if path not in self.parsed:
            self.parsed[path] = parse_xml(
                self.package.files[path], path, self.limits, self.budget
            )
        return self.parsed[path]


def _root_named(root: etree._Element, local: str, path: str) -> None:
    if _local(root) != local:
        raise OfdMalformed(f"{path}: the root element is not ofd:{local}",
                           code="ofd_bad_structure")


def _document(reader: _Reader, body: etree._Element, index: int) -> Document:
    doc_loc = _text(_child(body, "DocRoot"))
    if not doc_loc:
        raise OfdMalformed(f"{ENTRY}: DocBody {index + 1} has no DocRoot",
                           code="ofd_bad_structure")
    files: dict[str, str] = {}
    missing: list[tuple[str, str]] = []
    missing_seen: set[str] = set()
    todo: list[tuple[str, str]] = []  # (path, referrer) of files to parse
    queued: set[str] = set()

    def refer(loc: str, base: str, referrer: str, parse: bool, *others: str) -> str | None:
        path = resolve(loc, base)
        found = reader.package.find(path)
        if found is None:
            if path not in missing_seen:
                missing_seen.add(path)
                missing.append((path, referrer))
        else:
            files.setdefault(found, referrer)
            if parse and found not in queued:  # even when first met as a leaf
                queued.add(found)
                todo.append((found, referrer))
        # the location as other readers may take it (from the package root; a resource
        # from its own file's folder) is part of the document too, when such a file exists
        for other in ("", *others) if not loc.strip().startswith("/") else ():
            try:
                alt = reader.package.find(resolve(loc, other))
            except OfdMalformed:
                continue
            if alt is not None and alt not in files:
                files[alt] = referrer
        return found

    root = reader.name(resolve(doc_loc, ""), ENTRY)
    files[root] = ENTRY
    versions = _child(body, "Versions")
    if versions is not None:
        for v in _children(versions, "Version"):
            refer(v.get("BaseLoc", ""), "", ENTRY, False)
    doc = reader.xml(root)
    _root_named(doc, "Document", root)
    base = folder(root)
    common = _child(doc, "CommonData")
    default_box: Box | None = None
    if common is not None:
        area = _child(common, "PageArea")
        default_box = box(_text(_child(area, "PhysicalBox")) if area is not None else None,
                          f"{root}: PhysicalBox")
    pages: dict[str, Page] = {}
    pages_el = _child(doc, "Pages")
    page_locs = [] if pages_el is None else list(_children(pages_el, "Page"))
    if len(page_locs) > reader.limits.max_pages:
        raise OfdHostile(f"{root}: {len(page_locs)} pages; at most {reader.limits.max_pages}",
                         code="ofd_hostile")
    for p in page_locs:
        pid = p.get("ID", "")
        loc = p.get("BaseLoc")
        if not pid or pid in pages or loc is None:
            raise OfdMalformed(f"{root}: a page without an ID, BaseLoc, or with an ID twice",
                               code="ofd_bad_structure")
        path = refer(loc, base, root, True)
        if path is None:
            continue
        content = reader.xml(path)
        _root_named(content, "Page", path)
        area = _child(content, "Area")
        own = box(_text(_child(area, "PhysicalBox")) if area is not None else None,
                  f"{path}: PhysicalBox")
        pages[pid] = Page(pid, path, own or default_box)
    # every other reference of the document, followed through the structural files
    _follow(reader, ENTRY, body, refer)
    _follow(reader, root, doc, refer)
    while todo:
        path, _ = todo.pop()
        _follow(reader, path, reader.xml(path), refer)
    signatures_loc = _text(_child(body, "Signatures"))
    signatures_path = (
        reader.name(resolve(signatures_loc, ""), ENTRY) if signatures_loc else None
    )
    signatures = _signatures(reader, signatures_path) if signatures_path else []
    attachments: list[tuple[str, str | None]] = []
    for path in files:  # the document's attachment lists (parsed when followed)
        listed = reader.parsed.get(path)
        if listed is None or _local(listed) != "Attachments":
            continue
        for attachment in _children(listed, "Attachment"):
            loc = _text(_child(attachment, "FileLoc"))
            try:
                found = reader.package.find(resolve(loc, folder(path))) if loc else None
            except OfdMalformed:  # a location no reader resolves: no file
                found = None
            attachments.append((attachment.get("Name", ""), found))
    return Document(root, pages, files, missing, signatures_path, signatures, attachments)


def _follow(reader: _Reader, path: str, root: etree._Element, refer: _Refer) -> None:
    """Every location ``root`` (an element of the file ``path``) holds, given to ``refer``:
    the elements of :data:`~seals.ofd.names.PATH_ELEMENTS` but ``DocRoot`` and
    ``Signatures``, every ``BaseLoc`` attribute but a ``Res``'s (a folder), colour-space
    profiles."""
    base = folder(path)
    res_base = base
    if _local(root) == "Res" and root.get("BaseLoc"):
        res_base = resolve(root.get("BaseLoc", ""), base)
    for el in root.iter():
        local = _local(el)
        if local is None:
            continue
        if local in PATH_ELEMENTS and local not in ("DocRoot", "Signatures"):
            text = _text(el)
            if text:
                leaf = local in ("MediaFile", "FontFile", "Profile")
                parse = local in _PARSED or (local == "FileLoc" and _local(root) == "Annotations")
                refer(text, res_base if leaf else base, path, parse, base)
        loc = el.get("BaseLoc")
        if loc is not None and local != "Res" and el is not root:
            refer(loc, base, path, local in ("Page", "TemplatePage"))
        profile = el.get("Profile")
        if profile is not None and local == "ColorSpace":
            refer(profile, res_base, path, False, base)


def _signatures(reader: _Reader, path: str) -> list[Signature]:
    root = reader.xml(path)
    _root_named(root, "Signatures", path)
    out: list[Signature] = []
    seen: set[str] = set()
    references = stamps = 0
    listed = list(_children(root, "Signature"))
    if len(listed) > reader.limits.max_signatures:
        raise OfdMalformed(f"{path}: {len(listed)} signatures; at most "
                           f"{reader.limits.max_signatures}", code="ofd_bad_structure")
    for el in listed:
        loc = el.get("BaseLoc")
        sid = el.get("ID", "")
        if loc is None or not sid:
            raise OfdMalformed(f"{path}: a signature without ID or BaseLoc",
                               code="ofd_bad_structure")
        sig_path = reader.name(resolve(loc, folder(path)), path)
        if sig_path in seen:
            raise OfdMalformed(f"{path}: {sig_path} is listed twice", code="ofd_bad_structure")
        seen.add(sig_path)
        sig = _signature(reader, sid, el.get("Type", "Seal"), sig_path)
        references += len(sig.references)
        stamps += len(sig.stamps)
        if stamps > reader.limits.max_stamps:
            raise OfdMalformed(f"{path}: the signatures hold more than "
                               f"{reader.limits.max_stamps} stamp annotations",
                               code="ofd_bad_structure")
        if references > reader.limits.max_references:
            raise OfdMalformed(f"{path}: the signatures hold more than "
                               f"{reader.limits.max_references} references",
                               code="ofd_bad_structure")
        out.append(sig)
    return out


_SIGNATURE_SCHEMA: dict[str, frozenset[str]] = {
    "Signature": frozenset({"SignedInfo", "SignedValue"}),
    "SignedInfo": frozenset(
        {"Provider", "SignatureMethod", "SignatureDateTime", "Parameters", "References",
         "StampAnnot", "Seal"}
    ),
    "Parameters": frozenset({"Parameter"}),  # OFD 2.0 (GM/T 0099 B.2): name, type, text
    "References": frozenset({"Reference"}),
    "Reference": frozenset({"CheckValue"}),
    "Seal": frozenset({"BaseLoc"}),
}
"""The elements a ``Signature.xml`` holds (GB/T 33190-2016 §18.2; ``Parameters`` of GM/T
0099), by parent; any other
element is refused. A signature file is a later signer's own file, protected by no earlier
seal: content in it that the model ignores (a page's layers and text) is what a reader
that finds files by name shows (easyofd takes the first extracted path that *contains* a
location: a ``Signature.xml`` named ``Doc_0-Pages-Page_0-Content.xml`` is page 1 there)."""


def _signature_schema(root: etree._Element, path: str) -> None:
    checked: set[tuple[str, str]] = set()  # (parent tag, tag) pairs found allowed
    for el in root.iter(etree.Element):  # elements only: comments and PIs are allowed
        parent = el.getparent()
        if parent is None:
            continue
        pair = (parent.tag, el.tag)
        if pair in checked:
            continue
        outer, name = _local(parent) or "", _local(el) or ""
        if name not in _SIGNATURE_SCHEMA.get(outer, frozenset()):
            raise OfdMalformed(f"{path}: {name[:40]} is no element of an ofd:{outer[:40]}",
                               code="ofd_bad_structure")
        checked.add(pair)


def _signature(reader: _Reader, sid: str, type_: str, path: str) -> Signature:
    root = reader.xml(path)
    _root_named(root, "Signature", path)
    _signature_schema(root, path)
    base = folder(path)
    info = _child(root, "SignedInfo")
    value_loc = _text(_child(root, "SignedValue"))
    if info is None or not value_loc:
        raise OfdMalformed(f"{path}: no SignedInfo or no SignedValue", code="ofd_bad_structure")
    refs_el = _child(info, "References")
    refs: list[Reference] = []
    for r in [] if refs_el is None else _children(refs_el, "Reference"):
        file_ref = r.get("FileRef", "")
        try:
            ref_path: str | None = resolve(file_ref, base)
        except OfdMalformed:
            ref_path = None
        try:
            value: bytes | None = base64.b64decode(_text(_child(r, "CheckValue")) or "",
                                                   validate=True)
        except (binascii.Error, ValueError):
            value = None
        refs.append(Reference(file_ref, ref_path, value))
    stamps = tuple(
        StampAnnot(s.get("ID", ""), s.get("PageRef", ""),
                   box(s.get("Boundary"), f"{path}: StampAnnot Boundary"))
        for s in _children(info, "StampAnnot")
    )
    seal_el = _child(info, "Seal")
    seal_loc = _text(_child(seal_el, "BaseLoc")) if seal_el is not None else None
    return Signature(
        id=sid,
        type=type_,
        path=path,
        xml=reader.package.files[path],
        check_method=refs_el.get("CheckMethod") if refs_el is not None else None,
        references=tuple(refs),
        stamps=stamps,
        signed_value=reader.name(resolve(value_loc, base), path),
        seal_file=reader.name(resolve(seal_loc, base), path) if seal_loc else None,
        signature_method=_text(_child(info, "SignatureMethod")),
        signature_time=_text(_child(info, "SignatureDateTime")),
    )


def read_document(package: OfdPackage, limits: OfdLimits = DEFAULT_LIMITS) -> OfdDocument:
    """The model of ``package`` (raises :class:`~seals.ofd.errors.OfdError` with a code)."""
    if package.find(ENTRY) != ENTRY:
        raise OfdMalformed(f"no {ENTRY} at the root: not an OFD package",
                           code="ofd_missing_file")
    reader = _Reader(package, limits)
    root = reader.xml(ENTRY)
    _root_named(root, "OFD", ENTRY)
    bodies = list(_children(root, "DocBody"))
    if not bodies:
        raise OfdMalformed(f"{ENTRY} has no DocBody", code="ofd_bad_structure")
    if len(bodies) > limits.max_documents:
        raise OfdHostile(f"{ENTRY}: {len(bodies)} documents; at most {limits.max_documents}",
                         code="ofd_hostile")
    documents = [_document(reader, b, i) for i, b in enumerate(bodies)]
    roots = [d.root for d in documents]
    lists = [d.signatures_path for d in documents if d.signatures_path]
    if len(set(roots)) != len(roots) or len(set(lists)) != len(lists):
        raise OfdMalformed(f"{ENTRY}: two documents share a Document.xml or a Signatures.xml",
                           code="ofd_bad_structure")
    return OfdDocument(package, documents)
