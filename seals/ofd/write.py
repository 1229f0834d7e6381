"""Writing OFD packages (GB/T 33190-2016, OFD 1.x) and sealing them with a GB/T 38540 seal.

:class:`OfdDocument` describes one document: pages of text, path and image objects in
millimetres (origin top left, y downwards, as in OFD), the embedded font files, the images and
the attachments. :func:`write_ofd` makes the package (a zip); :func:`write_sealed_ofd` makes it
and seals it. What a package holds (one document, ``Doc_0``)::

    OFD.xml                                DocBody: DocInfo (DocID, Title, Author, Creator,
                                           CreatorVersion, CreationDate), DocRoot, Signatures
    Doc_0/Document.xml                     CommonData (MaxUnitID, PageArea, PublicRes,
                                           DocumentRes), Pages, Attachments
    Doc_0/PublicRes.xml                    Fonts (each with its FontFile), BaseLoc Res
    Doc_0/DocumentRes.xml                  MultiMedias (the images), BaseLoc Res
    Doc_0/Res/font_<ID>.ttf, image_<ID>.png
    Doc_0/Pages/Page_<n>/Content.xml       one Layer of TextObject, PathObject, ImageObject
    Doc_0/Attachs/Attachments.xml, <name>  the attachments
    Doc_0/Signs/Signatures.xml             MaxSignId, Signature ID=1 Type=Seal BaseLoc
    Doc_0/Signs/Sign_0/Signature.xml       SignedInfo: Provider, SignatureMethod (SM2-with-SM3
                                           1.2.156.10197.1.501), SignatureDateTime, References
                                           (CheckMethod SM3 1.2.156.10197.1.401: base64 SM3 of
                                           every other file of the package), StampAnnot
                                           (PageRef, Boundary); SignedValue
    Doc_0/Signs/Sign_0/SignedValue.dat     DER SES_Signature (GB/T 38540 v4)

The seal signature is made as GB/T 38540 and the ofdrw reference implementation make it
(checked against ofdrw's ``v4signed.ofd``): ``dataHash`` = SM3 of the exact bytes of
``Signature.xml``, ``propertyInfo`` = the absolute path of that ``Signature.xml`` in the
package. ``References`` cover every file but ``Signatures.xml`` (the list a later signature
extends) and the signature's own ``Signature.xml`` and ``SignedValue.dat``. The visible stamp
is the ``StampAnnot``: readers draw the picture of the seal inside ``SignedValue.dat`` at its
``Boundary`` on the page ``PageRef`` names, so the seal picture is not also drawn as an image.

``SignatureDateTime`` is written ``yyyyMMddHHmmss`` in China Standard Time (UTC+8), as ofdrw
writes it; the signing time that counts is the ``timeInfo`` inside ``SignedValue.dat`` (UTC).

The output is reproducible: the same document, seal, key and time give the same bytes, except
for the SM2 signature value (SM2 signing is randomised).
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from xml.sax.saxutils import escape, quoteattr

from seals import sm2
from seals.errors import SealInputError
from seals.ofd.names import NS, SM2_SM3_OID, SM3_OID
from seals.seal import sign_digest
from seals.ses import Seal
from seals.x509 import X509Certificate

__all__ = [
    "CHECK_METHOD",
    "SIGNATURE_METHOD",
    "Attachment",
    "Font",
    "ImageObject",
    "ImageResource",
    "OfdDocument",
    "OfdPage",
    "PathObject",
    "StampAnnot",
    "StoredEntry",
    "TextObject",
    "build_entries",
    "package_digest",
    "rectangle",
    "seal_entries",
    "signature_file",
    "signing_time",
    "stored_entries",
    "text_advances",
    "write_ofd",
    "write_sealed_ofd",
    "zip_entries",
]

SIGNATURE_METHOD = SM2_SM3_OID
"""SM2 with SM3 (``SignatureMethod``): :mod:`seals.ofd.names`, shared with the reader."""
CHECK_METHOD = SM3_OID
"""SM3 (``References/@CheckMethod``)."""
DOC = "Doc_0"
"""The one document of a package written here."""
SIGNATURES = f"{DOC}/Signs/Signatures.xml"
_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_CST = timezone(timedelta(hours=8))


# ---------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class Font:
    """A font resource (``PublicRes/Fonts/Font``)."""

    name: str
    """``FontName``; text objects refer to the font by it."""
    family: str = ""
    """``FamilyName`` (none written when empty)."""
    data: bytes | None = field(default=None, repr=False)
    """The embedded font file (TrueType); None: the reader's own font of that name."""
    serif: bool = False
    bold: bool = False
    fixed_width: bool = False


