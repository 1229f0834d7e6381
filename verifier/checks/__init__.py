"""Verification as small checks: certificate documents, QR payloads, the chain, seals and
sealed PDFs; each check a fragment, the verdict a pure function of the fragments."""
