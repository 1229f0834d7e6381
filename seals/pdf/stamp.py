"""Applying a seal to a PDF: the visible stamp and the signature field, as one incremental
update whose ``/Contents`` holds a DER GB/T 38540 ``SES_Signature`` (v4).

- :class:`StampSpec`: where the stamp goes (page, position and width in millimetres).
- :func:`stamp_pdf`: seal a PDF; returns the new file (the original bytes are its prefix).
- :func:`sealed_document_digest`: SM3 of a whole sealed file, the value to anchor.

What one seal adds (see ``seals/pdf/README.md``): a signature dictionary
``/Type /Sig /Filter /Zhengyin.SES /SubFilter /GB.T38540.SES_Signature``, a merged signature
field and widget annotation (``/FT /Sig``, ``/F 132`` print + locked) on the chosen page, its
appearance (a form XObject drawing the seal picture as an image XObject, alpha as ``/SMask``),
and the changed catalog or ``/AcroForm`` (``/Fields``, ``/SigFlags 3``) and page (``/Annots``).

Signing: the update is written with a ``/Contents`` placeholder sized for the largest
signature the seal can make, the ``/ByteRange`` is filled in, the byte ranges are hashed with
plain SM3 (``dataHash``), the signature is made with ``propertyInfo`` =
``"/ByteRange [0 b c d]"`` (exactly the array written), and its DER is written into the
placeholder, padded with ``00``.
"""

from __future__ import annotations

import functools
import io
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, UnidentifiedImageError

from seals import sm2
from seals.pdf.errors import PdfInputError
from seals.pdf.reader import DEFAULT_LIMITS, PdfFile, PdfLimits
from seals.pdf.syntax import Name, PdfObject, Ref, Stream, serialize, text_string
from seals.pdf.writer import write_incremental
from seals.seal import sign_digest
from seals.ses import Seal, encode_signature, encode_tbs_sign
from seals.x509 import Certificate

FILTER = "Zhengyin.SES"
"""``/Filter`` of the signature dictionaries written here."""
SUBFILTER = "GB.T38540.SES_Signature"
"""``/SubFilter``: ``/Contents`` is a DER ``SES_Signature`` (GB/T 38540-2020, v4)."""
MM = 72 / 25.4
"""PDF points per millimetre."""
DEFAULT_MARGIN_MM = 15.0
_BYTE_RANGE_SLOT = b"[0 0000000000 0000000000 0000000000]"
_MAX_SM2_DER = b"\x30\x46" + (b"\x02\x21\x00" + b"\xff" * 32) * 2
_FIELD_NAME = re.compile(r"^[\x21-\x7e]{1,64}$")


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


# ------------------------------------------------------------------------- appearance


@dataclass(frozen=True)
class _Image:
    width: int
    height: int
    color_space: str
    filter: str
    data: bytes
    alpha: bytes | None


