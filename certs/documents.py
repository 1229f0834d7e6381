"""How a certificate document is kept in the database: its JSON text, or (where the store
compresses documents, :attr:`certs.store.Store.compresses_documents`) a zlib stream of it in
the same column. These bytes are what is stored; they must not change."""

from __future__ import annotations

from isal import isal_zlib

from certs.errors import DocumentError


def compress_document(text: str) -> bytes:
    """A document JSON as stored where :attr:`Store.compresses_documents`: a zlib stream
    (~2.2 KB for ~2.9 KB; the salts, digests and signature are random hex) made by ISA-L at
    its level 0 (# Why: bench/PERFORMANCE.md, "Stored documents: zlib level").
    :func:`document_json` reads either."""
    return bytes(isal_zlib.compress(text.encode("utf-8"), 0))


def document_json(stored: str | bytes) -> str:
    """A stored document's JSON text: as stored, or decompressed (``zlib`` stream);
    :class:`DocumentError` if a stream is damaged."""
    if isinstance(stored, str):
        return stored
    try:
        return str(isal_zlib.decompress(stored).decode("utf-8"))
    except Exception as exc:  # isal_zlib.error (its stub types it as an instance) or UTF-8
        raise DocumentError(f"the stored document is damaged: {exc}") from None
