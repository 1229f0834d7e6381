"""``zhengyin demo``: an agency, a counter key and a few certificates on the local chain,
so a new user can try the counter page at once (one certificate is revoked, to see a fail)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from certs import qr, shortcode
from certs.batcher import Batcher
from certs.issuance import issue
from certs.status import change_status, load_records
from verifier.app.agency import (
    add_issuer,
    hash_api_key,
    issuer_chain_client,
    issuer_profile,
    new_api_key,
    open_store,
)
from verifier.app.catalogue import issuing_entitlements
from verifier.app.context import registry
from verifier.cli.devnet import deploy_and_report
from verifier.settings import Settings

AGENCY = ("91360100MA35ABCD1R", "示例市行政审批局")
EXAMPLE_TYPE = "11100000000013338W032"
REQUESTS = [
    {
        "type": EXAMPLE_TYPE,
        "number": "DEMO-0001",
        "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
        "jurisdiction": "360100",
        "fields": {"用途": "免证办理演示"},
    },
    {
        "type": EXAMPLE_TYPE,
        "number": "DEMO-0002",
        "holder": {"name": "王䶮", "code": "36010219900101123X", "code_type": "111"},
        "jurisdiction": "360100",
        "valid_until": "2036-11-27",
    },
    {
        "type": EXAMPLE_TYPE,
        "number": "DEMO-0003",
        "holder": {"name": "李四", "code": "440305198512124565", "code_type": "111"},
        "jurisdiction": "360100",
    },
]


def seed(settings: Settings, out: Path, echo: Callable[[str], object]) -> dict[str, object]:
    deploy_and_report(settings, echo=echo)
    uscc, name = AGENCY
    added = add_issuer(settings, uscc, name, jurisdiction="360100")
    admin = registry(settings, write=True)
    if not any(g.covers(int(time.time()), "360100") for g in admin.grants(uscc, EXAMPLE_TYPE)):
        # what an administrator does for an agency: the type it issues, in its city
        admin.authorize(uscc, EXAMPLE_TYPE, 0, None, "3601")
    store = open_store(settings)
    counter_key = new_api_key()
    store.add_api_key("counter", "演示窗口", hash_api_key(counter_key))
    auditor_key = new_api_key()
    store.add_api_key("auditor", "演示审计", hash_api_key(auditor_key))
    report = issue(
        store, issuer_profile(settings, store, uscc), list(enumerate(REQUESTS, 1)),
        entitlements=issuing_entitlements(settings, store, uscc),
    )
    Batcher(store, lambda u: issuer_chain_client(settings, u)).run_once()
    ids = [a.identifier for a in report.accepted]
    change_status(
        store,
        issuer_chain_client(settings, uscc),
        uscc,
        ids[-1:],
        "revoke",
        reason_code=1,
        reason="演示：信息有误，已撤销",
    )
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {
        "issuer": uscc,
        "issuer_api_key": added.api_key,
        "counter_api_key": counter_key,
        "auditor_api_key": auditor_key,
        "certificates": [],
    }
    echo(f"agency {uscc} {name}; issuer API key {added.api_key}")
    echo(f"counter API key (paste it into the counter page): {counter_key}")
    echo(f"auditor API key: {auditor_key}")
    for record in load_records(store, ids):
        path = out / f"{record.identifier}.json"
        path.write_text(record.document.to_json() + "\n", encoding="utf-8")
        payload = qr.payload_for(record.document).encode()
        code = shortcode.short_code(record.identifier, record.document.leaf)
        state = "revoked" if record.status == "revoked" else "valid"
        echo(f"{state:<8} {record.identifier}")
        echo(f"         document {path}")
        echo(f"         QR       {payload}")
        echo(f"         核验码   {code}")
        entries = summary["certificates"]
        assert isinstance(entries, list)
        entries.append(
            {
                "identifier": record.identifier,
                "status": record.status,
                "document": str(path),
                "qr": payload,
                "short_code": code,
            }
        )
    (out / "demo.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    echo(f"all of this in {out / 'demo.json'}; now run `make serve` and open the counter page")
    return summary
