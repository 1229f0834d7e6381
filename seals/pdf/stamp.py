"""Applying a seal to a PDF: the visible stamp and the signature field, as one incremental
update whose ``/Contents`` holds a DER GB/T 38540 ``SES_Signature`` (v4).

- :class:`StampSpec`: where the stamp goes (page, position and width in millimetres).
- :func:`stamp_pdf`: seal a PDF; returns the new file (the original bytes are its prefix).
- :func:`sealed_document_digest`: SM3 of a whole sealed file, the value to anchor.

What one seal adds (see ``seals/pdf/README.md``): a signature dictionary
``/Type /Sig /Filter /Zhengyin.SES /SubFilter /GB.T38540.SES_Signature``, a merged signature
field and widget annotation (``/FT /Sig``, ``/F 132`` print + locked) on the chosen page, its
appearance (a form XObject drawing the seal picture as an image XObject, alpha as ``/SMask``,
with blend mode ``Multiply`` so the text under the seal shows through as under real ink),
and the changed catalog or ``/AcroForm`` (``/Fields``, ``/SigFlags 3``) and page (``/Annots``).

Before anything is written the file goes through the same whole-file checks as verification
(every cross-reference entry, every object's header, ``/Length``, generations, bounds), so a
file the verifier would refuse is not sealed. Rewritten objects keep their generation; new
objects are numbered after the highest number any section lists (not after the trailer's
``/Size``, which may be anything); ``/NeedAppearances`` is removed (with it, poppler redraws
every field and draws no seal) — unless the form has a field other than a signature (its own
appearance may show something other than what viewers drew from its value), or the document
is already sealed, and then the file is refused. When the document already carries a
signature, the new stamp must follow the appearance policy (:func:`placement_problems`) that
verification applies to later seals.

Signing: the update is written with a ``/Contents`` placeholder sized for the largest
signature the seal can make, the ``/ByteRange`` is filled in, the byte ranges are hashed with
plain SM3 (``dataHash``), the signature is made with ``propertyInfo`` =
``"/ByteRange [0 b c d]"`` (exactly the array written), and its DER is written into the
placeholder, padded with ``00``.

This module owns the stamping itself; the picture's PDF form is :mod:`seals.pdf.appearance`,
the page geometry and policy :mod:`seals.pdf.placement`, the byte-exact edits of existing
objects :mod:`seals.pdf.edits`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from seals import sm2
from seals.pdf.appearance import ring, seal_image
from seals.pdf.edits import appended_array, edit_dict, source_of, spans_of
from seals.pdf.errors import PdfHostile, PdfInputError
from seals.pdf.placement import MAX_SEAL_SHARE
from seals.pdf.placement import (  # re-exported: verification imports these from here
    box_of as box_of,
)
from seals.pdf.placement import (
    placement_problems as placement_problems,
)
from seals.pdf.placement import (
    seal_rects as seal_rects,
)
from seals.pdf.placement import (
    visible_box as visible_box,
)
from seals.pdf.reader import DEFAULT_LIMITS, PdfFile, PdfLimits, View
from seals.pdf.syntax import (
    MAX_OBJECT_NUMBER,
    Name,
    PdfObject,
    Ref,
    Stream,
    serialize,
    text_string,
)
from seals.pdf.writer import write_incremental
from seals.seal import sign_digest
from seals.ses import Seal, encode_signature, encode_tbs_sign
from seals.x509 import X509Certificate

FILTER = "Zhengyin.SES"
"""``/Filter`` of the signature dictionaries written here."""
SUBFILTER = "GB.T38540.SES_Signature"
"""``/SubFilter``: ``/Contents`` is a DER ``SES_Signature`` (GB/T 38540-2020, v4)."""
MM = 72 / 25.4
"""PDF points per millimetre."""
DEFAULT_MARGIN_MM = 15.0
MIN_WIDTH_MM = 1.0
"""The narrowest stamp drawn (narrower ones would be invisible)."""
_BYTE_RANGE_SLOT = b"[0 0000000000 0000000000 0000000000]"
_MAX_SM2_DER = b"\x30\x46" + (b"\x02\x21\x00" + b"\xff" * 32) * 2
_FIELD_NAME = re.compile(r"^[\x21-\x7e]{1,64}$")
_MULTIPLY: dict[str, PdfObject] = {
    "Mul": {"Type": Name("ExtGState"), "BM": Name("Multiply")}
}
"""The appearance's graphics state: the seal picture is drawn with blend mode ``Multiply``
(ISO 32000-1 §11.3.5), as seal ink on paper: the text under the seal stays legible through
it, and a white background of the picture leaves the page as it is."""
@dataclass(frozen=True)
class StampSpec:
    """Where and how the seal is shown."""

    page: int | None = None
    """1-based page number; None: the last page."""
    x_mm: float | None = None
    """Left edge of the stamp, millimetres from the left of the page's crop box;
    None: the bottom-right area (``DEFAULT_MARGIN_MM`` from the right edge)."""
    y_mm: float | None = None
    """Bottom edge, millimetres from the bottom of the crop box; None: ``DEFAULT_MARGIN_MM``."""
    width_mm: float | None = None
    """Width of the stamp; None: the seal picture's own width. The height keeps the
    picture's proportions."""
    field_name: str | None = None
    """Name of the signature field; None: ``Seal1``, ``Seal2``… (the first free one)."""
    at: datetime | None = None
    """Signing time (``timeInfo`` and ``/M``); None: now."""


