"""A certificate file (PDF or OFD) is the issuer's only if the issuer anchored it.

Any registered agency holds a valid seal and may anchor what it seals. Before this rule, agency
B could take a genuine certificate document of agency A (whoever once received A's PDF has it),
attach it to a PDF or OFD whose pages say anything, seal it with B's seal and anchor it from B's
account: every check passed — B's seal, B's anchor, A's certificate verified in full — and the
file read `valid` with A's certificate facts under pages A never issued. Now the first seal of a
certificate PDF (the whole file, for an OFD, which every seal rewrites) must be anchored by the
certificate's own issuer, or the anchor check is INVALID (``*.anchored.other_issuer``).

Real devnet, two real agencies, the CLI in its own process.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pikepdf
import pytest

from certs.canonical import CertificateDocument, disclose
from seals.ofd.write import Attachment, OfdDocument, OfdPage, PathObject, rectangle, write_ofd
from tests.conftest import free_port
from tests.verifier.test_cli_devnet import zhengyin_command

ISSUER = "91110000101623741K"
OTHER = "91110000600037341L"
TYPE = "11100000000013338W032"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pdf" / "three-pages.pdf"

Run = Callable[..., subprocess.CompletedProcess[str]]

FORGE = """
import sys
from pathlib import Path
from seals.ofd import looks_like_ofd
from seals.ofd.stamp import stamp_ofd
from seals.pdf import stamp_pdf
from verifier.app.stamping import AgencyStamper, anchor_sealed
from verifier.settings import Settings
settings = Settings()
stamper = AgencyStamper.load(settings, sys.argv[1])
data = Path(sys.argv[2]).read_bytes()
stamp = stamp_ofd if looks_like_ofd(data) else stamp_pdf
sealed = stamp(data, seal=stamper.seal, signer=stamper.signer.signer,
               signer_certificate=stamper.signer.certificate)
anchor_sealed(settings, sys.argv[1], sealed)
Path(sys.argv[3]).write_bytes(sealed)
"""
"""An agency sealing and anchoring a file with its own key and its own tool (the service's
stamping refuses a file that carries a certificate): ``ISSUER IN OUT``."""


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("issuer-tie-home")
    env = {**os.environ, "ZHENGYIN_HOME": str(home), "ZHENGYIN_DEVNET_PORT": str(free_port())}
    env.pop("ZHENGYIN_RPC_URL", None)

    def run(*args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", script] if script is not None else zhengyin_command()
        return subprocess.run([*command, *args], env=env, capture_output=True,
                              text=True, timeout=180, check=False)

    try:
        assert run("devnet", "up").returncode == 0
        deployed = run("deploy")
        assert deployed.returncode == 0, deployed.stderr
        for code, name in ((ISSUER, "示例市市场监督管理局"), (OTHER, "另一市某某局")):
            added = run("issuer", "add", "--code", code, "--name", name, "--json")
            assert added.returncode == 0, added.stderr
        granted = run("issuer", "authorize", "--code", ISSUER, "--type", TYPE)
        assert granted.returncode == 0, granted.stderr
        yield run
    finally:
        run("devnet", "down")


@pytest.fixture(scope="module")
def genuine(cli: Run, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A certificate of ISSUER, issued and rendered by ISSUER as a sealed, anchored PDF."""
    out = tmp_path_factory.mktemp("issued")
    requests = out / "requests.json"
    requests.write_text(json.dumps([{
        "type": TYPE,
        "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
        "issue_date": "2026-11-28", "valid_from": "2026-11-28", "valid_until": "2031-11-27",
        "jurisdiction": "360100", "fields": {},
    }], ensure_ascii=False), encoding="utf-8")
    result = cli("issue", "--issuer", ISSUER, "--input", str(requests), "--out", str(out),
                 "--pdf", "--json")
    assert result.returncode == 0, result.stderr
    identifier = json.loads(result.stdout)["accepted"][0]["identifier"]
    return identifier, out


def verdict(cli: Run, path: Path) -> dict[str, object]:
    result = cli("verify", "--json", str(path))
    body: dict[str, object] = json.loads(result.stdout)
    return body


def anchored(body: dict[str, object], name: str) -> list[tuple[str, str]]:
    return [(c["status"], c["reason"]) for c in body["checks"]  # type: ignore[attr-defined]
            if c["name"] == name]


def test_the_issuers_own_certificate_pdf_and_ofd_are_valid(
    cli: Run, genuine: tuple[str, Path], tmp_path: Path
) -> None:
    identifier, out = genuine
    body = verdict(cli, out / f"{identifier}.pdf")
    assert body["verdict"] == "valid", body
    assert [s for s, _ in anchored(body, "pdf.anchored")] == ["VALID"]
    ofd = tmp_path / "certificate.ofd"
    assert cli("render", identifier, "--out", str(ofd)).returncode == 0
    body = verdict(cli, ofd)
    assert body["verdict"] == "valid", body
    assert [s for s, _ in anchored(body, "ofd.anchored")] == ["VALID"]


