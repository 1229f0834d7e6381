"""``zhengyin seal stamp`` and ``zhengyin verify FILE.pdf`` through click's runner."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
from click.testing import CliRunner
from pdf_testlib import PLAIN
from seals_testlib import USCC

from seals import sm2
from verifier.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_stamp_and_verify(home: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(PLAIN)
    out = tmp_path / "out.pdf"
    code, _, stderr = run("seal", "stamp", "--issuer", USCC, str(src), str(out))
    assert code == 1 and "error [seal_not_found]" in stderr and "zhengyin seal new" in stderr

    code, _, stderr = run("seal", "new", "--issuer", USCC, "--name", "北京市测试局")
    assert code == 0, stderr
    code, stdout, stderr = run(
        "seal", "stamp", "--issuer", USCC, str(src), str(out), "--page", "1", "--x", "20",
        "--y", "20", "--no-anchor",  # no chain in this test; tests/verifier anchors
    )
    assert code == 0, stderr
    sealed = out.read_bytes()
    assert sealed.startswith(PLAIN)
    assert stdout.strip().endswith(f"sm3:{sm2.sm3(sealed).hex()}")

    code, stdout, _ = run("verify", "--json", str(out))
    verdict = json.loads(stdout)
    assert code == 0 and verdict["verdict"] == "valid", stdout
    assert verdict["subject"]["kind"] == "pdf"
    assert verdict["subject"]["document_sm3"] == sm2.sm3(sealed).hex()
    assert verdict["subject"]["signatures"][0]["field"] == "Seal1"
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["signature.signer_path"]["status"] == "VALID"  # the local root is trusted
    assert checks["pdf.modifications"]["data"]["field"] == "Seal1"

    code, stdout, _ = run("verify", str(out))
    assert code == 0 and stdout.strip().endswith("verdict: valid")

    # tampered: a byte of the page content changed
    bad = tmp_path / "bad.pdf"
    i = sealed.index(b"stream") + 20
    bad.write_bytes(sealed[:i] + bytes([sealed[i] ^ 1]) + sealed[i + 1 :])
    code, stdout, _ = run("verify", "--json", str(bad))
    assert code == 1 and json.loads(stdout)["verdict"] == "invalid"


def test_verify_unsealed_unreadable_and_encrypted(home: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(PLAIN)
    code, stdout, _ = run("verify", "--json", str(plain))
    assert code == 1 and json.loads(stdout)["verdict"] == "invalid"

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(PLAIN[: len(PLAIN) // 2])
    code, stdout, _ = run("verify", "--json", str(broken))
    result = json.loads(stdout)
    assert code == 1 and result["checks"][0]["data"]["error"] == "pdf_malformed"

    with pikepdf.open(io.BytesIO(PLAIN)) as doc:
        buf = io.BytesIO()
        doc.save(buf, encryption=pikepdf.Encryption(owner="o", user=""))
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(buf.getvalue())
    code, _, stderr = run("verify", str(locked))
    assert code == 1 and stderr.startswith("error [pdf_encrypted]:")
    assert run("seal", "new", "--issuer", USCC, "--name", "北京市测试局")[0] == 0
    code, _, stderr = run("seal", "stamp", "--issuer", USCC, str(locked), str(tmp_path / "x.pdf"))
    assert code == 1 and stderr.startswith("error [pdf_encrypted]:")