@functools.lru_cache(maxsize=16)
def _image(kind: str, data: bytes) -> _Image | None:
    """The seal picture as PDF image data (cached: seals are reused for many documents)."""
    if kind == "SVG":
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if kind == "JPG" and im.mode in ("RGB", "L", "CMYK"):
                space = {"RGB": "DeviceRGB", "L": "DeviceGray", "CMYK": "DeviceCMYK"}[im.mode]
                return _Image(im.width, im.height, space, "DCTDecode", data, None)
            has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            rgba = im.convert("RGBA" if has_alpha else "RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise PdfInputError(f"the seal picture cannot be drawn: {exc}") from exc
    alpha = None
    if has_alpha:
        alpha = zlib.compress(rgba.getchannel("A").tobytes(), 6)
        rgba = rgba.convert("RGB")
    return _Image(
        rgba.width, rgba.height, "DeviceRGB", "FlateDecode", zlib.compress(rgba.tobytes(), 6), alpha
    )


def _ring(w: float, h: float) -> bytes:
    """A red ring, for pictures that cannot be drawn as an image (SVG)."""
    k = 0.5523
    rx, ry, cx, cy = w / 2 - 2, h / 2 - 2, w / 2, h / 2
    n = serialize
    return b" ".join(
        [
            b"q 0.86 0.08 0.12 RG 3 w",
            n(cx + rx) + b" " + n(cy) + b" m",
            b"%s %s %s %s %s %s c" % (n(cx + rx), n(cy + k * ry), n(cx + k * rx), n(cy + ry),
                                      n(cx), n(cy + ry)),
            b"%s %s %s %s %s %s c" % (n(cx - k * rx), n(cy + ry), n(cx - rx), n(cy + k * ry),
                                      n(cx - rx), n(cy)),
            b"%s %s %s %s %s %s c" % (n(cx - rx), n(cy - k * ry), n(cx - k * rx), n(cy - ry),
                                      n(cx), n(cy - ry)),
            b"%s %s %s %s %s %s c" % (n(cx + k * rx), n(cy - ry), n(cx + rx), n(cy - k * ry),
                                      n(cx + rx), n(cy)),
            b"s Q",
        ]
    )


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


def _numbers(box: PdfObject) -> list[float] | None:
    if (
        isinstance(box, list)
        and len(box) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
    ):
        return [float(v) for v in box]
    return None


def stamp_pdf(
    pdf_bytes: bytes,
    *,
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: Certificate,
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
    signer_certificate: Certificate,
    limits: PdfLimits = DEFAULT_LIMITS,
) -> bytes:
    """Seal ``pdf_bytes`` as ``spec`` says. Raises :class:`~seals.errors.SealError`."""
    file = PdfFile(bytes(pdf_bytes), limits)
    view = file.view()
    root_ref, catalog = view.catalog()
    count = view.page_count()
    if not count:
        raise PdfInputError("the PDF has no pages")
    index = count if spec.page is None else spec.page
    if not 1 <= index <= count:
        raise PdfInputError(f"page {spec.page} does not exist (the PDF has {count} pages)")
    page_ref, page_dict, inherited = view.page(index - 1)
    box = _numbers(view.resolve(inherited.get("CropBox"))) or _numbers(
        view.resolve(inherited.get("MediaBox"))
    )
    if box is None:
        raise PdfInputError(f"page {index} has no usable /MediaBox")
    left, bottom = min(box[0], box[2]), min(box[1], box[3])
    page_w, page_h = abs(box[2] - box[0]) / MM, abs(box[3] - box[1]) / MM

    picture = seal.picture
    image = _image(picture.type.upper(), picture.data)
    width_mm = spec.width_mm if spec.width_mm is not None else float(picture.width_mm or 40)
    if picture.width_mm > 0 and picture.height_mm > 0:
        height_mm = width_mm * picture.height_mm / picture.width_mm
    elif image is not None:
        height_mm = width_mm * image.height / image.width
    else:
        height_mm = width_mm
    x = spec.x_mm if spec.x_mm is not None else max(0.0, page_w - width_mm - DEFAULT_MARGIN_MM)
    y = spec.y_mm if spec.y_mm is not None else min(DEFAULT_MARGIN_MM, max(0.0, page_h - height_mm))
    if not (0 < width_mm and 0 <= x and 0 <= y and x + width_mm <= page_w + 0.01
            and y + height_mm <= page_h + 0.01):
        raise PdfInputError(
            f"a {width_mm:.1f}×{height_mm:.1f} mm stamp at ({x:.1f}, {y:.1f}) mm does not fit on "
            f"page {index} ({page_w:.1f}×{page_h:.1f} mm)"
        )

    taken = {name for _, _, name in view.fields()}
    name = spec.field_name
    if name is None:
        name = next(f"Seal{i}" for i in range(1, len(taken) + 2) if f"Seal{i}" not in taken)
    elif not _FIELD_NAME.match(name) or "." in name or name in taken:
        raise PdfInputError(f"field name {name!r} is taken or not printable ASCII without dots")

    t = spec.at or datetime.now(UTC)
    t = (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)).replace(microsecond=0)

    # object numbers
    n = view.size
    sig_num, widget_num, ap_num = n, n + 1, n + 2
    nxt = n + 3
    objects: dict[int, bytes] = {}
    w_pt, h_pt = width_mm * MM, height_mm * MM
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
        resources = {"XObject": {"Im0": Ref(img_num)}}
        content = b"q " + serialize([w_pt, 0, 0, h_pt, 0, 0])[1:-1] + b" cm /Im0 Do Q"
    else:
        content = _ring(w_pt, h_pt)
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
    x_pt, y_pt = left + x * MM, bottom + y * MM
    objects[widget_num] = serialize(
        {
            "Type": Name("Annot"),
            "Subtype": Name("Widget"),
            "FT": Name("Sig"),
            "T": text_string(name),
            "V": Ref(sig_num),
            "P": page_ref,
            "Rect": [x_pt, y_pt, x_pt + w_pt, y_pt + h_pt],
            "F": 132,
            "AP": {"N": Ref(ap_num)},
        }
    )
    new_page = dict(page_dict)
    annots = view.resolve(page_dict.get("Annots"))
    new_page["Annots"] = [*(annots if isinstance(annots, list) else []), Ref(widget_num)]
    objects[page_ref.num] = serialize(new_page)
    acro_value = catalog.get("AcroForm")
    acro = dict(view.resolve_dict(acro_value))
    fields = view.resolve(acro.get("Fields"))
    acro["Fields"] = [*(fields if isinstance(fields, list) else []), Ref(widget_num)]
    acro["SigFlags"] = 3
    if isinstance(acro_value, Ref) and view.in_use(acro_value.num):
        objects[acro_value.num] = serialize(acro)
    else:
        acro_num, nxt = nxt, nxt + 1
        objects[acro_num] = serialize(acro)
        objects[root_ref.num] = serialize({**catalog, "AcroForm": Ref(acro_num)})

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
    out, offsets = write_incremental(file, objects)

    # fill in /ByteRange, hash, sign, fill in /Contents
    br_at = out.index(b" /ByteRange [", offsets[sig_num]) + 12
    gap_start = out.index(b"/Contents <", br_at) + 10
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
    return bytes(out)


__all__ = [
    "FILTER",
    "SUBFILTER",
    "StampSpec",
    "sealed_document_digest",
    "stamp_pdf",
    "stamp_pdf_spec",
]
