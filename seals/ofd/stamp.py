"""Stamping an existing OFD package with a GB/T 38540 seal: one more signature, earlier ones
left intact.

:func:`stamp_ofd` reads the package as verification does (:func:`~seals.ofd.package.
read_package`, :func:`~seals.ofd.document.read_document`: whatever verification refuses is
refused here, with the same code), then adds:

- ``<folder of Signatures.xml>/Sign_<n>/Signature.xml``: SM3 ``References`` of every file
  of the package (earlier signatures' files included, so they are protected too) but
  ``Signatures.xml`` and the new signature's own two files, and one ``StampAnnot`` on the
  chosen page (:func:`seals.ofd.write.signature_file`, as a certificate OFD is sealed);
- ``Sign_<n>/SignedValue.dat``: a DER ``SES_Signature`` v4 whose ``dataHash`` is SM3 of that
  ``Signature.xml`` and whose ``propertyInfo`` is its absolute path;
- the ``Signature`` in ``Signatures.xml`` (made, and named from ``OFD.xml``, when the package
  had no signature; ``MaxSignId`` raised).

No other file changes: every byte an earlier signature protects stays; the zip is written
anew, each unchanged entry copied as it was stored (not inflated and deflated again).
``OFD.xml`` changes only when it named no ``Signatures.xml``, that is when nothing is signed
yet.

Refused (``ofd_bad_input``): more than one document in the package (each ``DocBody`` needs
its own seal, or verification says the package is not sealed), a document that refers to a
missing file, a page without a physical box, a stamp that does not fit on its page, and —
when the document is already sealed — a stamp that breaks the appearance policy for several
seals (more than 10 % of its page, or overlapping another seal's stamp).

Before the result is handed out it is verified (:func:`~seals.ofd.verify.verify_ofd`, the
same clock for both): every step of every earlier signature that was VALID before must be
VALID after, and the new signature's own integrity steps, the package's ``ofd.files`` and
``ofd.signatures`` must be VALID. A package this code would seal into something verification
rejects is refused (``ofd_stamp_breaks``), never handed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from seals import sm2
from seals.ofd.document import Box, Document, folder, read_document
from seals.ofd.errors import OfdError
from seals.ofd.names import ENTRY
from seals.ofd.package import DEFAULT_LIMITS, OfdLimits, OfdPackage, fold, read_package
from seals.ofd.verify import MAX_LATER_SHARE, OfdReport, verify_ofd
from seals.ofd.write import signature_file, signing_time, stored_entries, zip_entries
from seals.ofd.xml import parse_xml
from seals.seal import sign_digest
from seals.ses import Seal
from seals.x509 import X509Certificate

__all__ = ["OfdInputError", "OfdStampSpec", "stamp_ofd", "stamp_ofd_spec"]

DEFAULT_MARGIN_MM = 15.0
"""Default distance of the stamp from the page's right and bottom edges (as for PDF)."""
MIN_WIDTH_MM = 1.0
_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_NEW_STEPS = ("ofd.references", "ofd.stamp", "ofd.modifications", "signature.data_hash")
"""Steps of the new signature that only this code decides (its seal and certificates are
the agency's own: their validity is judged by whoever verifies, against their trust)."""


class OfdInputError(OfdError):
    """The package cannot be sealed as asked (what verification reads is fine, but a
    document, a page or the place asked for does not allow a seal)."""

    code = "ofd_bad_input"


@dataclass(frozen=True)
class OfdStampSpec:
    """Where the seal shows (the same meaning as :class:`seals.pdf.StampSpec`'s fields)."""

    page: int | None = None
    """1-based page number in the document's page order; None: the last page."""
    x_mm: float | None = None
    """Left edge, mm from the page's left edge; None: ``DEFAULT_MARGIN_MM`` from the right
    (with ``y_mm`` None too: moved left in steps of the stamp's width and 5 mm while it
    would overlap another seal's stamp)."""
    y_mm: float | None = None
    """Bottom edge, mm from the page's **bottom** edge (as for PDF; OFD counts from the top,
    the ``Boundary`` written is converted); None: ``DEFAULT_MARGIN_MM``."""
    width_mm: float | None = None
    """Width of the stamp; None: the seal picture's own. The height keeps its proportions."""
    at: datetime | None = None
    """Signing time; None: now."""


def stamp_ofd(
    data: bytes,
    *,
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    page: int | None = None,
    x_mm: float | None = None,
    y_mm: float | None = None,
    width_mm: float | None = None,
    at: datetime | None = None,
    limits: OfdLimits = DEFAULT_LIMITS,
) -> bytes:
    """Seal the OFD ``data`` (see the module docstring); the keyword arguments are
    :class:`OfdStampSpec`'s fields."""
    return stamp_ofd_spec(
        data, OfdStampSpec(page, x_mm, y_mm, width_mm, at), seal=seal, signer=signer,
        signer_certificate=signer_certificate, limits=limits,
    )


