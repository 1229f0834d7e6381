"""The project's chain client against web3.py (the figures of docs/decisions/0001-chain-client.md).

Measures, on this machine:
  1. import time: a fresh interpreter importing the project's chain client, or web3
     (best of 5, so the disk cache is warm for both);
  2. what installing web3 adds: the distributions it needs that the project's own runtime
     does not, their count and size on disk;
  3. building and signing an `anchor` transaction (ABI encoding, fee fields, signing) with
     everything known (no network): microseconds per transaction;
  4. sending `anchor` transactions on a devnet and reading a certificate's status back
     (`eth_call`), each end to end: milliseconds per call.
web3 is a test dependency (tests/chain/test_web3_agrees.py); without it this prints so and
stops.

Run: .venv/bin/python bench/chain_client.py
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchchain import bench_chain

from chain.contracts import load_artefact
from chain.registry import issuer_id
from chain.transactions import LocalAccount

RUNTIME_ROOTS = ("eth-abi", "eth-utils", "rlp", "coincurve", "requests")
"""What the project's chain client itself needs (chain/*.py)."""


def import_seconds(statement: str) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def _name(requirement: str) -> str:
    return re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def closure(roots: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = [r.lower() for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for requirement in dist.requires or ():
            if "extra ==" in requirement:
                continue
            todo.append(_name(requirement))
    return seen


def size_on_disk(name: str) -> int:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or ():
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def per_call(fn: Callable[[], Any], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - started) / count


def main() -> None:
    try:
        limit = sys.getrecursionlimit()
        from web3 import Web3

        sys.setrecursionlimit(limit)
    except ImportError:
        print("web3 is not installed (pip install web3==8.0.0): nothing to compare")
        return
    print(f"web3 {metadata.version('web3')}, eth-account {metadata.version('eth-account')}")

    ours_import = import_seconds("import chain.registry, chain.transactions")
    theirs_import = import_seconds("import web3")
    print(f"import: project chain client {ours_import * 1000:.0f} ms, "
          f"web3 {theirs_import * 1000:.0f} ms (fresh interpreter, best of 5, "
          f"python startup {import_seconds('pass') * 1000:.0f} ms included)")

    ours = closure(RUNTIME_ROOTS)
    added = sorted(closure(("web3",)) - ours)
    added_bytes = sum(size_on_disk(n) for n in added)
    ours_bytes = sum(size_on_disk(n) for n in ours)
    print(f"install: the chain client needs {len(ours)} distributions, "
          f"{ours_bytes / 1e6:.1f} MB; web3 adds {len(added)}, {added_bytes / 1e6:.1f} MB: "
          + ", ".join(added))

    key = "0x" + secrets.token_hex(32)
    account = LocalAccount(key)
    w3 = Web3()
    abi = load_artefact("CertificateRegistry").abi
    address = Web3.to_checksum_address("0x" + "42" * 20)
    contract = w3.eth.contract(address=address, abi=abi)
    from chain.abi import contract_abi

    ours_abi = contract_abi("CertificateRegistry")
    who = issuer_id("91110000000000000X")
    fees = {"maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9}

    def ours_build_sign() -> bytes:
        data = ours_abi.encode_call("anchor", who, secrets.token_bytes(32), 100)
        return account.sign_transaction(
            {"chainId": 31337, "nonce": 7, "gas": 120_000, **fees, "to": address,
             "value": 0, "data": data}
        )

    def web3_build_sign() -> bytes:
        tx = contract.functions.anchor(who, secrets.token_bytes(32), 100).build_transaction(
            {"chainId": 31337, "nonce": 7, "gas": 120_000, **fees, "from": account.address}
        )
        return bytes(w3.eth.account.sign_transaction(tx, key).raw_transaction)

    for fn in (ours_build_sign, web3_build_sign):
        per_call(fn, 50)  # warm
    ours_sign = per_call(ours_build_sign, 2000)
    theirs_sign = per_call(web3_build_sign, 2000)
    print(f"build + sign an anchor transaction (no network): project "
          f"{ours_sign * 1e6:.0f} µs, web3 {theirs_sign * 1e6:.0f} µs")

    with bench_chain() as chain:
        uscc = "91110000000000000X"
        chain.governance.register_issuer(uscc, "测试")
        assert chain.issuer.sender is not None
        chain.governance.add_account(uscc, chain.issuer.sender.address)
        from verifier.app.catalogue import authorize_everywhere, publish_catalogue

        publish_catalogue(chain.governance)
        authorize_everywhere(chain.governance, uscc)
        node = Web3(Web3.HTTPProvider(chain.rpc.url))
        deployed = node.eth.contract(
            address=chain.issuer.deployment.certificate_registry, abi=abi
        )
        sender = chain.issuer.sender
        # the same account through web3: its own nonces, fees, gas estimate, signing
        web3_key = "0x" + secrets.token_hex(32)
        web3_account = node.eth.account.from_key(web3_key)
        chain.rpc.call("anvil_setBalance", [web3_account.address, hex(10**21)])
        chain.governance.add_account(uscc, web3_account.address)

        def ours_send() -> None:
            chain.issuer.anchor(uscc, secrets.token_bytes(32), 1)

        def web3_send() -> None:
            tx = deployed.functions.anchor(who, secrets.token_bytes(32), 1).build_transaction(
                {"from": web3_account.address,
                 "nonce": node.eth.get_transaction_count(web3_account.address, "pending")}
            )
            signed = node.eth.account.sign_transaction(tx, web3_key)
            node.eth.wait_for_transaction_receipt(
                node.eth.send_raw_transaction(signed.raw_transaction), poll_latency=0.01
            )

        leaf = secrets.token_bytes(32)
        chain.issuer.revoke(uscc, leaf, 3)

        def ours_read() -> None:
            chain.issuer.status_of(uscc, leaf)

        def web3_read() -> None:
            deployed.functions.statusOf(who, leaf).call()

        for fn in (ours_send, web3_send, ours_read, web3_read):
            per_call(fn, 5)
        print(f"send anchor and wait for its receipt (devnet): project "
              f"{per_call(ours_send, 100) * 1000:.2f} ms, web3 "
              f"{per_call(web3_send, 100) * 1000:.2f} ms")
        print(f"read a certificate status (eth_call): project "
              f"{per_call(ours_read, 500) * 1000:.2f} ms, web3 "
              f"{per_call(web3_read, 500) * 1000:.2f} ms")
        assert sender is not None


if __name__ == "__main__":
    main()
