"""Verifying sealed OFD files: median verify time of a ~1 MB OFD, and the worst hostile cases.

Run: ``python bench/ofd_verify.py [--runs 30] [--size-mb 1]``. Prints the median (and
min/max) wall time of ``verify_ofd`` over ``--runs`` runs for:

- ``v4signed``: ofdrw's ``v4signed.ofd`` (14 KB, one seal);
- ``padded, unprotected``: the same with a ``--size-mb`` incompressible image that no seal
  covers (the verdict is invalid: ``ofd.files``), what the brief of #20 asked for;
- ``padded, sealed again``: the padded file with a second seal (made here with a throw-away
  PKI, as any later signer would) over every file, the image included (invalid: the image
  is a file added after the first seal, which a later seal may not add — only its own);

then the time to refuse hostile packages (a zip bomb, 10,000 entries, billion laughs,
490,000 XML elements, 19,000 references to one 8 MB file), and last the largest package the
limits let through whole (20 MB, 64 MB of content, 480,000 XML elements): its CPU time and
the growth of the process's peak memory (measured last, as everything before needs less).
"""

from __future__ import annotations

import argparse
import base64
import io
import random
import resource
import statistics
import sys
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "seals"))

from seals_testlib import T0, Pki, make_seal  # type: ignore[import-not-found]

from seals import sm2
from seals.ofd import OfdError, verify_ofd
from seals.ofd.names import NS, SM2_SM3_OID, SM3_OID
from seals.seal import sign_data

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "interop" / "ofdrw" / "v4signed.ofd"
NOW = datetime(2026, 12, 4, tzinfo=UTC)


def files_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def rezip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def sealed_again(files: dict[str, bytes]) -> bytes:
    """``files`` with a second signature over every file (a throw-away PKI)."""
    pki = Pki()  # a throw-away root, seal maker and agency signer (the tests' own)
    signer, seal = pki.signer, make_seal(pki)
    refs = "".join(
        f'<ofd:Reference FileRef="/{n}"><ofd:CheckValue>'
        f"{base64.b64encode(sm2.sm3(d)).decode()}</ofd:CheckValue></ofd:Reference>"
        for n, d in files.items() if n != "Doc_0/Signs/Signatures.xml"
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature xmlns:ofd="{NS}">'
        f"<ofd:SignedInfo><ofd:SignatureMethod>{SM2_SM3_OID}</ofd:SignatureMethod>"
        f'<ofd:References CheckMethod="{SM3_OID}">{refs}</ofd:References>'
        '<ofd:StampAnnot ID="9" PageRef="1" Boundary="10 10 30 30"/></ofd:SignedInfo>'
        "<ofd:SignedValue>/Doc_0/Signs/Sign_1/SignedValue.dat</ofd:SignedValue>"
        "</ofd:Signature>"
    ).encode()
    value = sign_data(seal, signer.signer, signer.certificate, xml,
                      "/Doc_0/Signs/Sign_1/Signature.xml", at=T0 + timedelta(days=1))
    out = dict(files)
    out["Doc_0/Signs/Sign_1/Signature.xml"] = xml
    out["Doc_0/Signs/Sign_1/SignedValue.dat"] = value.der
    out["Doc_0/Signs/Signatures.xml"] = files["Doc_0/Signs/Signatures.xml"].replace(
        b"</ofd:Signatures>",
        b'<ofd:Signature ID="2" BaseLoc="/Doc_0/Signs/Sign_1/Signature.xml"/></ofd:Signatures>')
    return rezip(out)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float, float, object]:
    times = []
    result: object = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), max(times), result


def verdict(data: bytes) -> str:
    try:
        return "valid" if verify_ofd(data, now=NOW).ok else "invalid"
    except OfdError as exc:
        return f"refused [{exc.code}]"


