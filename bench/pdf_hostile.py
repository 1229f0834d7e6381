"""Verifying hostile PDFs: worst-case CPU time and peak memory over the hostile set.

Run: ``python bench/pdf_hostile.py [--runs 5] [--only NAME…] [--pythonpath DIR]``.

Builds every shape of ``tests/seals/pdf/hostile_shapes.py`` (generated from the three-page
sample and a seal made here; nothing large is committed), then verifies each as the API
does (``verifier.checks.pdf_checks.verify_pdf_full``, no chain) in a fresh child process per run:

- CPU seconds: the median of ``--runs`` runs (the machine is shared and noisy), and the
  worst run;
- peak memory above the child's base: one more run under tracemalloc, the larger of its
  peak and the growth of the child's RSS;
- the outcome: ``valid``, ``invalid``, or the error code of a refusal (``pdf_hostile``,
  ``pdf_malformed``) — anything else (an exception, a time-out, a crash) is flagged.

Targets (issue #14): every shape within 2 s of CPU and 256 MB above the base, or refused
with a code. ``--pythonpath DIR`` measures another checkout's code (e.g. an export of
``main``), each run limited by ``--timeout`` seconds and 4 GB of address space.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "seals" / "pdf"), str(ROOT / "tests" / "seals")]

import hostile_shapes  # type: ignore[import-not-found]  # noqa: E402
from seals_testlib import T0, Pki, make_seal  # type: ignore[import-not-found]  # noqa: E402

from seals.pdf import stamp_pdf  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "pdf" / "three-pages.pdf"
CPU_TARGET = 2.0
MEMORY_TARGET = 256.0


def kit() -> hostile_shapes.Kit:
    pki = Pki()  # a throw-away root, seal maker and agency signer (the tests' own)
    signer, seal = pki.signer, make_seal(pki)
    count = [0]

    def stamp(pdf: bytes, **kwargs: object) -> bytes:
        count[0] += 1
        return stamp_pdf(pdf, seal=seal, signer=signer.signer,
                         signer_certificate=signer.certificate,
                         at=T0 + timedelta(days=1, minutes=count[0]), **kwargs)  # type: ignore[arg-type]

    plain = SAMPLE.read_bytes()
    return hostile_shapes.Kit(plain, stamp(plain), stamp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="shape names")
    parser.add_argument("--pythonpath", default=None, help="verify with this checkout's code")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    args = parser.parse_args()
    shapes = [s for s in hostile_shapes.SHAPES if not args.only or s.name in args.only]
    materials = kit()
    worst_cpu, worst_mem, flagged = 0.0, 0.0, []
    print(f"{len(shapes)} shapes; CPU: median of {args.runs} runs (worst run); memory: peak "
          "above the child's base" + (f"; code from {args.pythonpath}" if args.pythonpath else ""))
    print(f"{'shape':<26} {'size':>8} {'CPU s':>7} {'(worst)':>8} {'peak MB':>8}  outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            data = shape.build(materials)
            path = Path(tmp) / f"{shape.name}.pdf"
            path.write_bytes(data)
            del data
            runs = [hostile_shapes.measure(path, pythonpath=args.pythonpath,
                                           timeout=args.timeout) for _ in range(args.runs)]
            cpus = [float(r["cpu"]) for r in runs]  # type: ignore[arg-type]
            timed_out = any(r["outcome"] == "TIMEOUT" for r in runs)
            memory = hostile_shapes.measure(path, trace=True, pythonpath=args.pythonpath,
                                            timeout=args.timeout)
            peak = max(float(memory["peak_mb"]), *(float(r["peak_mb"]) for r in runs))  # type: ignore[arg-type]
            outcome = str(runs[-1]["outcome"])
            cpu = statistics.median(cpus)
            size = path.stat().st_size / 2**20
            mark = ""
            if outcome not in shape.expect:
                mark = "  <- unexpected"
                flagged.append(shape.name)
            elif cpu > CPU_TARGET or peak > MEMORY_TARGET:
                mark = "  <- over target"
                flagged.append(shape.name)
            if not math.isnan(cpu):
                worst_cpu = max(worst_cpu, cpu)
            if not math.isnan(peak):
                worst_mem = max(worst_mem, peak)
            shown = f">{args.timeout:.0f}" if timed_out else f"{cpu:7.2f}"
            print(f"{shape.name:<26} {size:6.2f}MB {shown:>7} {max(cpus):8.2f} {peak:8.0f}  "
                  f"{outcome[:60]}{mark}", flush=True)
    print(f"worst case: {worst_cpu:.2f} s CPU (target <= {CPU_TARGET:.0f} s), "
          f"{worst_mem:.0f} MB above base (target <= {MEMORY_TARGET:.0f} MB)"
          + (f"; flagged: {', '.join(flagged)}" if flagged else "; every shape as expected"))


if __name__ == "__main__":
    main()
