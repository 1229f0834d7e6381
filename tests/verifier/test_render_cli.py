"""``zhengyin issue … --pdf`` and ``zhengyin render``: sealed, anchored certificate PDFs that
``zhengyin verify`` accepts in full, through the installed command against a real devnet."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from certs import qr
from certs.canonical import CertificateDocument
from seals.pdf import verify_pdf
from seals.pdf.attachments import embedded_files
from tests.conftest import free_port
from tests.verifier.test_cli_devnet import zhengyin_command

USCC = "91110000101623741K"
ISSUER_NAME = "示例市市场监督管理局"
RARE_NAME = "王𠮷䶮"

Run = Callable[..., subprocess.CompletedProcess[str]]


def request(name: str) -> dict[str, object]:
    return {
        "type": "11100000000013338W032",
        "holder": {"name": name, "code": "11010519491231002X", "code_type": "111"},
        "issue_date": "2026-11-28",
        "valid_from": "2026-11-28",
        "valid_until": "2031-11-27",
        "jurisdiction": "360100",
        "fields": {"备注": "堃喆赟玥昇"},
    }


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("render-home")
    env = {**os.environ, "ZHENGYIN_HOME": str(home), "ZHENGYIN_DEVNET_PORT": str(free_port())}
    env.pop("ZHENGYIN_RPC_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*zhengyin_command(), *args], env=env, capture_output=True,
                              text=True, timeout=180, check=False)

    try:
        assert run("devnet", "up").returncode == 0
        deployed = run("deploy")
        assert deployed.returncode == 0, deployed.stderr
        added = run("issuer", "add", "--code", USCC, "--name", ISSUER_NAME, "--json")
        assert added.returncode == 0, added.stderr
        granted = run("issuer", "authorize", "--code", USCC, "--type", "11100000000013338W032")
        assert granted.returncode == 0, granted.stderr
        yield run
    finally:
        run("devnet", "down")


@pytest.fixture(scope="module")
def issued(cli: Run, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("issued")
    requests = out / "requests.json"
    requests.write_text(json.dumps([request(RARE_NAME), request("张三")], ensure_ascii=False),
                        encoding="utf-8")
    result = cli("issue", "--issuer", USCC, "--input", str(requests), "--out", str(out), "--pdf",
                 "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["anchored"] is True
    identifiers = [a["identifier"] for a in report["accepted"]]
    assert sorted(report["pdfs"]) == sorted(str(out / f"{i}.pdf") for i in identifiers)
    return out, identifiers


def test_issue_pdf_writes_sealed_certificates_next_to_the_json(
    issued: tuple[Path, list[str]]
) -> None:
    out, identifiers = issued
    for identifier in identifiers:
        document = CertificateDocument.from_json((out / f"{identifier}.json").read_bytes())
        pdf = (out / f"{identifier}.pdf").read_bytes()
        report = verify_pdf(pdf)
        assert [s.seal_name for s in report.signatures] == [ISSUER_NAME]
        assert embedded_files(pdf)["certificate.json"] == document.to_json().encode("utf-8")
        text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
        assert identifier in text and ISSUER_NAME in text and "堃喆赟玥昇" in text
    first = PdfReader(io.BytesIO((out / f"{identifiers[0]}.pdf").read_bytes()))
    assert RARE_NAME in first.pages[0].extract_text()


def test_render_writes_a_pdf_that_verifies_in_full(
    cli: Run, issued: tuple[Path, list[str]], tmp_path: Path
) -> None:
    _, identifiers = issued
    target = tmp_path / "out" / "certificate.pdf"
    rendered = cli("render", identifiers[0], "--out", str(target))
    assert rendered.returncode == 0, rendered.stderr
    assert "anchored in block" in rendered.stdout
    verdict = cli("verify", "--json", str(target))
    body = json.loads(verdict.stdout)
    assert verdict.returncode == 0 and body["verdict"] == "valid", verdict.stdout
    statuses = {c["name"]: c["status"] for c in body["checks"]}
    for name in ("pdf.anchored", "certificate.signature", "certificate.merkle_proof",
                 "certificate.status"):
        assert statuses.get(name) == "VALID", (name, body["checks"])

    # the sealed page still scans: QR at 150 dpi carries the certificate's payload
    attached = embedded_files(target.read_bytes())["certificate.json"]
    document = CertificateDocument.from_json(attached)
    subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-singlefile", "-png",
                    str(target), str(tmp_path / "page")], check=True)
    with Image.open(tmp_path / "page.png") as page:
        texts = [r.text for r in zxingcpp.read_barcodes(page.convert("RGB"))]
    assert texts == [qr.payload_for(document).encode()]


def test_render_ofd_writes_a_sealed_anchored_package(
    cli: Run, issued: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """``render --format ofd`` (or an ``.ofd`` name): the certificate as a sealed OFD, its
    certificate.json the stored document, its seal over Signature.xml, anchored."""
    from seals.ses import parse_signature
    from seals.sm2 import sm3

    _, identifiers = issued
    target = tmp_path / "out" / "certificate.ofd"
    rendered = cli("render", identifiers[0], "--out", str(target), "--json")
    assert rendered.returncode == 0, rendered.stderr
    body = json.loads(rendered.stdout)
    assert body["format"] == "ofd" and body["out"] == str(target)
    assert body["anchor"] is not None and body["anchor"]["block"] > 0, body
    with zipfile.ZipFile(target) as package:
        document = CertificateDocument.from_json(package.read("Doc_0/Attachs/certificate.json"))
        signature_xml = package.read("Doc_0/Signs/Sign_0/Signature.xml")
        value = parse_signature(package.read("Doc_0/Signs/Sign_0/SignedValue.dat"))
    assert document.values()["identifier"] == identifiers[0]
    assert value.data_hash == sm3(signature_xml)
    assert value.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"

    named = tmp_path / "certificate.bin"
    chosen = cli("render", identifiers[1], "--out", str(named), "--format", "ofd", "--no-anchor",
                 "--json")
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["anchor"] is None and zipfile.is_zipfile(named)
    wrong = cli("render", identifiers[1], "--out", str(named), "--format", "doc")
    assert wrong.returncode == 2 and "'--format'" in wrong.stderr, wrong.stderr


def test_render_refuses_a_pending_certificate(cli: Run, tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text(json.dumps(request("李四"), ensure_ascii=False), encoding="utf-8")
    queued = cli("issue", "--issuer", USCC, "--input", str(single), "--no-wait", "--json")
    assert queued.returncode == 0, queued.stderr
    identifier = json.loads(queued.stdout)["accepted"][0]["identifier"]
    refused = cli("render", identifier, "--out", str(tmp_path / "x.pdf"))
    assert refused.returncode == 1
    assert refused.stderr.startswith("error [not_anchored]: "), refused.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_cli_errors_are_one_line_with_a_code(cli: Run, tmp_path: Path) -> None:
    unknown = cli("render", "1.2.156.3005.2.11100000000013338W032.91110000101623741K.9.001.X",
                  "--out", str(tmp_path / "y.pdf"))
    assert unknown.returncode == 1 and unknown.stderr.startswith("error [")
    single = tmp_path / "one.json"
    single.write_text(json.dumps(request("李四"), ensure_ascii=False), encoding="utf-8")
    no_out = cli("issue", "--issuer", USCC, "--input", str(single), "--pdf")
    assert no_out.returncode == 2 and no_out.stderr.startswith("error [usage]: ")