def sealed_document_digest(pdf_bytes: bytes) -> bytes:
    """SM3 of the whole sealed file: the document digest to anchor on chain."""
    return sm2.sm3(pdf_bytes)


# ------------------------------------------------------------------------------ stamping


@functools.lru_cache(maxsize=64)
def _reserve(seal_der: bytes, certificate_der: bytes) -> int:
    """The largest ``SES_Signature`` this seal and signer can make: a maximal SM2 value and
    10-digit byte offsets in ``propertyInfo`` (``timeInfo`` always has the same length)."""
    return len(
        encode_signature(
            encode_tbs_sign(
                seal_der=seal_der,
                signing_time=datetime(2000, 1, 1, tzinfo=UTC),
                data_hash=bytes(32),
                property_info="/ByteRange [0 9999999999 9999999999 9999999999]",
            ),
            certificate_der,
            _MAX_SM2_DER,
        )
    )


def _need_appearances(view: View, acro: dict[str, PdfObject], sealed: bool) -> None:
    """Refuse a form whose ``/NeedAppearances`` cannot be removed without changing what
    viewers show."""
    if view.resolve(acro.get("NeedAppearances")) is not True:
        return
    if sealed:
        raise PdfInputError(
            "the form asks viewers to redraw its fields (/NeedAppearances) and the document "
            "is already sealed: with the flag some viewers draw no seal, and removing it "
            "would change the sealed document"
        )
    for _, field, name in view.fields():
        if field.get("FT") == "Sig":
            continue
        # whether or not the field has an appearance of its own: viewers honouring the flag
        # draw it from its value, and its own appearance may show something else entirely
        raise PdfInputError(
            f"the form asks viewers to draw its fields anew (/NeedAppearances) and has the "
            f"field {name!r}: removing the flag would show the field's own appearance instead "
            "of what viewers drew from its value (they may differ), keeping it would hide the "
            "seal in some viewers; save the form with its appearances (or flattened) first"
        )


def _first_number(file: PdfFile) -> int:
    """The first number for new objects: after every number any section lists (not after
    the trailer's ``/Size``, which may be anything) and after every number any object or
    trailer refers to. A reference to a missing object is null to viewers; if the seal
    defined that number, the original's reference would show the seal's object instead."""
    highest = file.highest_number()
    for numbers in file.references:  # sorted, per section
        if numbers:
            highest = max(highest, numbers[-1])
    for section in file.sections:
        for key in ("Root", "Info"):
            ref = section.trailer.get(key)
            if isinstance(ref, Ref):
                highest = max(highest, ref.num)
    return highest + 1