def hostile() -> dict[str, bytes]:
    base = files_of(FIXTURE.read_bytes())
    cases: dict[str, bytes] = {}
    bomb = dict(base)
    bomb["Doc_0/Res/bomb.png"] = b"\0" * (30 << 20)
    cases["zip bomb (30 MB of zeros)"] = rezip(bomb)
    cases["10,000 entries"] = rezip({f"f{i}": b"" for i in range(10_000)}, zipfile.ZIP_STORED)
    laughs = dict(base)
    laughs["OFD.xml"] = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY a%d "%s">' % (i, b"&a;" * 10) for i in range(10)) + b"]><l>&a9;</l>"
    cases["billion laughs"] = rezip(laughs)
    elements = dict(base)
    elements["OFD.xml"] = f'<ofd:OFD xmlns:ofd="{NS}">'.encode() + b"<a/>" * 490_000 + \
        b"</ofd:OFD>"
    cases["490,000 XML elements"] = rezip(elements, zipfile.ZIP_STORED)
    refs = dict(base)
    refs["Doc_0/Res/big.bin"] = random.Random(1).randbytes(8 << 20)
    ref = b'<ofd:Reference FileRef="/Doc_0/Res/big.bin"><ofd:CheckValue>AAAA</ofd:CheckValue>' \
        b"</ofd:Reference>"
    xml = refs["Doc_0/Signs/Sign_0/Signature.xml"]
    refs["Doc_0/Signs/Sign_0/Signature.xml"] = xml.replace(
        b"</ofd:References>", ref * 19_000 + b"</ofd:References>")
    cases["19,000 references to one 8 MB file"] = rezip(refs, zipfile.ZIP_STORED)
    return cases


def largest() -> bytes:
    """About 20 MB (the API's upload limit), 64 MB inflated, 480,000 XML elements."""
    files = files_of(FIXTURE.read_bytes())
    rng = random.Random(3)
    chunk = bytes(rng.choice(b"0123") for _ in range(1 << 16))
    for i in range(27):
        files[f"Doc_0/Res/r{i}.bin"] = chunk * 32
    page = files["Doc_0/Pages/Page_0/Content.xml"]
    files["Doc_0/Pages/Page_0/Content.xml"] = page.replace(b"</ofd:Page>", b"".join(
        b'<x a="%d"/>' % rng.getrandbits(40) for _ in range(480_000)) + b"</ofd:Page>")
    return rezip(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--size-mb", type=float, default=1.0)
    args = parser.parse_args()
    original = FIXTURE.read_bytes()
    padded_files = files_of(original)
    padded_files["Doc_0/Res/pad.png"] = random.Random(7).randbytes(int(args.size_mb * (1 << 20)))
    padded = rezip(padded_files)
    again = sealed_again(padded_files)
    print(f"verify_ofd, median of {args.runs} runs (min–max), wall time")
    for label, data in (
        ("v4signed", original),
        ("padded, unprotected", padded),
        ("padded, sealed again", again),
    ):
        med, lo, hi, _ = timed(lambda d=data: verify_ofd(d, now=NOW), args.runs)  # type: ignore[misc]
        print(f"  {label:<24} {len(data) / 1e6:6.2f} MB  {med * 1e3:7.1f} ms "
              f"({lo * 1e3:.1f}–{hi * 1e3:.1f})  verdict: {verdict(data)}")
    print("hostile packages, median of 5 runs")
    for label, data in hostile().items():
        med, _, hi, _ = timed(lambda d=data: verdict(d), 5)  # type: ignore[misc]
        print(f"  {label:<36} {len(data) / 1e6:6.2f} MB  {med * 1e3:7.1f} ms (max "
              f"{hi * 1e3:.1f})  {verdict(data)}")
    data = largest()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    outcome = verdict(data)
    cpu = time.process_time() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"largest package read whole: {len(data) / 1e6:.1f} MB, {cpu:.2f} s of CPU, peak "
          f"memory +{grown:.0f} MB ({outcome})")


if __name__ == "__main__":
    main()
