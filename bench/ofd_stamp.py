"""Stamping OFD files: median time of ``stamp_ofd`` on a ~1 MB OFD, and of verifying the result.

Run: ``python bench/ofd_stamp.py [--runs 20] [--size-mb 1]``. A one-page A4 document drawing
a ``--size-mb`` incompressible image (what makes a real OFD large: scans, photos) is written
with :func:`seals.ofd.write.write_ofd`; a throw-away PKI makes the agency's seal. Prints the
median (and min/max) wall time over ``--runs`` runs of:

- ``first seal``: :func:`seals.ofd.stamp.stamp_ofd` on the unsealed file (reading it, hashing
  every file, signing, zipping anew, and verifying the result before handing it out);
- ``second seal``: the same on the file sealed once (it also verifies the file as given, to
  hold every earlier signature's verdict unchanged);
- ``verify, two seals``: :func:`seals.ofd.verify_ofd` of the twice-sealed file;
- ``zip only``: writing the package anew (``zip_entries``), the floor under a stamp;
- ``ofdrw v4signed``: stamping ofdrw's 14 KB sample (one earlier seal);

and last the largest package the reading limits let through whole (``bench/ofd_verify.py``'s:
20 MB, 64 MB inflated, 480,000 XML elements, one earlier seal), stamped once: CPU time and the
growth of the process's peak memory (stamping runs in the service's process, for issuers).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "seals"))

from seals_testlib import T0, Pki, make_seal  # type: ignore[import-not-found]

from seals.ofd import read_package, verify_ofd
from seals.ofd.stamp import stamp_ofd
from seals.ofd.write import (
    ImageObject,
    ImageResource,
    OfdDocument,
    OfdPage,
    PathObject,
    rectangle,
    write_ofd,
    zip_entries,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "interop" / "ofdrw" / "v4signed.ofd"


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size-mb", type=float, default=1.0)
    args = parser.parse_args()

    pki = Pki()  # a throw-away root, seal maker and agency signer (the tests' own)
    root, signer, seal = pki.root, pki.signer, make_seal(pki)
    image = random.Random(1).randbytes(int(args.size_mb * 1024 * 1024))
    document = OfdDocument(
        pages=(OfdPage((
            PathObject(rectangle(20, 20, 170, 100), (20, 20, 170, 100)),
            ImageObject("scan", (20, 130, 170, 100)),
        )),),
        doc_id="0" * 32, created=date(2025, 3, 1),
        images=(ImageResource("scan", image),),
    )
    plain = write_ofd(document)

    def stamp(data: bytes, days: int, **place: float) -> bytes:
        return stamp_ofd(data, seal=seal, signer=signer.signer,
                         signer_certificate=signer.certificate,
                         at=T0 + timedelta(days=days), **place)  # type: ignore[arg-type]

    once = stamp(plain, 1)
    twice = stamp(once, 2, x_mm=20, y_mm=20)
    anchors = [root.certificate]
    assert verify_ofd(twice, anchors=anchors, now=T0 + timedelta(days=3)).ok
    files = read_package(once).files
    fixture = FIXTURE.read_bytes()
    print(f"OFD of {len(plain) / 1e6:.2f} MB (sealed twice: {len(twice) / 1e6:.2f} MB), "
          f"{args.runs} runs, median (min–max):")
    cases: dict[str, Callable[[], object]] = {
        "first seal": lambda: stamp(plain, 1),
        "second seal": lambda: stamp(once, 2, x_mm=20, y_mm=20),
        "verify, two seals": lambda: verify_ofd(twice, anchors=anchors,
                                                now=T0 + timedelta(days=3)),
        "zip only": lambda: zip_entries(files),
        "ofdrw v4signed (14 KB)": lambda: stamp(fixture, 1),
    }
    for name, fn in cases.items():
        median, low, high = timed(fn, args.runs)
        print(f"  {name:<24} {median * 1e3:7.1f} ms  ({low * 1e3:.1f}–{high * 1e3:.1f})")

    # the largest package the upload limit admits, unsealed (ofd_verify's largest carries
    # files added after its seal: stamping refuses it, as it must)
    big = ImageResource("scan", random.Random(2).randbytes(19_500_000))
    data = write_ofd(replace(document, images=(big,)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    sealed = stamp(data, 1, x_mm=20, y_mm=20)
    cpu = time.process_time() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"largest package stamped: {len(data) / 1e6:.1f} MB -> {len(sealed) / 1e6:.1f} MB, "
          f"{cpu:.2f} s of CPU, peak memory +{grown:.0f} MB")


if __name__ == "__main__":
    main()