def stamp_ofd_spec(
    data: bytes,
    spec: OfdStampSpec,
    *,
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    limits: OfdLimits = DEFAULT_LIMITS,
) -> bytes:
    """Seal ``data`` as ``spec`` says. Raises :class:`~seals.ofd.errors.OfdError` (the
    package, with its code) or :class:`~seals.errors.SealInputError` (the seal cannot sign
    at that time)."""
    data = bytes(data)
    package = read_package(data, limits)
    model = read_document(package, limits)
    if len(model.documents) != 1:
        raise OfdInputError(
            f"the package holds {len(model.documents)} documents; only a package of one "
            "document can be sealed here (each document needs a seal of its own)"
        )
    doc = model.documents[0]
    if doc.missing:
        path, referrer = doc.missing[0]
        raise OfdInputError(
            f"{referrer} refers to {path[:120]!r}, which the package lacks: a document with "
            "a missing file is not sealed (a later writer could supply it)"
        )
    when = signing_time(spec.at)
    page_id, boundary = _place(doc, spec, seal)

    files: dict[str, bytes] = dict(package.files)
    signatures_path = doc.signatures_path
    if signatures_path is None:
        signatures_path = _free_name(package, _ascii_folder(folder(doc.root)) + "Signs",
                                     "Signatures.xml")
        files[ENTRY] = _with_signatures(files[ENTRY], signatures_path, package, limits)
    sign_dir = _free_folder(package, _ascii_folder(folder(signatures_path)) + "Sign_")
    signature_path = f"{sign_dir}/Signature.xml"
    value_path = f"{sign_dir}/SignedValue.dat"
    protected = {p: b for p, b in files.items() if p != signatures_path}
    signature_xml = signature_file(
        protected, page_id=page_id, boundary=boundary, when=when, value_path=value_path,
    )
    made = sign_digest(seal, signer, signer_certificate, sm2.sm3(signature_xml),
                       f"/{signature_path}", at=when)
    files[signatures_path] = _listed(
        package.files.get(signatures_path), signature_path, package, limits
    )
    files[signature_path] = signature_xml
    files[value_path] = made.der
    kept = stored_entries(data, package.files)
    sealed = zip_entries({
        path: kept[path] if path in kept and content is package.files.get(path) else content
        for path, content in files.items()
    })
    _check(data if doc.signatures else None, sealed, signature_path, when, limits)
    return sealed


# ----------------------------------------------------------------------------- the place


def _place(doc: Document, spec: OfdStampSpec, seal: Seal) -> tuple[str, Box]:
    """The page ID and ``Boundary`` (mm from the page box's top left) of the new stamp."""
    pages = list(doc.pages.values())
    if not pages:
        raise OfdInputError(f"{doc.root} has no pages")
    index = len(pages) if spec.page is None else spec.page
    if not 1 <= index <= len(pages):
        raise OfdInputError(f"page {spec.page} does not exist (the document has {len(pages)} "
                            "pages)")
    page = pages[index - 1]
    if page.box is None or page.box[2] <= 0 or page.box[3] <= 0:
        raise OfdInputError(f"page {index} has no usable physical box")
    px, py, pw, ph = page.box
    picture = seal.picture
    width = spec.width_mm if spec.width_mm is not None else float(picture.width_mm or 40)
    if picture.width_mm > 0 and picture.height_mm > 0:
        height = width * picture.height_mm / picture.width_mm
    else:
        height = width
    x = spec.x_mm if spec.x_mm is not None else max(0.0, pw - width - DEFAULT_MARGIN_MM)
    bottom = (spec.y_mm if spec.y_mm is not None
              else min(DEFAULT_MARGIN_MM, max(0.0, ph - height)))
    top = ph - bottom - height
    if not (MIN_WIDTH_MM <= width and 0 <= x and 0 <= bottom and x + width <= pw + 0.01
            and top >= -0.01):
        raise OfdInputError(
            f"a {width:.6g}×{height:.6g} mm stamp at ({x:.6g}, {bottom:.6g}) mm does not fit "
            f"on page {index} ({pw:.1f}×{ph:.1f} mm; a stamp is at least {MIN_WIDTH_MM:g} mm "
            "wide)"
        )
    boundary = (px + x, py + max(top, 0.0), min(width, pw - x), min(height, ph - bottom))
    taken = [s.boundary for sig in doc.signatures for s in sig.stamps
             if s.page_ref == page.id and s.boundary is not None]
    if spec.x_mm is None and spec.y_mm is None:  # the default place: left of other stamps
        while any(_overlap(boundary, b) for b in taken) and boundary[0] - width - 5 >= px:
            boundary = (boundary[0] - width - 5, *boundary[1:])
    if doc.signatures:  # the appearance policy for several seals, as verification applies it
        share = boundary[2] * boundary[3] / (pw * ph)
        if share > MAX_LATER_SHARE:
            raise OfdInputError(
                f"the document is already sealed, and this stamp would cover {share:.0%} of "
                f"page {index}: with several seals each covers at most {MAX_LATER_SHARE:.0%}"
            )
        for sig in doc.signatures:
            for s in sig.stamps:
                if s.page_ref == page.id and s.boundary is not None and _overlap(boundary,
                                                                                 s.boundary):
                    raise OfdInputError(
                        f"the stamp would overlap the stamp of {sig.path} on page {index} "
                        f"(at {' '.join(f'{v:g}' for v in s.boundary)} mm): choose another "
                        "place (--page, --x, --y)"
                    )
    return page.id, boundary


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and (
        b[1] < a[1] + a[3]
    )


