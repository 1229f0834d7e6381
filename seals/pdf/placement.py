"""Where seals are on a page: rectangles as PDF writes them, a page's visible box, the signed
seals' widgets, and the appearance policy a seal added after an earlier one must follow. The
stamper applies the policy before writing; verification applies it to later seals.
"""

from __future__ import annotations

from seals.pdf.reader import View
from seals.pdf.syntax import PdfObject
from seals.report import Message

MAX_SEAL_SHARE = 0.10
"""The largest share of a page (its visible box) that a seal added to an already sealed
document may cover (``seals/pdf/README.md``)."""
MAX_COORDINATE = 1_000_000.0
"""Page and widget coordinates beyond this (in points: 350 m) are not usable."""
Box = tuple[float, float, float, float]


def box_of(value: PdfObject) -> Box | None:
    """A rectangle as (x0, y0, x1, y1): normalized, finite, within
    :data:`MAX_COORDINATE`, with a positive area; else None."""
    if not (isinstance(value, list) and len(value) == 4):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    x0, y0, x1, y1 = (float(v) for v in value)
    if not all(abs(v) <= MAX_COORDINATE for v in (x0, y0, x1, y1)):
        return None
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return box if box[2] > box[0] and box[3] > box[1] else None


def visible_box(view: View, attributes: dict[str, PdfObject]) -> Box | None:
    """What a page shows: its crop box (default: its media box) clipped to its media box."""
    media = box_of(view.resolve(attributes.get("MediaBox")))
    if media is None:
        return None
    crop = box_of(view.resolve(attributes.get("CropBox"))) or media
    box = (max(crop[0], media[0]), max(crop[1], media[1]), min(crop[2], media[2]),
           min(crop[3], media[3]))
    return box if box[2] > box[0] and box[3] > box[1] else None


def _area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _overlap(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def seal_rects(view: View, page: dict[str, PdfObject]) -> list[Box]:
    """The rectangles of the signed signature widgets on a page (``/Annots``)."""
    out: list[Box] = []
    annots = view.resolve(page.get("Annots"))
    for a in annots if isinstance(annots, list) else []:
        d = view.resolve_dict(a)
        ft, value, _ = view.field_value(d)
        if ft == "Sig" and value is not None:
            rect = box_of(view.resolve(d.get("Rect")))
            if rect is not None:
                out.append(rect)
    return out


def placement_problems(visible: Box, rect: Box, earlier: list[Box]) -> list[Message]:
    """Where a seal added after an earlier one may go (the appearance policy): inside the
    page's visible box, over at most :data:`MAX_SEAL_SHARE` of it, over no earlier seal.
    Each problem a catalogue message (``pdf.placement.*``)."""
    problems = []
    tol = 0.01
    if not (rect[0] >= visible[0] - tol and rect[1] >= visible[1] - tol
            and rect[2] <= visible[2] + tol and rect[3] <= visible[3] + tol):
        problems.append(Message("pdf.placement.outside"))
    share = _area(rect) / _area(visible)
    if share > MAX_SEAL_SHARE:
        problems.append(
            Message(
                "pdf.placement.too_large",
                {"share": f"{share:.0%}", "most": f"{MAX_SEAL_SHARE:.0%}"},
            )
        )
    if any(_overlap(rect, e) for e in earlier):
        problems.append(Message("pdf.placement.over_earlier"))
    return problems