def stamp_pdf(
    pdf_bytes: bytes,
    *,
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    page: int | None = None,
    x_mm: float | None = None,
    y_mm: float | None = None,
    width_mm: float | None = None,
    at: datetime | None = None,
    field_name: str | None = None,
    limits: PdfLimits = DEFAULT_LIMITS,
) -> bytes:
    """Seal ``pdf_bytes`` (see the module docstring); the keyword arguments are
    :class:`StampSpec`'s fields."""
    spec = StampSpec(page, x_mm, y_mm, width_mm, field_name, at)
    return stamp_pdf_spec(
        pdf_bytes,
        spec,
        seal=seal,
        signer=signer,
        signer_certificate=signer_certificate,
        limits=limits,
    )


def stamp_pdf_spec(
    pdf_bytes: bytes,
    spec: StampSpec,
    *,
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    limits: PdfLimits = DEFAULT_LIMITS,
) -> bytes:
    """Seal ``pdf_bytes`` as ``spec`` says. Raises :class:`~seals.errors.SealError`."""
    try:
        return _stamp(pdf_bytes, spec, seal, signer, signer_certificate, limits)
    except ValueError as exc:  # a value of the file that cannot be written back
        raise PdfInputError(f"the PDF cannot be sealed: {exc}") from exc


def _stamp(
    pdf_bytes: bytes,
    spec: StampSpec,
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    limits: PdfLimits,
) -> bytes:
    file = PdfFile(bytes(pdf_bytes), limits)
    for _ in file.objects():  # what verification refuses is refused here
        pass
    view = file.view()
    root_ref, catalog = view.catalog()
    count = view.page_count()
    if not count:
        raise PdfInputError("the PDF has no pages")
    index = count if spec.page is None else spec.page
    if not 1 <= index <= count:
        raise PdfInputError(f"page {spec.page} does not exist (the PDF has {count} pages)")
    page_ref, page_dict, inherited = view.page(index - 1)
    box = visible_box(view, inherited)
    if box is None:
        raise PdfInputError(f"page {index} has no usable /MediaBox or /CropBox")
    left, bottom = min(box[0], box[2]), min(box[1], box[3])
    page_w, page_h = abs(box[2] - box[0]) / MM, abs(box[3] - box[1]) / MM

    picture = seal.picture
    image = seal_image(picture.type.upper(), picture.data)
    width_mm = spec.width_mm if spec.width_mm is not None else float(picture.width_mm or 40)
    if picture.width_mm > 0 and picture.height_mm > 0:
        height_mm = width_mm * picture.height_mm / picture.width_mm
    elif image is not None:
        height_mm = width_mm * image.height / image.width
    else:
        height_mm = width_mm
    x = spec.x_mm if spec.x_mm is not None else max(0.0, page_w - width_mm - DEFAULT_MARGIN_MM)
    y = spec.y_mm if spec.y_mm is not None else min(DEFAULT_MARGIN_MM, max(0.0, page_h - height_mm))
    if not (MIN_WIDTH_MM <= width_mm and 0 <= x and 0 <= y and x + width_mm <= page_w + 0.01
            and y + height_mm <= page_h + 0.01):
        raise PdfInputError(
            f"a {width_mm:.6g}×{height_mm:.6g} mm stamp at ({x:.6g}, {y:.6g}) mm does not fit on "
            f"page {index} ({page_w:.1f}×{page_h:.1f} mm; a stamp is at least {MIN_WIDTH_MM:g} "
            "mm wide)"
        )

    fields = view.fields()
    sealed = any(f.get("FT") == "Sig" and f.get("V") is not None for _, f, _ in fields)
    taken = {name for _, _, name in fields}
    name = spec.field_name
    if name is None:
        name = next(f"Seal{i}" for i in range(1, len(taken) + 2) if f"Seal{i}" not in taken)
    elif not _FIELD_NAME.match(name) or "." in name or name in taken:
        raise PdfInputError(f"field name {name!r} is taken or not printable ASCII without dots")

    t = spec.at or datetime.now(UTC)
    t = (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)).replace(microsecond=0)

    w_pt, h_pt = width_mm * MM, height_mm * MM
    x_pt, y_pt = left + x * MM, bottom + y * MM
    rect = (x_pt, y_pt, x_pt + w_pt, y_pt + h_pt)
    if sealed:  # the appearance policy for later seals
        problems = placement_problems(box, rect, seal_rects(view, page_dict))
        if problems:
            raise PdfInputError(
                f"the document is already sealed, and this stamp on page {index} would break "
                "the appearance policy for later seals: "
                + "; ".join(p.render("en") for p in problems)
            )
    acro_value = catalog.get("AcroForm")
    acro = dict(view.resolve_dict(acro_value))
    _need_appearances(view, acro, sealed)
    acro.pop("NeedAppearances", None)

    n = _first_number(file)
    sig_num, widget_num, ap_num = n, n + 1, n + 2
    nxt = n + 3
    objects: dict[int, bytes] = {}
    resources: dict[str, PdfObject] = {}
    if image is not None:
        img_num, nxt = nxt, nxt + 1
        img: dict[str, PdfObject] = {
            "Type": Name("XObject"),
            "Subtype": Name("Image"),
            "Width": image.width,
            "Height": image.height,
            "ColorSpace": Name(image.color_space),
            "BitsPerComponent": 8,
            "Filter": Name(image.filter),
        }
        if image.alpha is not None:
            mask_num, nxt = nxt, nxt + 1
            img["SMask"] = Ref(mask_num)
            mask = {
                "Type": Name("XObject"),
                "Subtype": Name("Image"),
                "Width": image.width,
                "Height": image.height,
                "ColorSpace": Name("DeviceGray"),
                "BitsPerComponent": 8,
                "Filter": Name("FlateDecode"),
            }
            objects[mask_num] = serialize(Stream(mask, image.alpha))
        objects[img_num] = serialize(Stream(img, image.data))
        resources = {"XObject": {"Im0": Ref(img_num)}, "ExtGState": dict(_MULTIPLY)}
        content = (b"q /Mul gs " + serialize([w_pt, 0, 0, h_pt, 0, 0])[1:-1]
                   + b" cm /Im0 Do Q")
    else:
        resources = {"ExtGState": dict(_MULTIPLY)}
        content = b"q /Mul gs " + ring(w_pt, h_pt) + b" Q"
    objects[ap_num] = serialize(
        Stream(
            {
                "Type": Name("XObject"),
                "Subtype": Name("Form"),
                "BBox": [0, 0, w_pt, h_pt],
                "Resources": resources,
            },
            content,
        )
    )
    objects[widget_num] = serialize(
        {
            "Type": Name("Annot"),
            "Subtype": Name("Widget"),
            "FT": Name("Sig"),
            "T": text_string(name),
            "V": Ref(sig_num),
            "P": page_ref,
            "Rect": list(rect),
            "F": 132,
            "AP": {"N": Ref(ap_num)},
        }
    )
    # the page, the form and the catalog are edited where they are written: whatever the
    # stamper does not change keeps its bytes (reals, nulls, strings, direct annotations)
    page_buf, page_at = view.source(page_ref.num)
    page_spans = spans_of(view, page_buf, page_at)
    annots = appended_array(view, page_buf, page_spans.get("Annots"), Ref(widget_num))
    objects[page_ref.num] = edit_dict(view, page_buf, page_at, {"Annots": annots})
    acro_changes = {"SigFlags": b"3"}
    own_form = isinstance(acro_value, Ref) and isinstance(view.resolve(acro_value), dict)
    if own_form:
        where = source_of(view, acro_value)
        assert where is not None
        acro_buf, acro_at = where
    elif isinstance(acro_value, dict):
        cat_buf, cat_at = view.source(root_ref.num)
        acro_buf, acro_at = cat_buf, spans_of(view, cat_buf, cat_at)["AcroForm"][1]
    else:
        acro_buf, acro_at = b"<<>>", 0
    fields_span = spans_of(view, acro_buf, acro_at).get("Fields")
    acro_changes["Fields"] = appended_array(view, acro_buf, fields_span, Ref(widget_num))
    edited_acro = edit_dict(view, acro_buf, acro_at, acro_changes, drop=("NeedAppearances",))
    if own_form:
        assert isinstance(acro_value, Ref)
        objects[acro_value.num] = edited_acro
    else:
        acro_num, nxt = nxt, nxt + 1
        objects[acro_num] = edited_acro
        cat_buf, cat_at = view.source(root_ref.num)
        objects[root_ref.num] = edit_dict(
            view, cat_buf, cat_at, {"AcroForm": serialize(Ref(acro_num))}
        )

    # the signature dictionary, with placeholders of fixed size
    reserve = _reserve(seal.der, signer_certificate.der)
    head = serialize(
        {
            "Type": Name("Sig"),
            "Filter": Name(FILTER),
            "SubFilter": Name(SUBFILTER),
            "Name": text_string(seal.property.name),
            "M": b"D:" + t.strftime("%Y%m%d%H%M%S").encode() + b"Z",
        }
    )[:-2]
    objects[sig_num] = (
        head + b" /ByteRange " + _BYTE_RANGE_SLOT + b" /Contents <" + b"0" * (2 * reserve) + b">>>"
    )
    if max(objects) > MAX_OBJECT_NUMBER:
        raise PdfInputError(
            f"the seal's objects would be numbered up to {max(objects)}, beyond "
            f"{MAX_OBJECT_NUMBER}, the highest number viewers share: the PDF uses or refers "
            "to numbers too close to it"
        )
    out, offsets = write_incremental(file, objects)

    # fill in /ByteRange, hash, sign, fill in /Contents
    # where the placeholders are, from what was written (the seal's name may hold the same
    # words: no search)
    br_at = offsets[sig_num] + len(b"%d 0 obj\n" % sig_num) + len(head) + len(b" /ByteRange ")
    gap_start = br_at + len(_BYTE_RANGE_SLOT) + len(b" /Contents ")
    if out[br_at : br_at + len(_BYTE_RANGE_SLOT)] != _BYTE_RANGE_SLOT or out[
        gap_start : gap_start + 2
    ] != b"<0":  # cannot happen: the writer writes the object as given
        raise PdfInputError("the signature dictionary was not written where expected")
    gap_end = gap_start + 2 * reserve + 2
    ranges = (0, gap_start, gap_end, len(out) - gap_end)
    text = b"[%d %d %d %d]" % ranges
    out[br_at : br_at + len(_BYTE_RANGE_SLOT)] = text.ljust(len(_BYTE_RANGE_SLOT))
    view_bytes = memoryview(out)
    digest = sm2.sm3(b"".join((view_bytes[:gap_start], view_bytes[gap_end:])))
    view_bytes.release()
    signature = sign_digest(
        seal,
        signer,
        signer_certificate,
        digest,
        "/ByteRange " + text.decode("ascii"),
        at=t,
    )
    der = signature.der
    if len(der) > reserve:  # cannot happen: the reserve is the largest possible signature
        raise PdfInputError(f"the signature ({len(der)} bytes) outgrew its space ({reserve})")
    out[gap_start + 1 : gap_end - 1] = der.hex().encode("ascii").ljust(2 * reserve, b"0")
    sealed_pdf = bytes(out)
    if file.budget.work < limits.max_work // 2:  # near the bound: make sure it verifies
        _check_verifiable(sealed_pdf, limits)
    return sealed_pdf


def _check_verifiable(pdf: bytes, limits: PdfLimits) -> None:
    """Refuse to hand out a sealed file that verification would refuse as too costly: the
    verifier reads what the stamper read, and also hashes, verifies signatures and checks
    revisions, so a file the stamper could just read may be out of the verifier's bounds."""
    from seals.pdf.verify import verify_pdf  # verify imports this module

    try:
        verify_pdf(pdf, limits=limits)
    except PdfHostile as exc:
        raise PdfHostile(
            f"the PDF would be too costly to verify once sealed, so it is not sealed: {exc}"
        ) from exc


__all__ = [
    "FILTER",
    "MAX_SEAL_SHARE",
    "SUBFILTER",
    "StampSpec",
    "sealed_document_digest",
    "stamp_pdf",
    "stamp_pdf_spec",
]