# ------------------------------------------------------------------------------ the files


def _ascii_folder(path: str) -> str:
    """``path/`` when it is ASCII (``propertyInfo`` is an IA5String), else the root."""
    return f"{path}/" if path and path.isascii() else ""


def _taken(package: OfdPackage, path: str) -> bool:
    """Is ``path`` a file, or a folder of a file, of the package (case folded)?"""
    key = fold(path)
    return any(fold(name) == key or fold(name).startswith(key + "/") for name in package.files)


def _free_folder(package: OfdPackage, prefix: str) -> str:
    n = 0
    while _taken(package, f"{prefix}{n}"):
        n += 1
    return f"{prefix}{n}"


def _free_name(package: OfdPackage, base: str, name: str) -> str:
    where = base
    n = 0
    while _taken(package, f"{where}/{name}") or package.find(where) is not None:
        n += 1
        where = f"{base}_{n}"
    return f"{where}/{name}"


def _local(el: etree._Element) -> str:
    return str(etree.QName(el).localname)


def _ns_tag(like: etree._Element, local: str) -> str:
    ns = etree.QName(like).namespace
    return f"{{{ns}}}{local}" if ns else local


def _serialize(root: etree._Element) -> bytes:
    return _HEAD + bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=False))


def _with_signatures(ofd_xml: bytes, path: str, package: OfdPackage,
                     limits: OfdLimits) -> bytes:
    """``OFD.xml`` whose one ``DocBody`` names ``path`` as its ``Signatures`` (last, as
    GB/T 33190 orders it)."""
    root = parse_xml(ofd_xml, ENTRY, limits)
    body = next(el for el in root if isinstance(el.tag, str) and _local(el) == "DocBody")
    el = etree.SubElement(body, _ns_tag(body, "Signatures"))
    el.text = f"/{path}"
    return _serialize(root)


def _listed(signatures_xml: bytes | None, signature_path: str, package: OfdPackage,
            limits: OfdLimits) -> bytes:
    """``Signatures.xml`` with the new signature listed (a new one when ``None``):
    ``ID`` one above every ID and ``MaxSignId`` written, ``MaxSignId`` raised to it."""
    if signatures_xml is None:
        root = etree.Element("{http://www.ofdspec.org/2016}Signatures",
                             nsmap={"ofd": "http://www.ofdspec.org/2016"})
    else:
        root = parse_xml(signatures_xml, "Signatures.xml", limits)
    numbers = [0]
    ids: set[str] = set()
    max_el = None
    for el in root:
        if not isinstance(el.tag, str):
            continue
        if _local(el) == "MaxSignId":
            max_el = el
            text = (el.text or "").strip()
            if text.isdigit() and len(text) < 10:
                numbers.append(int(text))
        elif _local(el) == "Signature":
            sid = el.get("ID", "")
            ids.add(sid)
            if sid.isdigit() and len(sid) < 10:
                numbers.append(int(sid))
    n = max(numbers) + 1
    while str(n) in ids:
        n += 1
    if max_el is None:
        max_el = etree.Element(_ns_tag(root, "MaxSignId"))
        root.insert(0, max_el)
    max_el.text = str(n)
    el = etree.SubElement(root, _ns_tag(root, "Signature"))
    el.set("ID", str(n))
    el.set("Type", "Seal")
    el.set("BaseLoc", f"/{signature_path}")
    return _serialize(root)


# ----------------------------------------------------------------------------- the check


def _statuses(report: OfdReport) -> dict[str, dict[str, str]]:
    return {
        sig.field: {s.name: s.status.value for s in sig.steps} for sig in report.signatures
    }


def _check(before: bytes | None, after: bytes, new: str, when: datetime,
           limits: OfdLimits) -> None:
    """Refuse (``ofd_stamp_breaks``) a result in which an earlier signature's VALID step is
    no longer VALID, or the new signature or the package's files are not (``before``: the
    package as given, None when it had no signature)."""
    old = {} if before is None else _statuses(verify_ofd(before, now=when, limits=limits))
    try:
        report = verify_ofd(after, now=when, limits=limits)
    except OfdError as exc:
        raise OfdInputError(f"the sealed package could not be verified, so it is not handed "
                            f"out: {exc}", code="ofd_stamp_breaks") from exc
    now = _statuses(report)
    problems: list[str] = []
    for field, steps in old.items():
        for name, status in steps.items():
            if status == "VALID" and now.get(field, {}).get(name) != "VALID":
                problems.append(f"{field}: {name}")
    mine = now.get(new, {})
    problems += [f"{new}: {name}" for name in _NEW_STEPS if mine.get(name) != "VALID"]
    problems += [s.name for s in report.steps if s.status.value != "VALID"]
    if problems:
        raise OfdInputError(
            "sealing would leave these checks not valid, so the package is not sealed: "
            + ", ".join(problems[:20]),
            code="ofd_stamp_breaks",
        )
