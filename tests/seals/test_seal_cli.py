"""``zhengyin seal new|show`` and ``zhengyin verify`` through click's runner and one subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from seals_testlib import OFDRW, USCC

from verifier.cli import main
from verifier.cli.seal import check_uscc
from verifier.cli.verify import parse_time


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_check_uscc() -> None:
    assert check_uscc("91110000101623741k") == USCC
    for bad in ("91110000101623741A", "9111000010162374", "91110000101623741I"):
        with pytest.raises(Exception) as info:
            check_uscc(bad)
        assert getattr(info.value, "code", "") == "seal_bad_uscc"


def test_parse_time() -> None:
    assert parse_time("2020-10-12").isoformat() == "2020-10-12T00:00:00+00:00"
    assert parse_time("2020-10-12T11:14:03").isoformat() == "2020-10-12T11:14:03+00:00"
    assert parse_time("2020-10-12T19:14:03+08:00").isoformat() == "2020-10-12T11:14:03+00:00"


def test_seal_new_show_verify(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.esl"
    code, stdout, stderr = run(
        "seal", "new", "--issuer", USCC, "--name", "北京市测试局", "--out", str(out)
    )
    assert code == 0, stderr
    path = Path(stdout.strip())
    assert path.parent == home.resolve() / "seals" and path.suffix == ".esl"
    assert out.read_bytes() == path.read_bytes()
    assert (home / "ca" / "root.pem").is_file()
    key_text = (home / "signers" / f"{USCC}.key").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in key_text

    code, stdout, _ = run("seal", "show", str(out))
    assert code == 0 and "北京市测试局" in stdout and "v4" in stdout
    code, stdout, _ = run("seal", "show", "--json", str(out))
    assert json.loads(stdout)["name"] == "北京市测试局"

    # the local CA root is trusted by default
    code, stdout, _ = run("verify", "--json", str(out))
    verdict = json.loads(stdout)
    assert code == 0 and verdict["verdict"] == "valid"
    path_check = next(c for c in verdict["checks"] if c["name"] == "seal.maker_path")
    assert path_check["status"] == "VALID"
    assert set(verdict["checks"][0]) >= {"name", "type", "status", "reason"}

    code, stdout, _ = run("verify", str(out))
    assert code == 0 and stdout.strip().endswith("verdict: valid")

    # a second seal for the same agency reuses its signer
    code, stdout2, _ = run("seal", "new", "--issuer", USCC, "--name", "北京市测试局")
    assert code == 0 and stdout2.strip() != stdout.strip()


def test_seal_new_with_given_key_and_cert(home: Path, tmp_path: Path) -> None:
    from seals.ca import create_root, issue_signer
    from seals.keys import private_key_to_pem

    issued = issue_signer(create_root(), uscc=USCC, name="自有证书局")
    key = tmp_path / "k.pem"
    key.write_bytes(private_key_to_pem(issued.key, "test passphrase"))
    cert = tmp_path / "c.pem"
    cert.write_bytes(issued.certificate.to_pem())
    code, stdout, stderr = run(
        "seal",
        "new",
        "--issuer",
        USCC,
        "--name",
        "自有证书局",
        "--key",
        str(key),
        "--cert",
        str(cert),
    )
    assert code == 0, stderr
    code, stdout, _ = run("seal", "show", "--json", stdout.strip())
    listed = json.loads(stdout)["signer_certificates"]
    assert listed[0]["sm3"] == issued.certificate.fingerprint_sm3().hex()


def test_bad_input_is_one_error_line(home: Path, tmp_path: Path) -> None:
    code, _, stderr = run("seal", "new", "--issuer", "91110000101623741A", "--name", "x")
    assert code == 1 and stderr.startswith("error [seal_bad_uscc]:")
    junk = tmp_path / "junk.esl"
    junk.write_bytes(b"\x30\x82\x01\x00abc")
    code, _, stderr = run("seal", "show", str(junk))
    assert code == 1 and stderr.startswith("error [ses_truncated]:") and "Traceback" not in stderr
    code, stdout, _ = run("verify", "--json", str(junk))
    assert code == 1 and json.loads(stdout)["verdict"] == "invalid"
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024 + 1))
    code, _, stderr = run("seal", "new", "--issuer", USCC, "--name", "x", "--picture", str(big))
    assert code == 1 and stderr.startswith("error [seal_picture_too_large]:")
    code, _, stderr = run("verify", "--at", "yesterday", str(OFDRW / "UserV4.esl"))
    assert code == 2 and "error [bad_time]" in stderr


def test_verify_ofdrw(home: Path) -> None:
    seal, sig, root = (str(OFDRW / n) for n in ("UserV4.esl", "SignedValueV4.dat", "ROOT.pem"))
    code, stdout, _ = run("verify", "--json", seal)
    assert code == 1  # expired today
    code, stdout, _ = run("verify", "--json", "--at", "2021-01-01", seal)
    assert code == 0 and json.loads(stdout)["verdict"] == "valid"
    code, stdout, _ = run("verify", "--json", sig, "--trust", root)
    assert code == 1
    code, stdout, _ = run("verify", "--json", sig, "--trust", root, "--lenient-ca")
    result = json.loads(stdout)
    assert code == 0 and result["verdict"] == "valid"
    assert result["subject"]["signing_time"] == "2020-10-12T11:14:03+00:00"
    code, stdout, _ = run("verify", "--json", "--at", "2025-01-01", sig)
    assert code == 1


def test_console_script(home: Path, tmp_path: Path) -> None:
    exe = shutil.which("zhengyin", path=str(Path(sys.executable).parent))
    assert exe is not None, "install the package: pip install --no-deps -e ."
    env = dict(os.environ)
    result = subprocess.run(
        [exe, "verify", str(OFDRW / "SignedValueV4.dat")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "signature.value" in result.stdout and "verdict: valid" in result.stdout
