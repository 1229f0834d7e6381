"""Stamping anchors the sealed document on chain; verification checks that anchor; QR by CLI."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.verifier.test_cli_devnet import zhengyin_command

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pdf" / "three-pages.pdf"
USCC = "91110000101623741K"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("pdf-home")
    env = {**os.environ, "ZHENGYIN_HOME": str(home), "ZHENGYIN_DEVNET_PORT": str(free_port())}
    env.pop("ZHENGYIN_RPC_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*zhengyin_command(), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    assert run("devnet", "up").returncode == 0
    assert run("deploy").returncode == 0
    added = run("issuer", "add", "--code", USCC, "--name", "示例市市场监督管理局", "--json")
    assert added.returncode == 0, added.stderr
    granted = run("issuer", "authorize", "--code", USCC, "--type", "11100000000013338W032")
    assert granted.returncode == 0, granted.stderr
    yield run
    run("devnet", "down")


def test_stamped_pdf_is_anchored_and_verified(cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "sealed.pdf"
    stamped = cli("seal", "stamp", "--issuer", USCC, str(SAMPLE), str(out))
    assert stamped.returncode == 0, stamped.stderr
    assert "anchored in block" in stamped.stdout
    verdict = cli("verify", "--json", str(out))
    body = json.loads(verdict.stdout)
    assert verdict.returncode == 0, verdict.stdout
    anchored = [c for c in body["checks"] if c["name"] == "pdf.anchored"]
    assert [c["status"] for c in anchored] == ["VALID"] and USCC in anchored[0]["reason"]

    # a second seal on top: both revisions anchored, both seals valid
    twice = tmp_path / "twice.pdf"
    assert (
        cli("seal", "stamp", "--issuer", USCC, str(out), str(twice), "--page", "1").returncode == 0
    )
    body = json.loads(cli("verify", "--json", str(twice)).stdout)
    assert body["verdict"] == "valid"
    assert [c["status"] for c in body["checks"] if c["name"] == "pdf.anchored"] == [
        "VALID",
        "VALID",
    ]


def test_unanchored_seal_is_invalid_where_a_chain_is_configured(cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "quiet.pdf"
    assert (
        cli("seal", "stamp", "--issuer", USCC, str(SAMPLE), str(out), "--no-anchor").returncode == 0
    )
    verdict = cli("verify", "--json", str(out))
    body = json.loads(verdict.stdout)
    assert verdict.returncode == 1 and body["verdict"] == "invalid"
    assert [c["status"] for c in body["checks"] if c["name"] == "pdf.anchored"] == ["INVALID"]


def test_verify_qr_by_cli(cli: Run, tmp_path: Path) -> None:
    request = tmp_path / "req.json"
    request.write_text(
        json.dumps(
            {
                "type": "11100000000013338W032",
                "jurisdiction": "360100",
                "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
            }
        )
    )
    issued = cli("issue", "--issuer", USCC, "--input", str(request), "--out", str(tmp_path))
    assert issued.returncode == 0, issued.stderr
    from certs import qr
    from certs.canonical import CertificateDocument
    from certs.identifiers import build_identifier

    doc = next(tmp_path.glob("1.2.156.3005.2.*.json"))
    payload = qr.payload_for(CertificateDocument.from_json(doc.read_bytes())).encode()
    good = cli("verify", "--qr", payload, "--json")
    assert good.returncode == 0 and json.loads(good.stdout)["verdict"] == "valid"
    shown = json.loads(good.stdout)["subject"]
    assert shown["type.name"] == "示例证照" and shown["issuer.name"]
    bad = cli("verify", "--qr", payload[:-3] + "AAA")
    assert bad.returncode == 1 and "verdict: invalid" in bad.stdout
    # issue #14 item 1: another well-formed identifier of the agency on the genuine tail
    other = build_identifier("11100000000013338W032", USCC, "99999999")
    forged = ".".join(["ZY2", str(other).removeprefix(qr.IDENTIFIER_PREFIX),
                       *payload.split(".")[-4:]])
    swapped = cli("verify", "--qr", forged, "--json")
    assert swapped.returncode == 1, swapped.stdout
    assert [c["status"] for c in json.loads(swapped.stdout)["checks"]
            if c["name"] == "certificate.signature"] == ["INVALID"]
    neither = cli("verify")
    assert neither.returncode == 2 and neither.stderr.startswith("error [usage]")
