"""The cryptographic form of a certificate: JCS, salted claim digests, leaf, signed payload,
and the certificate document a holder keeps. This docstring is the specification.

1. Canonical JSON is RFC 8785 (JCS): no whitespace; object members sorted by their names'
   UTF-16 code units; strings as ECMAScript ``JSON.stringify`` writes them (only ``"``, ``\\``
   and U+0000-U+001F escaped: ``\\b \\t \\n \\f \\r`` short, others ``\\u00xx`` lower-case hex;
   everything else as-is, UTF-8 encoded; lone surrogates are an error); ``true false null``;
   numbers as ECMAScript ``Number.prototype.toString`` (integers beyond ±(2^53 - 1), NaN and
   infinities are an error). :func:`jcs` implements the whole of RFC 8785.

2. Claims. A certificate's disclosable content is a flat map ``path → value``::

       identifier  name  number  version  type.code  type.name  defining_body.code
       defining_body.name  issuer.code  issuer.name  issue_date  valid_from  valid_until
       jurisdiction  holder.name  holder.code  holder.code_type  annotations
       fields.<key>            (one per type-specific field; <key> is the key verbatim)

   Values are JSON strings, except ``number`` and ``valid_until`` (string or ``null``) and
   ``annotations`` (array of strings). Dates are ``YYYY-MM-DD``. The status is NOT a claim
   (the chain is the authority on it).

3. Each claim has its own salt: 16 random bytes, written as 32 lower-case hex digits. ::

       claim digest = SM3( JCS( [salt_hex, path, value] ) )

   e.g. ``SM3('["00112233445566778899aabbccddeeff","holder.name","张三"]')`` (UTF-8).

4. The leaf digest covers ALL claims of the certificate, disclosed or hidden, each claim
   digest bound to its path (so even a hidden claim's path is authenticated)::

       leaf = SM3( "zhengyin:leaf:v1"                       16 ASCII bytes, no terminator
                   || for each claim, paths in ascending Unicode code-point order
                      (= the byte order of their UTF-8):
                        u16be(byte length of utf8(path)) || utf8(path) || claim digest )

   Binary framing, not JSON, keeps the hashed input small (the leaf is computed for every
   certificate issued and every one verified).

5. The issuer signs (SM2 with SM3, ID ``1234567812345678``) the bytes of :func:`signing_input`::

       JCS({"format": "zhengyin-cert/2", "alg": {"digest": "sm3", "signature": "sm2"},
            "leaf": hex(leaf), "key_id": hex(key_id),
            "identifier": <identifier>, "jurisdiction": "<6 digits>",
            "valid_from": "YYYY-MM-DD", "valid_until": "YYYY-MM-DD" | null})

   The leaf alone would authenticate every claim, but only to someone holding the salts. The
   identifier (which names the type and the issuer), the jurisdiction (where the issuer's
   authorization must cover it) and the validity dates are also signed in clear, so a QR code
   (:mod:`certs.qr`), which has room for no salt, proves exactly the facts it shows. Format 1
   signed the leaf alone; its documents are not read any more.

6. Batches: the leaves go into the SM3 Merkle tree of :mod:`certs.merkle`; its root is
   anchored on chain.

7. The certificate document (``to_json`` writes it as JCS)::

       {"format": "zhengyin-cert/2",
        "alg": {"digest": "sm3", "signature": "sm2"},
        "claims": {"<path>": {"salt": "<32 hex>", "value": <value>}    disclosed
                   "<path>": {"digest": "<64 hex>"}, …},               hidden
        "leaf": "<64 hex>",
        "signature": {"key_id": "<64 hex>", "public_key": "<130 hex>",
                      "value": "<hex of DER SM2 signature>"} | null,
        "anchor": {"root": "<64 hex>", "proof": ["L:<hex>" | "R:<hex>", …],
                   "chain_id": <int>, "contract": "0x<40 hex>",
                   "tx_hash": "0x<64 hex>", "block": <int>} | null}

   Reading is strict: exactly these members, lower-case hex of the stated lengths, every core
   path present, ``key_id`` 1-64 bytes, ``public_key`` the 65-byte uncompressed SM2 point
   whose SM3 digest is ``key_id`` (so a verifier needs only the chain's key registry, which
   holds the digest), signature 1-128 bytes, proof at most 64 steps, no
   duplicate JSON member names, no floats, at most 1 MiB of UTF-8. The claims of
   :data:`ALWAYS_DISCLOSED` (what the certificate is, who issued it, when it is valid) are
   always disclosed, the identifier is well formed (GB/T 36904, check character included) and
   names the ``type.code`` and ``issuer.code`` claims, and the dates are ``YYYY-MM-DD``:
   otherwise :class:`~certs.errors.DocumentError` (``claim_must_be_disclosed``,
   ``claims_inconsistent``). A holder hides other claims with :func:`disclose` (salt and value
   are replaced by the claim digest); a verifier recomputes the leaf with
   :func:`recompute_leaf` / :func:`check_leaf` (which raises
   :class:`~certs.errors.LeafMismatch`) and learns which paths are hidden, then checks the
   signature over :meth:`CertificateDocument.signing_input` and the Merkle proof from the leaf
   to the anchored root (:func:`certs.merkle.verify_proof`).

Where each item lives: JCS (1) in :mod:`certs.jcs`; claims, claim digests, leaf and signed
payload (2-5) in :mod:`certs.claims`; the Merkle tree (6) in :mod:`certs.merkle`; the document
(7) in :mod:`certs.document` (writing, hiding, checking) and :mod:`certs.document_reader`
(strict reading). Each is the Python reference; :mod:`certs.formats` is the one place that
selects a fast path of the same bytes (the C extension ``certs._claims`` for claims, leaf and
tree; CPython's ``json`` encoder for JCS) and says which is in use. This module gathers the
public names.
"""

from __future__ import annotations

from certs.claims import (
    ALGORITHMS,
    ALWAYS_DISCLOSED,
    CORE_PATHS,
    FIELD_PREFIX,
    FORMAT,
    LEAF_DOMAIN,
    SALT_BYTES,
    ClaimValue,
    claim_digest,
    claims_of,
    leaf_digest,
    request_claims,
    signing_input,
)
from certs.document import (
    MAX_DOCUMENT_BYTES,
    Anchor,
    CertificateDocument,
    Claim,
    DisclosedClaim,
    HiddenClaim,
    IssuerSignature,
    check_leaf,
    disclose,
    document_text,
    issue_claim_values,
    issue_claims,
    make_document,
    recompute_leaf,
)
from certs.jcs import Json, jcs

__all__ = [
    "ALGORITHMS",
    "ALWAYS_DISCLOSED",
    "CORE_PATHS",
    "FIELD_PREFIX",
    "FORMAT",
    "LEAF_DOMAIN",
    "MAX_DOCUMENT_BYTES",
    "SALT_BYTES",
    "Anchor",
    "CertificateDocument",
    "Claim",
    "ClaimValue",
    "DisclosedClaim",
    "HiddenClaim",
    "IssuerSignature",
    "Json",
    "check_leaf",
    "claim_digest",
    "claims_of",
    "disclose",
    "document_text",
    "issue_claim_values",
    "issue_claims",
    "jcs",
    "leaf_digest",
    "make_document",
    "recompute_leaf",
    "request_claims",
    "signing_input",
]
