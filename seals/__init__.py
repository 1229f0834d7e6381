"""Everything that signs: SM2/SM3, keys and certificates, GB/T 38540 seals.

Modules: ``sm3`` (the one SM3: reference and fast path), ``sm2`` (a package: the only
libcrypto binding; keys in memory, ``Signer``, the backends), ``keys`` (PEM/DER key files)
with ``pbes2`` (encryption at rest), ``x509`` (certificates, path validation), ``ca`` (the
local development CA), ``ses`` (parsing seals and seal signatures, v1/v4/v5) with
``ses_asn1``, ``ses_model``, ``ses_fields`` and ``ses_encode``, ``seal`` (create, sign, verify
as ordered steps), ``picture`` (seal images), ``errors``.
``seals`` imports no other Zhengyin package.
"""
