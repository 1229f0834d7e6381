"""Certificate hashing speed: a 10,000-leaf SM3 Merkle tree with all proofs, and the
canonicalize + digest cost per certificate.

Run: ``python bench/merkle_build.py [--certificates 10000] [--repeat 5]``. Single-threaded.
Prints the best and median of ``--repeat`` runs for:

- building a 10,000-leaf tree and every inclusion proof (target: < 100 ms);
- ``make_document`` for 10,000 distinct realistic certificates (营业执照, 26 claims: salts,
  claim digests, leaf), in certificates/s (target: well above the 5,000/s issuance target,
  aim 20,000/s on one core);
- ``check_leaf`` on the same documents with three claims hidden (the verifier's side);
- ``parse_request`` + ``build_certificate`` (request validation, for comparison).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from certs.canonical import check_leaf, disclose, make_document
from certs.identifiers import uscc_check_char
from certs.merkle import MerkleTree
from certs.model import Certificate, build_certificate
from certs.request_parser import parse_request
from certs.types import default_registry

TODAY = dt.date(2026, 11, 28)
ISSUER = "11110105MB0000000" + uscc_check_char("11110105MB0000000")
REGISTRY = default_registry()
LICENCE = REGISTRY.get("11100000MA0000001Q001")


def uscc(n: int) -> str:
    body = f"91110105{n:09d}"
    return body + uscc_check_char(body)


def request(n: int) -> dict[str, Any]:
    code = uscc(n)
    name = f"北京某某{n}号科技有限公司"
    return {
        "type": LICENCE.code,
        "number": f"110105{n:09d}",
        "holder": {"name": name, "code": code, "code_type": "001"},
        "issue_date": "2026-11-28",
        "valid_until": None,
        "jurisdiction": "110105",
        "fields": {
            "统一社会信用代码": code,
            "企业名称": name,
            "类型": "有限责任公司（自然人投资或控股）",
            "法定代表人": "张三",
            "注册资本": f"{100 + n % 900}万元人民币",
            "成立日期": "2015-06-01",
            "住所": f"北京市朝阳区某某路{n % 300 + 1}号院2号楼3层301",
            "经营范围": "技术开发、技术咨询、技术服务；软件开发。"
            "（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
        },
        "annotations": [],
    }


def certificate_of(obj: dict[str, Any], n: int) -> Certificate:
    req = parse_request(obj, issuer_uscc=ISSUER, registry=REGISTRY, today=TODAY)
    return build_certificate(
        req, certificate_type=LICENCE, issuer_name="北京市朝阳区市场监督管理局", serial=f"{n:09d}"
    )


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) wall time in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, repeat = args.certificates, args.repeat

    leaves = [os.urandom(32) for _ in range(n)]
    best, median = timed(lambda: MerkleTree.build(leaves).proofs(), repeat)
    print(
        f"merkle: {n} leaves, root + all proofs: best {best * 1e3:.1f} ms, "
        f"median {median * 1e3:.1f} ms (target < 100 ms)"
    )

    requests = [request(i) for i in range(n)]
    best, median = timed(lambda: [certificate_of(r, i) for i, r in enumerate(requests)], repeat)
    print(
        f"validate: parse_request + build_certificate: best {n / best:,.0f}/s "
        f"({best / n * 1e6:.1f} µs each), median {n / median:,.0f}/s"
    )

    certs = [certificate_of(r, i) for i, r in enumerate(requests)]
    claims = len(make_document(certs[0]).claims)
    best, median = timed(lambda: [make_document(c) for c in certs], repeat)
    print(
        f"canonicalize+digest: make_document, {claims} claims each: best {n / best:,.0f} "
        f"certificates/s ({best / n * 1e6:.1f} µs each), median {n / median:,.0f}/s "
        "(aim >= 20,000/s)"
    )

    shown = [
        disclose(make_document(c), ["holder.code", "fields.注册资本", "fields.住所"]) for c in certs
    ]
    best, median = timed(lambda: [check_leaf(d) for d in shown], repeat)
    print(
        f"verify leaf: check_leaf with 3 hidden claims: best {n / best:,.0f}/s "
        f"({best / n * 1e6:.1f} µs each), median {n / median:,.0f}/s"
    )


if __name__ == "__main__":
    main()
