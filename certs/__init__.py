"""The electronic certificate: model, identifiers, digests, batches and issuance."""
