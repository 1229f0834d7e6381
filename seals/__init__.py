"""Everything that signs: SM2/SM3, keys and certificates, GB/T 38540 seals.

Modules: ``sm2`` (the only libcrypto binding; ``sm3``, keys in memory, ``Signer``),
``keys`` (PEM/DER key files, encryption at rest), ``x509`` (certificates, path validation),
``ca`` (the local development CA), ``ses`` (ASN.1 of seals and seal signatures, v1/v4/v5),
``seal`` (create, sign, verify as ordered steps), ``picture`` (seal images), ``errors``.
``seals`` imports no other Zhengyin package.
"""