@dataclass(frozen=True)
class ImageResource:
    """An image resource (``DocumentRes/MultiMedias/MultiMedia Type="Image"``)."""

    name: str
    """Name image objects refer to it by (not written: the file is ``image_<ID>.<ext>``)."""
    data: bytes = field(repr=False)
    format: str = "PNG"
    """``PNG`` or ``JPEG``… (also the file's extension, in lower case)."""


@dataclass(frozen=True)
class Attachment:
    """An attached file (``Attachments/Attachment``)."""

    name: str
    """``Name``, also the file name under ``Doc_0/Attachs``."""
    data: bytes = field(repr=False)
    format: str = ""
    """``Format`` (e.g. ``json``)."""
    created: date | None = None
    """``CreationDate``."""
    usage: str = ""
    """``Usage`` (none written when empty)."""


Rgb = tuple[int, int, int]
"""A colour, each component 0–255."""


@dataclass(frozen=True)
class TextObject:
    """One run of text in one font: each character placed by its advance (``DeltaX``)."""

    x: float
    """Left edge of the first character, mm from the page's left edge."""
    baseline: float
    """Baseline, mm from the page's top edge."""
    text: str
    font: str
    """A :attr:`Font.name` of the document."""
    size: float
    """Font size in mm (an em)."""
    advances: tuple[float, ...]
    """The advance after each character but the last (mm): ``len(text) - 1`` values."""
    color: Rgb = (0, 0, 0)


@dataclass(frozen=True)
class PathObject:
    """A stroked or filled path, in page coordinates (mm)."""

    commands: str
    """``AbbreviatedData`` in page coordinates (``M x y L x y … C``); written relative to
    :attr:`box`'s corner."""
    box: tuple[float, float, float, float]
    """``Boundary``: x, y, width, height (mm)."""
    line_width: float = 0.25
    stroke: Rgb | None = (0, 0, 0)
    fill: Rgb | None = None


@dataclass(frozen=True)
class ImageObject:
    """An image drawn into a box (mm)."""

    image: str
    """An :attr:`ImageResource.name` of the document."""
    box: tuple[float, float, float, float]
    """x, y (top left), width, height."""


PageObject = TextObject | PathObject | ImageObject


@dataclass(frozen=True)
class OfdPage:
    objects: tuple[PageObject, ...]


