"""Errors of ``seals.pdf``: one subtree under :class:`seals.errors.SealError`.

::

    PdfError            pdf_error        root of the PDF errors
    ├── PdfMalformed    pdf_malformed    not a PDF we can read (no trailer, broken xref, …)
    ├── PdfEncrypted    pdf_encrypted    the PDF is encrypted: refused, never guessed at
    ├── PdfTooLarge     pdf_too_large    larger than the configured cap (default 50 MB)
    ├── PdfHostile      pdf_hostile      built to exhaust the reader: deep nesting,
    │                                    decompression bombs, endless /Prev or /Kids chains
    └── PdfInputError   pdf_bad_input    bad arguments to stamping (page out of range, …)
"""

from __future__ import annotations

from seals.errors import SealError


class PdfError(SealError):
    """Root of every error about PDF files."""

    code = "pdf_error"


class PdfMalformed(PdfError):
    """The bytes are not a PDF that can be read strictly (no repair is ever attempted)."""

    code = "pdf_malformed"


class PdfEncrypted(PdfError):
    """The PDF is encrypted (``/Encrypt`` in the trailer): it is refused."""

    code = "pdf_encrypted"


class PdfTooLarge(PdfError):
    """The PDF is larger than the configured cap."""

    code = "pdf_too_large"


class PdfHostile(PdfError):
    """The PDF exceeds a resource bound: nesting depth, decompressed size, chain length."""

    code = "pdf_hostile"


class PdfInputError(PdfError):
    """Bad arguments to stamping a PDF (page number, position, size)."""

    code = "pdf_bad_input"
