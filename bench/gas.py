"""Gas per contract operation on a fresh devnet; anchoring must not depend on batch size.

Run: .venv/bin/python bench/gas.py
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchchain import bench_chain


def main() -> None:
    with bench_chain() as chain:
        gov = chain.governance
        reg = chain.issuer
        account = chain.issuer.sender
        assert account is not None
        uscc = "91110000101623741K"
        rows: list[tuple[str, int]] = []

        def measure(name: str, receipt: object) -> None:
            rows.append((name, receipt.gas_used))  # type: ignore[attr-defined]

        measure("registerIssuer", gov.register_issuer(uscc, "示例市市场监督管理局", "110105"))
        measure("addAccount", gov.add_account(uscc, account.address))
        # the catalogue and authorizations (issue #16)
        code, digest = "11100000MA0000001Q001", secrets.token_bytes(32)
        measure("addType", gov.add_type(code, "营业执照", "国家市场监督管理总局", digest))
        measure("reviseType", gov.revise_type(code, "营业执照", "国家市场监督管理总局", digest))
        measure("authorize", gov.authorize(uscc, code, 1_700_000_000, None, "1101"))
        measure("authorize (a second grant)", gov.authorize(uscc, code, 1_800_000_000))
        measure("deauthorize (two grants)", gov.deauthorize(uscc, code))
        other = "11100000MA0000001Q002"
        gov.add_type(other, "食品经营许可证", "国家市场监督管理总局", digest)
        measure("withdrawType", gov.withdraw_type(other))
        measure("setAdminScope", gov.set_admin_scope("0x" + "11" * 20, "36"))
        key = secrets.token_bytes(32)
        measure("addKey", reg.add_key(uscc, key, 1_700_000_000, None))
        measure("retireKey", reg.retire_key(uscc, key, 1_800_000_000))
        measure("reportKeyCompromised", reg.report_key_compromised(uscc, key, 1_750_000_000))
        anchors = {}
        for size in (1, 100, 10_000, 100_000):
            receipt = reg.anchor(uscc, secrets.token_bytes(32), size)
            anchors[size] = receipt.gas_used
            measure(f"anchor (batch of {size:,})", receipt)
        measure("anchorDocument", reg.anchor_document(uscc, secrets.token_bytes(32)))
        leaf = secrets.token_bytes(32)
        measure("suspend", reg.suspend(uscc, leaf, 1))
        measure("reinstate", reg.reinstate(uscc, leaf))
        measure("revoke", reg.revoke(uscc, leaf, 2))
        measure(
            "supersede",
            reg.supersede(uscc, secrets.token_bytes(32), secrets.token_bytes(32), 3),
        )
        leaves = [secrets.token_bytes(32) for _ in range(100)]
        bulk = reg.revoke_many(uscc, leaves, 2)
        measure("revokeMany (100 leaves)", bulk)
        measure(
            "suspendMany (100 leaves)",
            reg.suspend_many(uscc, [secrets.token_bytes(32) for _ in range(100)], 1),
        )
    print(f"{'operation':<30}{'gas':>10}")
    for name, gas in rows:
        print(f"{name:<30}{gas:>10,}")
    spread = max(anchors.values()) - min(anchors.values())
    # the only difference between batch sizes is calldata: 4 gas per zero byte, 16 per other
    # byte of the (random) root and the encoded leaf count
    print(
        f"anchor gas spread across batch sizes 1..100,000: {spread} gas "
        f"({'calldata bytes only' if spread < 100 else 'DEPENDS ON BATCH SIZE'})"
    )
    for size in (1_000, 10_000):
        print(f"anchor gas per certificate at {size:,} per batch: {anchors[10_000] / size:.2f}")
    print(f"bulk revocation gas per leaf: {bulk.gas_used / 100:,.0f}")


if __name__ == "__main__":
    main()