@dataclass(frozen=True)
class OfdDocument:
    """Everything a package holds but its signatures."""

    pages: tuple[OfdPage, ...]
    doc_id: str
    """``DocID``: 32 hex digits (a UUID without dashes, as readers expect)."""
    created: date
    """``CreationDate``."""
    width_mm: float = 210.0
    height_mm: float = 297.0
    fonts: tuple[Font, ...] = ()
    images: tuple[ImageResource, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    title: str = ""
    author: str = ""
    creator: str = "Zhengyin"
    creator_version: str = ""


@dataclass(frozen=True)
class StampAnnot:
    """Where the seal shows: page and box, mm from the page's top-left corner."""

    page: int
    """1-based page number."""
    x: float
    y: float
    """Top edge, mm from the page's top edge."""
    width: float
    height: float


# --------------------------------------------------------------------------------- writing


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _attrs(**values: str | int | float | None) -> str:
    out = []
    for key, value in values.items():
        if value is None or value == "":
            continue
        text = _num(value) if isinstance(value, float) else str(value)
        out.append(f" {key}={quoteattr(text)}")
    return "".join(out)


def _root(tag: str, body: str, **attrs: str | int | float | None) -> bytes:
    return (
        _HEAD
        + f'<ofd:{tag} xmlns:ofd="{NS}"{_attrs(**attrs)}>{body}</ofd:{tag}>'.encode()
    )


def _el(tag: str, text: str = "", **attrs: str | int | float | None) -> str:
    if not text:
        return f"<ofd:{tag}{_attrs(**attrs)}/>"
    return f"<ofd:{tag}{_attrs(**attrs)}>{text}</ofd:{tag}>"


def _color(tag: str, rgb: Rgb) -> str:
    return _el(tag, Value=" ".join(str(max(0, min(255, c))) for c in rgb))


class _Ids:
    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


def _relative_path(commands: str, x0: float, y0: float) -> str:
    """``AbbreviatedData`` in page coordinates → relative to the box corner (x0, y0)."""
    out: list[str] = []
    parts = commands.split()
    i = 0
    axis = 0
    while i < len(parts):
        token = parts[i]
        if token.isalpha():
            out.append(token)
            axis = 0
        else:
            value = float(token) - (x0 if axis == 0 else y0)
            out.append(_num(value))
            axis ^= 1
        i += 1
    return " ".join(out)


def _page_xml(page: OfdPage, ids: _Ids, fonts: Mapping[str, int],
              images: Mapping[str, int]) -> bytes:
    layer_id = ids.next()
    body: list[str] = []
    for obj in page.objects:
        if isinstance(obj, TextObject):
            if obj.font not in fonts:
                raise SealInputError(f"text in an unknown font {obj.font!r}", code="ofd_bad_input")
            if len(obj.advances) != max(len(obj.text) - 1, 0):
                raise SealInputError("a text object needs one advance between each two "
                                     "characters", code="ofd_bad_input")
            width = sum(obj.advances) + obj.size
            top = obj.baseline - obj.size
            code = _el(
                "TextCode", escape(obj.text), X=0.0, Y=obj.size,
                DeltaX=" ".join(_num(a) for a in obj.advances) or None,
            )
            body.append(_el(
                "TextObject", _color("FillColor", obj.color) + code, ID=ids.next(),
                Boundary=" ".join(_num(v) for v in (obj.x, top, width, obj.size * 1.3)),
                Font=fonts[obj.font], Size=obj.size,
            ))
        elif isinstance(obj, PathObject):
            x, y, w, h = obj.box
            colors = ""
            if obj.stroke is not None:
                colors += _color("StrokeColor", obj.stroke)
            if obj.fill is not None:
                colors += _color("FillColor", obj.fill)
            body.append(_el(
                "PathObject",
                colors + _el("AbbreviatedData", _relative_path(obj.commands, x, y)),
                ID=ids.next(), Boundary=" ".join(_num(v) for v in obj.box),
                LineWidth=obj.line_width,
                Stroke="true" if obj.stroke is not None else "false",
                Fill="true" if obj.fill is not None else "false",
            ))
        else:
            if obj.image not in images:
                raise SealInputError(f"an unknown image {obj.image!r}", code="ofd_bad_input")
            x, y, w, h = obj.box
            body.append(_el(
                "ImageObject", ID=ids.next(), Boundary=" ".join(_num(v) for v in obj.box),
                CTM=f"{_num(w)} 0 0 {_num(h)} 0 0", ResourceID=images[obj.image],
            ))
    layer = _el("Layer", "".join(body), ID=layer_id, Type="Body")
    return _root("Page", _el("Content", layer))


def build_entries(document: OfdDocument, *, signed: bool = False) -> dict[str, bytes]:
    """The files of the package, by path, in the order they are zipped. ``signed``: OFD.xml
    names ``Doc_0/Signs/Signatures.xml`` (which :func:`seal_entries` then adds)."""
    if not document.pages:
        raise SealInputError("an OFD document needs at least one page", code="ofd_bad_input")
    ids = _Ids()
    entries: dict[str, bytes] = {}
    res: dict[str, bytes] = {}

    font_ids: dict[str, int] = {}
    font_xml: list[str] = []
    for font in document.fonts:
        fid = ids.next()
        font_ids[font.name] = fid
        file = ""
        if font.data is not None:
            name = f"font_{fid}.ttf"
            res[f"{DOC}/Res/{name}"] = font.data
            file = _el("FontFile", escape(name))
        font_xml.append(_el(
            "Font", file, ID=fid, FontName=font.name, FamilyName=font.family or None,
            Serif="true" if font.serif else None, Bold="true" if font.bold else None,
            FixedWidth="true" if font.fixed_width else None,
        ))
    image_ids: dict[str, int] = {}
    image_xml: list[str] = []
    for image in document.images:
        iid = ids.next()
        image_ids[image.name] = iid
        name = f"image_{iid}.{image.format.lower()}"
        res[f"{DOC}/Res/{name}"] = image.data
        image_xml.append(_el("MultiMedia", _el("MediaFile", escape(name)), ID=iid,
                             Type="Image", Format=image.format))

    page_refs: list[str] = []
    pages: dict[str, bytes] = {}
    for n, page in enumerate(document.pages):
        pid = ids.next()
        loc = f"Pages/Page_{n}/Content.xml"
        page_refs.append(_el("Page", ID=pid, BaseLoc=loc))
        pages[f"{DOC}/{loc}"] = _page_xml(page, ids, font_ids, image_ids)

    attach_xml: list[str] = []
    attached: dict[str, bytes] = {}
    for attachment in document.attachments:
        if "/" in attachment.name or "\\" in attachment.name or attachment.name in ("", ".", ".."):
            raise SealInputError(f"a bad attachment name {attachment.name!r}",
                                 code="ofd_bad_input")
        aid = ids.next()
        attached[f"{DOC}/Attachs/{attachment.name}"] = attachment.data
        attach_xml.append(_el(
            "Attachment", _el("FileLoc", escape(attachment.name)), ID=aid, Name=attachment.name,
            Format=attachment.format or None,
            CreationDate=(attachment.created or document.created).isoformat(),
            Size=round(len(attachment.data) / 1024, 3), Visible="true",
            Usage=attachment.usage or None,
        ))

    info = "".join((
        _el("DocID", document.doc_id),
        _el("Title", escape(document.title)) if document.title else "",
        _el("Author", escape(document.author)) if document.author else "",
        _el("CreationDate", document.created.isoformat()),
        _el("Creator", escape(document.creator)) if document.creator else "",
        _el("CreatorVersion", escape(document.creator_version))
        if document.creator_version else "",
    ))
    body = _el("DocInfo", info) + _el("DocRoot", f"{DOC}/Document.xml")
    if signed:
        body += _el("Signatures", SIGNATURES)
    entries["OFD.xml"] = _root("OFD", _el("DocBody", body), DocType="OFD", Version="1.1")

    common = "".join((
        _el("MaxUnitID", str(ids.last)),
        _el("PageArea", _el("PhysicalBox", f"0 0 {_num(document.width_mm)} "
                                           f"{_num(document.height_mm)}")),
        _el("PublicRes", "PublicRes.xml") if font_xml else "",
        _el("DocumentRes", "DocumentRes.xml") if image_xml else "",
    ))
    doc_body = _el("CommonData", common) + _el("Pages", "".join(page_refs))
    if attach_xml:
        doc_body += _el("Attachments", "Attachs/Attachments.xml")
    entries[f"{DOC}/Document.xml"] = _root("Document", doc_body)
    if font_xml:
        entries[f"{DOC}/PublicRes.xml"] = _root("Res", _el("Fonts", "".join(font_xml)),
                                                BaseLoc="Res")
    if image_xml:
        entries[f"{DOC}/DocumentRes.xml"] = _root(
            "Res", _el("MultiMedias", "".join(image_xml)), BaseLoc="Res")
    entries.update(pages)
    entries.update(res)
    if attach_xml:
        entries[f"{DOC}/Attachs/Attachments.xml"] = _root("Attachments", "".join(attach_xml))
        entries.update(attached)
    return entries


def _page_id(entries: Mapping[str, bytes], page: int) -> int:
    """The ``ID`` of the 1-based ``page`` in a ``Document.xml`` written by
    :func:`build_entries`."""
    text = entries[f"{DOC}/Document.xml"].decode()
    marker = f'BaseLoc="Pages/Page_{page - 1}/Content.xml"'
    end = text.find(marker)
    if page < 1 or end < 0:
        raise SealInputError(f"the document has no page {page}", code="ofd_bad_input")
    start = text.rfind('ID="', 0, end) + 4
    return int(text[start : text.index('"', start)])


def signing_time(at: datetime | None) -> datetime:
    """The signing time as written: UTC, whole seconds (now when None)."""
    return (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def signature_file(
    references: Mapping[str, bytes],
    *,
    page_id: str,
    boundary: tuple[float, float, float, float],
    when: datetime,
    value_path: str,
    stamp_id: str = "1",
    provider: str = "Zhengyin",
    provider_version: str = "",
) -> bytes:
    """A ``Signature.xml``: ``SignedInfo`` (Provider, SignatureMethod, SignatureDateTime,
    one SM3 ``Reference`` per file of ``references`` — package path → bytes — written as an
    absolute ``FileRef``, one ``StampAnnot`` on the page of ID ``page_id`` at ``boundary``,
    x y w h in mm from the page's top left) and ``SignedValue`` (the absolute
    ``value_path``)."""
    refs = "".join(
        _el("Reference", _el("CheckValue", base64.b64encode(sm2.sm3(data)).decode()),
            FileRef=f"/{path}")
        for path, data in references.items()
    )
    signed_info = "".join((
        _el("Provider", ProviderName=provider, Version=provider_version or None,
            Company=provider),
        _el("SignatureMethod", SIGNATURE_METHOD),
        _el("SignatureDateTime", when.astimezone(_CST).strftime("%Y%m%d%H%M%S")),
        _el("References", refs, CheckMethod=CHECK_METHOD),
        _el("StampAnnot", ID=stamp_id, PageRef=page_id,
            Boundary=" ".join(_num(v) for v in boundary)),
    ))
    return _root(
        "Signature", _el("SignedInfo", signed_info) + _el("SignedValue", f"/{value_path}")
    )


def seal_entries(
    entries: Mapping[str, bytes],
    *,
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    stamp: StampAnnot,
    at: datetime | None = None,
    provider: str = "Zhengyin",
    provider_version: str = "",
) -> dict[str, bytes]:
    """The package of :func:`build_entries` (``signed=True``) with its first signature:
    ``Signatures.xml``, ``Sign_0/Signature.xml`` and ``Sign_0/SignedValue.dat`` (see the
    module docstring). Raises :class:`~seals.errors.SealInputError` when the seal cannot sign
    (expired, signer not listed…) or the package was not built to be signed."""
    if f"<ofd:Signatures>{SIGNATURES}</ofd:Signatures>".encode() not in entries.get("OFD.xml", b""):
        raise SealInputError("the package was not built to be signed (OFD.xml names no "
                             "Signatures.xml)", code="ofd_bad_input")
    if SIGNATURES in entries:
        raise SealInputError("the package is already signed", code="ofd_bad_input")
    when = signing_time(at)
    sign_dir = f"{DOC}/Signs/Sign_0"
    signature_path = f"{sign_dir}/Signature.xml"
    value_path = f"{sign_dir}/SignedValue.dat"
    signature_xml = signature_file(
        entries, page_id=str(_page_id(entries, stamp.page)),
        boundary=(stamp.x, stamp.y, stamp.width, stamp.height), when=when,
        value_path=value_path, provider=provider, provider_version=provider_version,
    )
    made = sign_digest(
        seal, signer, signer_certificate, sm2.sm3(signature_xml), f"/{signature_path}", at=when
    )
    out = dict(entries)
    out[SIGNATURES] = _root(
        "Signatures",
        _el("MaxSignId", "1")
        + _el("Signature", ID=1, Type="Seal", BaseLoc=f"/{signature_path}"),
    )
    out[signature_path] = signature_xml
    out[value_path] = made.der
    return out


_SAMPLE = 64 * 1024


def _compresses(data: bytes) -> bool:
    """Is deflating ``data`` worth it? Small files always are deflated; a larger one only
    when its first 64 KiB shrink by a tenth (PNG, JPEG and other compressed media do not).
    # Why: bench/PERFORMANCE.md, "OFD stamping: stored media"."""
    if len(data) <= _SAMPLE:
        return True
    return len(zlib.compress(data[:_SAMPLE], 1)) < _SAMPLE * 0.9


@dataclass(frozen=True)
class StoredEntry:
    """A zip entry as a package already holds it: written into a new package as it is
    (its compressed bytes copied, not inflated and deflated again)."""

    method: int
    """0 (stored) or 8 (deflate)."""
    crc: int
    size: int
    """Uncompressed size."""
    data: bytes = field(repr=False)
    """The entry's bytes as stored (compressed with ``method``)."""


def stored_entries(package: bytes, files: Mapping[str, bytes]) -> dict[str, StoredEntry]:
    """The entries of the zip ``package`` as stored, for the names of ``files`` (its
    content, as :func:`seals.ofd.package.read_package` read and checked it: only a package
    that reader accepted, whose local and central headers agree and whose entries tile the
    file). An entry whose size or CRC differs from ``files`` is left out (written anew)."""
    out: dict[str, StoredEntry] = {}
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        for info in archive.infolist():
            content = files.get(info.filename)
            if content is None or info.compress_type not in (0, 8):
                continue
            if info.file_size != len(content) or info.CRC != zlib.crc32(content):
                continue
            at = info.header_offset
            name_len, extra_len = int.from_bytes(package[at + 26 : at + 28], "little"), \
                int.from_bytes(package[at + 28 : at + 30], "little")
            begin = at + 30 + name_len + extra_len
            out[info.filename] = StoredEntry(info.compress_type, info.CRC, info.file_size,
                                             package[begin : begin + info.compress_size])
    return out


def zip_entries(entries: Mapping[str, bytes | StoredEntry]) -> bytes:
    """The package as a zip, entries in the given order, each deflated (stored when it does
    not compress; a :class:`StoredEntry` as it is), with a fixed time (reproducible): no
    data descriptors, extra fields or ZIP64 records, UTF-8 names flagged."""
    body = bytearray()
    central = bytearray()
    for path, entry in entries.items():
        if isinstance(entry, StoredEntry):
            method, crc, size, packed = entry.method, entry.crc, entry.size, entry.data
        else:
            size, crc = len(entry), zlib.crc32(entry)
            method = 8 if _compresses(entry) else 0
            if method == 8:
                packer = zlib.compressobj(6, zlib.DEFLATED, -15)
                packed = packer.compress(entry) + packer.flush()
            else:
                packed = entry
        name = path.encode()
        flags = 0 if path.isascii() else 0x800
        if max(size, len(packed), len(body)) >= 0xFFFFFFFF or len(name) > 0xFFFF:
            raise SealInputError(f"{path[:80]!r} is too large for a zip without ZIP64",
                                 code="ofd_bad_input")
        offset = len(body)
        body += _LOCAL.pack(b"PK\x03\x04", 20, flags, method, 0, _DOS_DATE, crc, len(packed),
                            size, len(name), 0) + name + packed
        central += _CENTRAL.pack(b"PK\x01\x02", 0x0314, 20, flags, method, 0, _DOS_DATE, crc,
                                 len(packed), size, len(name), 0, 0, 0, 0, 0o644 << 16,
                                 offset) + name
    if len(entries) > 0xFFFF:
        raise SealInputError("too many entries for a zip without ZIP64", code="ofd_bad_input")
    end = _END.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(body),
                    0)
    return bytes(body + central + end)


_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END = struct.Struct("<4sHHHHIIH")
_DOS_DATE = (0 << 9) | (1 << 5) | 1
"""1980-01-01 (time 00:00:00)."""


def write_ofd(document: OfdDocument) -> bytes:
    """The document as an unsigned OFD package."""
    return zip_entries(build_entries(document))


def write_sealed_ofd(
    document: OfdDocument,
    *,
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    stamp: StampAnnot,
    at: datetime | None = None,
    provider_version: str = "",
) -> bytes:
    """The document as an OFD package sealed with ``seal`` (see :func:`seal_entries`)."""
    entries = build_entries(document, signed=True)
    return zip_entries(seal_entries(
        entries, seal=seal, signer=signer, signer_certificate=signer_certificate, stamp=stamp,
        at=at, provider_version=provider_version,
    ))


def package_digest(ofd_bytes: bytes) -> bytes:
    """SM3 of the whole sealed file: the document digest to anchor on chain (as for PDF)."""
    return sm2.sm3(ofd_bytes)


def text_advances(widths: Sequence[float], char_space: float = 0.0) -> tuple[float, ...]:
    """The ``DeltaX`` of a run from its characters' advance widths (mm), ``char_space``
    added between characters."""
    return tuple(w + char_space for w in widths[:-1])


def rectangle(x: float, y: float, w: float, h: float) -> str:
    """``AbbreviatedData`` of a closed rectangle (page coordinates)."""
    return (f"M {_num(x)} {_num(y)} L {_num(x + w)} {_num(y)} L {_num(x + w)} {_num(y + h)} "
            f"L {_num(x)} {_num(y + h)} C")

