"""An auditor rebuilds a certificate's timeline and verdict from the chain alone."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

from certs.batcher import Batcher
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.status import change_status, load_record
from certs.store import Store
from chain.registry import Deployment
from devnet.anvil import DevnetInfo
from devnet.deploy import DeploymentRecord
from seals.sm2 import KeySigner, generate_private_key
from tests.conftest import Issuer
from tests.verifier.test_cli_devnet import zhengyin_command


def test_timeline_and_verdict_need_no_service_database(
    issuer: Issuer, devnet: DevnetInfo, deployment: Deployment, tmp_path: Path
) -> None:
    signer = KeySigner(generate_private_key())
    issuer.registry.add_key(issuer.uscc, key_id_of(signer.public_key), 0, None,
                            signer.public_key.point)
    store = Store.open(f"sqlite:///{tmp_path / 'service.sqlite3'}")
    request = {"type": "11100000000013338W032", "jurisdiction": "360100",
               "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"}}
    report = issue(store, IssuerProfile(issuer.uscc, "机关", signer), [(1, request)],
                   today=dt.date(2026, 11, 28))
    Batcher(store, lambda _: issuer.registry).run_once()
    identifier = report.accepted[0].identifier
    change_status(store, issuer.registry, issuer.uscc, [identifier], "suspend", reason_code=7)
    document = tmp_path / "certificate.json"
    document.write_text(load_record(store, identifier).document.to_json())

    auditor_home = tmp_path / "auditor"  # knows the deployment, has no database, no keys
    DeploymentRecord(auditor_home).save(deployment)
    env = {**os.environ, "ZHENGYIN_HOME": str(auditor_home), "ZHENGYIN_RPC_URL": devnet.url}
    result = subprocess.run([*zhengyin_command(), "history", str(document), "--from-chain",
                             "--json"], env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 1, result.stderr  # re-verified: suspended, so invalid
    out = json.loads(result.stdout)
    assert out["identifier"] == identifier and out["status"] == "suspended"
    events = out["events"]
    assert [e["event"] for e in events if e["about"] == "certificate"] == [
        "anchored", "suspended"
    ]
    # what stands behind it, in chain order: the type in the catalogue, the issuer's
    # registration, key and authorization for that type
    names = [e["event"] for e in events]
    for before, after in (("type_added", "authorized"), ("issuer_registered", "key_added"),
                          ("key_added", "anchored"), ("authorized", "anchored")):
        assert names.index(before) < names.index(after), names
    assert {e["about"] for e in events} == {"certificate", "type", "authorization", "issuer"}
    assert [(e["block"], e["time"]) for e in events] == sorted(
        (e["block"], e["time"]) for e in events
    )
    assert "typeCode=11100000000013338W032" in next(
        e["detail"] for e in events if e["event"] == "authorized"
    )
    assert all(e["tx_hash"].startswith("0x") and e["block"] > 0 for e in events)
    assert out["verification"]["verdict"] == "invalid"
    assert not (auditor_home / "zhengyin.sqlite3").exists()
