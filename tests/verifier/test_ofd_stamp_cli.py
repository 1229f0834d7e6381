"""`zhengyin seal stamp` on OFD files for a real user: a devnet, an agency with its seal, the
CLI in its own process. The sealed file is anchored on chain and `zhengyin verify` checks the
anchor (``ofd.anchored``); a second seal keeps the first valid; an unanchored seal is invalid
where a chain is configured; a place that breaks the policy is refused with its code."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from seals import sm2
from seals.ofd.write import OfdDocument, OfdPage, PathObject, rectangle, write_ofd
from tests.conftest import free_port
from tests.verifier.test_cli_devnet import zhengyin_command

USCC = "91110000101623741K"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("ofd-home")
    env = {**os.environ, "ZHENGYIN_HOME": str(home), "ZHENGYIN_DEVNET_PORT": str(free_port())}
    env.pop("ZHENGYIN_RPC_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*zhengyin_command(), *args], env=env, capture_output=True,
                              text=True, timeout=180, check=False)

    assert run("devnet", "up").returncode == 0
    assert run("deploy").returncode == 0
    added = run("issuer", "add", "--code", USCC, "--name", "示例市市场监督管理局", "--json")
    assert added.returncode == 0, added.stderr
    yield run
    run("devnet", "down")


def plain_ofd() -> bytes:
    """An unsealed one-page A4 OFD: a framed box."""
    box = PathObject(rectangle(20, 20, 170, 100), (20, 20, 170, 100), line_width=0.5)
    return write_ofd(OfdDocument(pages=(OfdPage((box,)),), doc_id="0" * 32,
                                 created=date(2026, 12, 1)))


def checks(body: dict[str, object], name: str) -> list[dict[str, str]]:
    return [c for c in body["checks"] if c["name"] == name]  # type: ignore[attr-defined, index]


def test_stamped_ofd_is_anchored_and_verified(cli: Run, tmp_path: Path) -> None:
    source = tmp_path / "in.ofd"
    source.write_bytes(plain_ofd())
    out = tmp_path / "sealed.ofd"
    stamped = cli("seal", "stamp", "--issuer", USCC, str(source), str(out), "--json")
    assert stamped.returncode == 0, stamped.stderr
    told = json.loads(stamped.stdout)
    assert told["format"] == "ofd" and told["anchor"]["block"] >= 1
    assert told["sm3"] == sm2.sm3(out.read_bytes()).hex()
    verdict = cli("verify", "--json", str(out))
    body = json.loads(verdict.stdout)
    assert verdict.returncode == 0 and body["verdict"] == "valid", verdict.stdout
    anchored = checks(body, "ofd.anchored")
    assert [c["status"] for c in anchored] == ["VALID"] and USCC in anchored[0]["reason"]

    # a second seal beside the first: both valid, the new whole file anchored
    twice = tmp_path / "twice.ofd"
    again = cli("seal", "stamp", "--issuer", USCC, str(out), str(twice), "--x", "20", "--y",
                "20")
    assert again.returncode == 0, again.stderr
    assert "anchored in block" in again.stdout
    body = json.loads(cli("verify", "--json", str(twice)).stdout)
    assert body["verdict"] == "valid", body
    assert len(body["subject"]["signatures"]) == 2
    assert [c["status"] for c in checks(body, "ofd.anchored")] == ["VALID"]

    # over the first stamp: refused, with its code, nothing written
    refused = tmp_path / "refused.ofd"
    over = cli("seal", "stamp", "--issuer", USCC, str(twice), str(refused), "--x", "20",
               "--y", "25")
    assert over.returncode != 0 and "error [ofd_bad_input]" in over.stderr, over.stderr
    assert not refused.exists()


def test_unanchored_ofd_seal_is_invalid_where_a_chain_is_configured(cli: Run,
                                                                    tmp_path: Path) -> None:
    source = tmp_path / "in.ofd"
    source.write_bytes(plain_ofd())
    out = tmp_path / "quiet.ofd"
    stamped = cli("seal", "stamp", "--issuer", USCC, str(source), str(out), "--no-anchor")
    assert stamped.returncode == 0, stamped.stderr
    verdict = cli("verify", "--json", str(out))
    body = json.loads(verdict.stdout)
    assert verdict.returncode == 1 and body["verdict"] == "invalid"
    assert [c["status"] for c in checks(body, "ofd.anchored")] == ["INVALID"]
    # every other check is valid: the seal itself is fine
    assert {c["status"] for c in body["checks"] if c["name"] != "ofd.anchored"} <= {
        "VALID", "SKIPPED"}
