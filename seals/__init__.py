"""Everything that signs: SM2/SM3, keys and certificates, GB/T 38540 seals."""
