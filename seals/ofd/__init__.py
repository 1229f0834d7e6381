"""Seals on OFD (GB/T 33190): writing sealed OFD packages (:mod:`seals.ofd.write`)."""
