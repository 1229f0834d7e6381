"""SM2 speed: Zhengyin's signs/s and verifies/s beside ``openssl speed -seconds 3 sm2``.

Run: ``python bench/sm2_speed.py [--seconds 3]``. Both sides run single-threaded on the same
machine and sign a 20-byte message (as ``openssl speed`` does), with the default signer ID.
Prints a table and the ratio per backend; the target is at least 85% of OpenSSL's rate.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seals import sm2

TARGET = 0.85


def openssl_speed(seconds: int) -> tuple[float, float] | None:
    """``(signs/s, verifies/s)`` from ``openssl speed -seconds N sm2``, or None."""
    exe = shutil.which("openssl")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "speed", "-seconds", str(seconds), "sm2"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    for line in out.splitlines():
        if "SM2" in line and "bits" in line:
            numbers = re.findall(r"\d+\.\d+", line)
            if len(numbers) >= 4:
                return float(numbers[-2]), float(numbers[-1])
    return None


def ours(backend: sm2.Sm2Backend, seconds: float) -> tuple[float, float]:
    key = sm2.generate_private_key(backend)
    public = key.public_key
    msg = b"\x00" * 20
    sig = key.sign(msg)

    def rate(fn: object) -> float:
        assert callable(fn)
        count = 0
        end = time.perf_counter() + seconds
        start = time.perf_counter()
        while True:
            for _ in range(50):
                fn()
            count += 50
            now = time.perf_counter()
            if now >= end:
                return count / (now - start)

    signs = rate(lambda: key.sign(msg))
    verifies = rate(lambda: public.verify(msg, sig))
    return signs, verifies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    ref = openssl_speed(args.seconds)
    print(f"{'implementation':<34}{'sign/s':>10}{'verify/s':>10}{'sign %':>9}{'verify %':>10}")
    if ref is not None:
        print(f"{'openssl speed sm2':<34}{ref[0]:>10.1f}{ref[1]:>10.1f}")
    else:
        print("openssl speed sm2: not available")
    ok = True
    for backend in sm2.available_backends():
        s, v = ours(backend, args.seconds)
        label = f"zhengyin ({backend.name})"
        if ref is not None:
            rs, rv = s / ref[0], v / ref[1]
            print(f"{label:<34}{s:>10.1f}{v:>10.1f}{rs:>9.0%}{rv:>10.0%}")
            if backend.name == "libcrypto":
                ok = ok and rs >= TARGET and rv >= TARGET
        else:
            print(f"{label:<34}{s:>10.1f}{v:>10.1f}")
    print(f"target: libcrypto backend >= {TARGET:.0%} of openssl: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