def test_another_agency_sealing_a_pdf_around_a_genuine_certificate_is_invalid(
    cli: Run, genuine: tuple[str, Path], tmp_path: Path
) -> None:
    identifier, out = genuine
    certificate = (out / f"{identifier}.json").read_bytes()
    forged = pikepdf.open(io.BytesIO(SAMPLE.read_bytes()))  # pages the issuer never made
    forged.attachments["certificate.json"] = pikepdf.AttachedFileSpec(
        forged, certificate, mime_type="application/json")
    unsealed, sealed = tmp_path / "forged.pdf", tmp_path / "forged-sealed.pdf"
    forged.save(unsealed)
    stamped = cli(OTHER, str(unsealed), str(sealed), script=FORGE)
    assert stamped.returncode == 0, stamped.stderr  # the other agency may seal and anchor it

    body = verdict(cli, sealed)

    assert body["verdict"] == "invalid", body
    (status, reason), = anchored(body, "pdf.anchored")
    assert status == "INVALID" and OTHER in reason and ISSUER in reason, reason
    # everything else passed: the agency's seal and the genuine certificate
    others = {c["name"]: c["status"] for c in body["checks"]  # type: ignore[attr-defined]
              if c["name"] != "pdf.anchored"}
    assert set(others.values()) == {"VALID"}, others


def test_another_agency_sealing_an_ofd_around_a_genuine_certificate_is_invalid(
    cli: Run, genuine: tuple[str, Path], tmp_path: Path
) -> None:
    identifier, out = genuine
    certificate = (out / f"{identifier}.json").read_bytes()
    box = PathObject(rectangle(20, 20, 170, 100), (20, 20, 170, 100), line_width=0.5)
    package = write_ofd(OfdDocument(
        pages=(OfdPage((box,)),), doc_id="0" * 32, created=date(2026, 12, 1),
        attachments=(Attachment("certificate.json", certificate, format="json"),),
    ))
    unsealed, sealed = tmp_path / "forged.ofd", tmp_path / "forged-sealed.ofd"
    unsealed.write_bytes(package)
    stamped = cli(OTHER, str(unsealed), str(sealed), script=FORGE)
    assert stamped.returncode == 0, stamped.stderr
    with zipfile.ZipFile(sealed) as files:
        assert files.read("Doc_0/Attachs/certificate.json") == certificate

    body = verdict(cli, sealed)

    assert body["verdict"] == "invalid", body
    (status, reason), = anchored(body, "ofd.anchored")
    assert status == "INVALID" and OTHER in reason and ISSUER in reason, reason
    others = {c["name"]: c["status"] for c in body["checks"]  # type: ignore[attr-defined]
              if c["name"] != "ofd.anchored"}
    assert set(others.values()) == {"VALID"}, others


def test_the_issuers_stamping_never_makes_a_certificate_file_of_a_file_sent_to_it(
    cli: Run, genuine: tuple[str, Path], tmp_path: Path
) -> None:
    """Attack: the tie to the issuer holds only if the issuer never seals a file whose pages
    it did not make around one of its certificates. An agency's stamping seals files sent to
    it (an application, a contract): one carrying a certificate.json — a disclosed copy of
    someone's certificate of this agency, as shown at any counter — sealed by the agency
    would be its certificate file, valid, under the sender's pages. Stamping refuses a PDF
    or OFD carrying a certificate document (a PDF already sealed is judged by its first
    seal: sealing it again is allowed)."""
    identifier, out = genuine
    full = CertificateDocument.from_json((out / f"{identifier}.json").read_bytes())
    copy = disclose(full, ["holder.code"]).to_json().encode("utf-8")
    pdf = pikepdf.open(io.BytesIO(SAMPLE.read_bytes()))  # pages the issuer never made
    pdf.attachments["Certificate.JSON"] = pikepdf.AttachedFileSpec(
        pdf, copy, mime_type="application/json")
    unsealed = tmp_path / "sent.pdf"
    pdf.save(unsealed)
    box = PathObject(rectangle(20, 20, 170, 100), (20, 20, 170, 100), line_width=0.5)
    sent_ofd = tmp_path / "sent.ofd"
    sent_ofd.write_bytes(write_ofd(OfdDocument(
        pages=(OfdPage((box,)),), doc_id="0" * 32, created=date(2026, 12, 1),
        attachments=(Attachment("certificate.json", copy, format="json"),),
    )))
    for sent in (unsealed, sent_ofd):
        sealed = tmp_path / f"sealed{sent.suffix}"
        stamped = cli("seal", "stamp", "--issuer", ISSUER, str(sent), str(sealed), "--json")
        assert stamped.returncode != 0 and not sealed.exists(), stamped.stdout
        assert json.loads(stamped.stdout)["error"] == "stamp_certificate_file", stamped.stdout
        assert "Traceback" not in stamped.stderr
    # the issuer's own certificate PDF, already sealed, may be sealed again; it stays valid
    again = tmp_path / "again.pdf"
    stamped = cli("seal", "stamp", "--issuer", ISSUER, "--x", "20", "--y", "20",
                  str(out / f"{identifier}.pdf"), str(again))
    assert stamped.returncode == 0, stamped.stderr
    assert verdict(cli, again)["verdict"] == "valid"
