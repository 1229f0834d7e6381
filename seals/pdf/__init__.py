"""Seals on PDF: apply a GB/T 38540 seal to any PDF as an incremental update, and verify
sealed PDFs (byte ranges, digests, seal signatures, and what changed after each seal).

Layers (pyHanko-style; each knows nothing of the layers above it):

- ``objects``: PDF values, comparing and serializing; ``syntax``: parsing them; ``reader``:
  the cross-reference chain (tables, streams, hybrid files) and objects, with ``xref``
  (limits, entries, sections), ``view`` (a revision: objects, pages, fields), ``decode``
  (structure streams) and ``integrity`` (the whole-file checks); ``writer``: incremental
  updates. None of them knows about signing.
- ``stamp``: the signature field and dictionary, and signing, with ``appearance`` (the
  visible stamp), ``placement`` (where a seal may go) and ``edits`` (byte-exact edits).
- ``verify``: per-signature verification and attack detection.

Public API: :func:`stamp_pdf` / :func:`stamp_pdf_spec` with :class:`StampSpec`,
:func:`verify_pdf` -> :class:`PdfReport`, :func:`sealed_document_digest`, :class:`PdfLimits`,
and the errors in :mod:`seals.pdf.errors`. The choices (``/Filter``, ``/SubFilter``,
``propertyInfo``) are written down in ``seals/pdf/README.md``.
"""

from seals.pdf.errors import (
    PdfEncrypted,
    PdfError,
    PdfHostile,
    PdfInputError,
    PdfMalformed,
    PdfTooLarge,
)
from seals.pdf.reader import DEFAULT_LIMITS, PdfLimits
from seals.pdf.stamp import (
    FILTER,
    SUBFILTER,
    StampSpec,
    sealed_document_digest,
    stamp_pdf,
    stamp_pdf_spec,
)
from seals.pdf.verify import PdfReport, PdfSignatureReport, verify_pdf

__all__ = [
    "DEFAULT_LIMITS",
    "FILTER",
    "SUBFILTER",
    "PdfEncrypted",
    "PdfError",
    "PdfHostile",
    "PdfInputError",
    "PdfLimits",
    "PdfMalformed",
    "PdfReport",
    "PdfSignatureReport",
    "PdfTooLarge",
    "StampSpec",
    "sealed_document_digest",
    "stamp_pdf",
    "stamp_pdf_spec",
    "verify_pdf",
]
