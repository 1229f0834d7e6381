"""Type stub of the C extension ``certs._claims`` (source: ``certs/_claims.c``).

The work of :func:`certs.canonical.issue_claims` in one call, with SM3 (GB/T 32905) in C.
``TypeError`` only for arguments of the wrong type; anything else outside the common case
gives ``None`` (the Python code then decides).
"""

def issue_claims(
    values: dict[str, str | tuple[str, ...] | None], salts_hex: str, /
) -> tuple[bytes, str] | None:
    """``(leaf, claims_json)`` for ``values = claims_of(certificate)`` and ``salts_hex``, the
    hex text of 16 salt bytes per claim in the order of ``values``: exactly what
    ``certs.canonical._issue_claims_python(values, salts_hex)`` returns.

    ``None`` when the Python code must handle the claims: a path beyond the BMP or longer
    than 65,535 UTF-8 bytes, a lone surrogate, a value other than ``str``, ``None`` or a
    ``tuple`` of ``str`` (subclasses included), a ``dict`` subclass, ``salts_hex`` not
    ASCII or not 32 characters per claim.
    """

def sm3(data: bytes | bytearray | memoryview, /) -> bytes:
    """The 32-byte SM3 digest of ``data`` (any C-contiguous buffer)."""

def merkle_tree(leaves: bytes | bytearray | memoryview, /) -> bytes:
    """Every node of the SM3 Merkle tree of :mod:`certs.merkle` over ``leaves`` (one or more
    32-byte leaf digests, concatenated), level 0 first, 32 bytes each: what
    ``MerkleTree.build(...).to_bytes()`` returns. ``ValueError`` if the length is not a
    positive multiple of 32."""
