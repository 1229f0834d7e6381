"""SM2 speed: Zhengyin's signs/s and verifies/s beside ``openssl speed -seconds 3 sm2``.

Run: ``python bench/sm2_speed.py [--seconds 3]``. Everything runs single-threaded on the same
machine and signs a 20-byte message (as ``openssl speed`` does), with the default signer ID.
Rows: ``openssl speed``; each backend through the full Python API (``key.sign(msg)``,
``public_key.verify(msg, sig)``: SM3 of Z‖M, DER, nonce from os.urandom included); and, for the
native backend, its C functions alone (digest precomputed) and a verification with a key seen
for the first time (no table yet). The ratio column compares with ``openssl speed``.

Targets: the libcrypto backend at least 85% of OpenSSL's rate (it *is* OpenSSL, plus the
Python call overhead); the native backend at least 3x OpenSSL's rate, ``key.sign`` under 80 µs
and ``public_key.verify`` under 150 µs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seals import sm2

TARGET = 0.85
NATIVE_TARGET = 3.0
NATIVE_SIGN_US = 80.0
NATIVE_VERIFY_US = 150.0


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


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
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


def ours(backend: sm2.Sm2Backend, seconds: float) -> tuple[float, float]:
    key = sm2.generate_private_key(backend)
    public = key.public_key
    msg = b"\x00" * 20
    sig = key.sign(msg)
    signs = rate(lambda: key.sign(msg), seconds)
    verifies = rate(lambda: public.verify(msg, sig), seconds)
    return signs, verifies


def native_c_level(seconds: float) -> tuple[float, float, float]:
    """The C functions alone: ``(signs/s, verifies/s with the table, first-use verifies/s)``."""
    from seals import _sm2p256 as c

    key = sm2.generate_private_key(sm2.get_backend("native"))
    dinv = c.sign_setup(key.secret_bytes())
    e = sm2.sm3(b"\x00" * 20)
    rs = None
    while rs is None:
        rs = c.sign(dinv, e, os.urandom(64))
    r, s = rs
    xy = key.public_key.point[1:]
    public = c.PublicKey(xy)
    public.precompute()
    signs = rate(lambda: c.sign(dinv, e, os.urandom(64)), seconds)
    verifies = rate(lambda: public.verify(e, r, s), seconds)
    first = rate(lambda: c.PublicKey(xy).verify(e, r, s), seconds / 2)
    return signs, verifies, first


def signs_in_batches(seconds: float, size: int = 500) -> float:
    """Signatures per second of ``Sm2PrivateKey.sign_many`` over ``size`` messages (one
    field inversion shared by the batch), as issuance signs a chunk."""
    key = sm2.generate_private_key(sm2.get_backend("native"))
    messages = [os.urandom(190) for _ in range(size)]
    return size * rate(lambda: key.sign_many(messages), seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    ref = openssl_speed(args.seconds)
    head = f"{'implementation (1 core)':<40}{'sign/s':>10}{'verify/s':>10}"
    print(f"{head}{'sign x':>9}{'verify x':>10}")

    def row(label: str, s: float, v: float) -> None:
        if ref is not None:
            print(f"{label:<40}{s:>10.1f}{v:>10.1f}{s / ref[0]:>9.2f}{v / ref[1]:>10.2f}")
        else:
            print(f"{label:<40}{s:>10.1f}{v:>10.1f}")

    if ref is not None:
        row("openssl speed sm2", *ref)
    else:
        print("openssl speed sm2: not available")
    ok = True
    for backend in sm2.available_backends():
        s, v = ours(backend, args.seconds)
        row(f"zhengyin ({backend.name}) key.sign/verify", s, v)
        if backend.name == "libcrypto" and ref is not None:
            ok = ok and s / ref[0] >= TARGET and v / ref[1] >= TARGET
        if backend.name == "native":
            cs, cv, first = native_c_level(args.seconds)
            row("  native C functions alone", cs, cv)
            print(f"{'  native verify, key seen first time':<40}{'':>10}{first:>10.1f}")
            print(
                f"  native per call: key.sign {1e6 / s:.1f} µs, public_key.verify {1e6 / v:.1f} µs"
                f" (targets {NATIVE_SIGN_US:.0f} / {NATIVE_VERIFY_US:.0f} µs);\n"
                f"  C sign {1e6 / cs:.1f} µs, C verify {1e6 / cv:.1f} µs, "
                f"first-use verify {1e6 / first:.1f} µs"
            )
            many = signs_in_batches(args.seconds)
            print(
                f"  native key.sign_many, 500 at a time (issuance): {many:,.0f} signs/s = "
                f"{1e6 / many:.1f} µs each, against {1e6 / s:.1f} µs one by one"
            )
            ok = ok and 1e6 / s <= NATIVE_SIGN_US and 1e6 / v <= NATIVE_VERIFY_US
            if ref is not None:
                ok = ok and s / ref[0] >= NATIVE_TARGET and v / ref[1] >= NATIVE_TARGET
    print(
        f"targets: libcrypto >= {TARGET:.0%} of openssl; native >= {NATIVE_TARGET:.0f}x openssl, "
        f"sign <= {NATIVE_SIGN_US:.0f} µs, verify <= {NATIVE_VERIFY_US:.0f} µs: "
        f"{'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
