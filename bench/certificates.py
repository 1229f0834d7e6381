"""Issue 10,000 certificates as one batch end to end, then verify them all from their JSON.

Issuance: validate, canonicalize + digest, SM2-sign (every core), store (SQLite) with the
Merkle tree of the batch the request fills, then the batcher anchors it (one transaction).
Verification: parse, integrity, SM2 signature, Merkle proof (every core) and the chain facts
of all of them in one batched snapshot taken at the latest block.

Issuance writes an 'issued' event per certificate in its transaction, as the service and the
CLI do (``certs.events.issued_events``); ``--audit both`` alternates passes with and without
those events and prints both medians (their cost, measured in one run).

Run: .venv/bin/python bench/certificates.py [COUNT] [--runs N] [--audit on|off|both]
(default 10,000, 3 and on)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchchain import bench_chain

from certs.batcher import Batcher
from certs.events import Actor, issued_events
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.status import load_document_texts
from certs.store import Store
from seals.sm2 import KeySigner, default_backend, generate_private_key
from verifier.app.catalogue import authorize_everywhere, publish_catalogue
from verifier.checks.authority import entitlements
from verifier.checks.certificates import verify_documents

USCC = "91110000101623741K"
TODAY = dt.date(2026, 11, 28)
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(n: int) -> str:
    body = f"91330100{n:09d}"
    total = sum(_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + _ALPHABET[(31 - total % 31) % 31]


def licence(n: int) -> dict[str, object]:
    code = uscc(n)
    return {
        "type": "11100000MA0000001Q001",
        "number": f"L{n:08d}",
        "holder": {"name": f"杭州示例科技有限公司{n}", "code": code, "code_type": "001"},
        "issue_date": "2026-11-28",
        "valid_from": "2026-11-28",
        "valid_until": "2046-11-27",
        "jurisdiction": "330100",
        "fields": {
            "统一社会信用代码": code,
            "企业名称": f"杭州示例科技有限公司{n}",
            "类型": "有限责任公司",
            "法定代表人": "张三",
            "注册资本": "100万元人民币",
            "成立日期": "2020-01-01",
            "住所": "浙江省杭州市西湖区文三路1号",
            "经营范围": "技术开发、技术咨询、技术服务",
        },
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_pass(count: int, audit: bool = True) -> dict[str, float]:
    """Issue ``count`` licences as one batch on a fresh devnet (``audit``: with an 'issued'
    event each), then verify them all."""
    with bench_chain() as chain:
        rpc, home = chain.rpc, chain.home
        gov = chain.governance
        registry = chain.issuer
        account = chain.issuer.sender
        assert account is not None
        signer = KeySigner(generate_private_key())
        gov.register_issuer(USCC, "杭州市市场监督管理局")
        gov.add_account(USCC, account.address)
        publish_catalogue(gov)  # verification checks the issuer is authorized for the type
        authorize_everywhere(gov, USCC)
        gov.add_key(USCC, key_id_of(signer.public_key), 0, None, signer.public_key.point)
        store = Store.open(f"sqlite:///{home}/bench.sqlite3")
        profile = IssuerProfile(USCC, "杭州市市场监督管理局", signer)
        rows = [(i + 1, licence(i)) for i in range(count)]

        started = time.perf_counter()
        cpu_parent = time.process_time()
        cpu_workers = _children_cpu()
        # what the service does: the authorizations read once, every row checked against them
        allowed = entitlements(registry.authorization_events(USCC), USCC)
        report = issue(
            store, profile, rows, today=TODAY, entitlements=allowed,
            before_commit=(lambda connection, done: issued_events(
                connection, USCC, done.accepted, Actor("issuer", USCC))) if audit else None,
        )
        stored = time.perf_counter()
        cpu_parent = time.process_time() - cpu_parent
        cpu_workers = _children_cpu() - cpu_workers  # the pool's workers have been joined
        results = Batcher(store, lambda _: registry).run_once()
        done = time.perf_counter()
        assert len(report.accepted) == count and not report.rejected
        assert len(results) == 1 and results[0].state == "anchored"
        gas = int(rpc.call("eth_getTransactionReceipt", [results[0].tx_hash])["gasUsed"], 16)

        texts = load_document_texts(store, [a.identifier for a in report.accepted])
        # the issuing database's background checkpoint is not part of verifying (a counter
        # verifies in its own process); while its thread runs, this process could not fork
        # the verification workers and would spawn them
        store.wait_for_checkpoints()
        start_block = registry.block_number()
        started_verify = time.perf_counter()
        verdicts, block = verify_documents(
            texts, registry, today=TODAY, workers=os.cpu_count() or 1
        )
        verify_total = time.perf_counter() - started_verify
        assert all(v.outcome.value == "valid" for v in verdicts), verdicts[0].to_json()
        assert block is not None and block >= start_block
    return {
        "sign_store": stored - started,
        "anchor": done - stored,
        "cpu_parent": cpu_parent,
        "cpu_workers": cpu_workers,
        "issue": done - started,
        "gas": gas,
        "verify": verify_total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="passes, each on a fresh devnet")
    parser.add_argument("--audit", choices=("on", "off", "both"), default="on",
                        help="'issued' events written (on), not (off), or passes of each "
                        "in turn (both: each figure for both)")
    args = parser.parse_args()
    count = args.count
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.audit]
    by_mode: dict[bool, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(args.runs):
        for mode in modes:
            by_mode[mode].append(one_pass(count, mode))
    for mode in modes:
        if len(modes) > 1:
            print(f"--- {'with' if mode else 'without'} 'issued' events")
        report(count, by_mode[mode])


def report(count: int, passes: list[dict[str, float]]) -> None:

    def median(key: str) -> float:
        return statistics.median(p[key] for p in passes)

    def rates(key: str) -> str:
        return ", ".join(f"{count / p[key]:,.0f}" for p in passes)

    cores = os.cpu_count()
    backend = default_backend().name
    print(
        f"issue {count:,} certificates as one batch on {cores} cores "
        f"(SM2 backend {backend}; median of {len(passes)} passes, each on a fresh devnet):"
    )
    print(f"  validate, digest, sign, store, Merkle tree  {median('sign_store'):6.2f} s")
    parent, workers = median("cpu_parent"), median("cpu_workers")
    print(
        f"    CPU {1e6 * (parent + workers) / count:.0f} µs a certificate "
        f"(this process {1e6 * parent / count:.0f}, workers {1e6 * workers / count:.0f}); "
        f"at that cost {cores} idle cores would sign and store at most "
        f"{(cores or 1) * count / (parent + workers):,.0f}/s"
    )
    gas = median("gas")
    print(
        f"  anchor (the batcher)                        {median('anchor'):6.2f} s "
        "(one transaction, "
        f"{gas:,.0f} gas = {gas / count:.1f} gas/certificate)"
    )
    print(
        f"  end to end                                  {median('issue'):6.2f} s = "
        f"{count / median('issue'):,.0f} certificates/s (target >= 5,000/s; passes: "
        f"{rates('issue')})"
    )
    print(f"verify {count:,} certificates from JSON against the chain (latest block at start):")
    print(
        f"  {median('verify'):6.2f} s = {count / median('verify'):,.0f} verifications/s "
        f"(target >= 2,000/s; passes: {rates('verify')})"
    )


if __name__ == "__main__":
    main()
