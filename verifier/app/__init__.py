"""The application layer: the use cases the interfaces (``verifier.api``, ``verifier.cli``)
call: the service, agencies and their keys, the catalogue, presentations, stamping and
rendering, and the isolated reading of untrusted files."""
