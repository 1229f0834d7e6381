"""The catalogue and authorizations through the ``zhengyin`` command on a real devnet, and
the one reading of them (events folded in Python) against the contract's own answers."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certs.types import default_registry
from chain.registry import RegistryClient
from chain.transactions import LocalAccount
from tests.conftest import free_port, make_uscc
from tests.verifier.test_cli_devnet import zhengyin_command
from verifier.app.context import chain_rpc, deployment
from verifier.checks.authority import authorized, fold_catalogue, fold_grants
from verifier.settings import Settings

LICENCE = "11100000MA0000001Q001"
FOOD = "11100000MA0000001Q002"


@dataclass
class Cli:
    home: Path
    env: dict[str, str]

    def __call__(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*zhengyin_command(), *args], env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=120, check=False,
        )

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        run = self(*args, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        return run.stdout

    def reader(self) -> RegistryClient:
        settings = Settings(home=self.home, devnet_port=int(self.env["ZHENGYIN_DEVNET_PORT"]))
        rpc = chain_rpc(settings)
        return RegistryClient(rpc, deployment(settings, rpc))


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("catalogue")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGYIN_")}
    env |= {"ZHENGYIN_HOME": str(base / "home"), "ZHENGYIN_DEVNET_PORT": str(free_port())}
    runner = Cli(base / "home", env)
    runner.ok("devnet", "up")
    runner.ok("deploy")
    yield runner
    runner("devnet", "down")


def test_types_and_authorizations_by_command(cli: Cli, tmp_path: Path) -> None:
    # `deploy` put every type of the project's type files in the catalogue
    listed = {t["code"]: t for t in json.loads(cli.ok("type", "list", "--json"))}
    assert set(listed) == {t.code for t in default_registry()}
    assert listed[LICENCE]["name"] == "营业执照" and listed[LICENCE]["schema_matches_local"]
    assert listed[LICENCE]["schema_sm3"] == default_registry().get(LICENCE).schema_digest().hex()
    again = cli("type", "add", LICENCE)
    assert again.returncode == 1 and "TypeExists" in again.stderr
    cli.ok("type", "revise", FOOD)
    assert json.loads(cli.ok("type", "show", FOOD, "--json"))["version"] == 2
    shown = json.loads(cli.ok("type", "show", LICENCE, "--json"))
    assert shown["schema"]["holder_fields"] == {"code": "统一社会信用代码", "name": "企业名称"}
    unknown = cli("type", "add", "91110000101623741K999")
    assert unknown.returncode == 1 and "error [unknown_type]" in unknown.stderr

    agency = make_uscc()
    cli.ok("issuer", "add", "--code", agency, "--name", "北京市朝阳区市场监督管理局",
           "--jurisdiction", "110105")
    cli.ok("issuer", "authorize", "--code", agency, "--type", LICENCE, "--jurisdiction", "1101",
           "--from", "2026-01-01")  # a start in the past: from now
    grants = json.loads(cli.ok("issuer", "authorizations", "--code", agency, "--json"))
    assert [(g["type"], g["now"]) for g in grants] == [(LICENCE, True)]

    # a regional admin (江西, 36…) with its own operator account cannot act in 北京
    key_file = tmp_path / "regional.key"
    key_file.write_text(secrets.token_hex(32))
    address = LocalAccount(key_file.read_text()).address
    cli.ok("admin", "chain-add", address, "--scope", "36")
    regional = {"ZHENGYIN_OPERATOR_KEY_FILE": str(key_file)}
    refused = cli("issuer", "authorize", "--code", agency, "--type", FOOD, env=regional)
    assert refused.returncode == 1 and "OutsideScope" in refused.stderr, refused.stderr
    withdrawn = cli("type", "withdraw", FOOD, env=regional)
    assert withdrawn.returncode == 1 and "NationalAdminOnly" in withdrawn.stderr

    cli.ok("issuer", "deauthorize", "--code", agency, "--type", LICENCE)
    grants = json.loads(cli.ok("issuer", "authorizations", "--code", agency, "--json"))
    assert [(g["type"], g["now"]) for g in grants] == [(LICENCE, False)]
    bad = cli("issuer", "authorize", "--code", agency, "--type", LICENCE, "--from", "2026-13-01")
    assert bad.returncode == 2 and "error [bad_date]" in bad.stderr
    past = cli("issuer", "authorize", "--code", agency, "--type", LICENCE, "--from",
               "2025-01-01", "--until", "2025-12-31")
    assert past.returncode == 1 and "error [bad_window]" in past.stderr
    # without --jurisdiction: the agency's own (110105), not the whole country
    cli.ok("issuer", "authorize", "--code", agency, "--type", FOOD)
    grants = json.loads(cli.ok("issuer", "authorizations", "--code", agency, "--json"))
    assert {g["type"]: g["grants"][-1]["jurisdiction"] for g in grants}[FOOD] == "110105"
    cli.ok("admin", "chain-remove", address)


def test_the_folded_events_answer_as_the_contract_does(cli: Cli) -> None:
    """The one reading of the catalogue and grants (for the index and the chain alike) gives
    the contract's authorizedAt for every time, place and type tried."""
    reader = cli.reader()
    agency = make_uscc()
    cli.ok("issuer", "add", "--code", agency, "--name", "南昌市行政审批局",
           "--jurisdiction", "360100")
    for args in (
        ("--type", LICENCE, "--from", "2027-01-01", "--until", "2027-12-31",
         "--jurisdiction", "3601"),
        ("--type", LICENCE, "--from", "2028-01-01", "--anywhere"),
        ("--type", FOOD, "--jurisdiction", "360102"),
    ):
        cli("type", "add", args[1])  # present already from the test above, or added now
        cli.ok("issuer", "authorize", "--code", agency, *args)
    cli.ok("issuer", "deauthorize", "--code", agency, "--type", FOOD)
    catalogue = fold_catalogue(reader.catalogue_events())
    grants = fold_grants(reader.grant_events(agency))
    for code in (LICENCE, FOOD):
        assert grants[(agency, code)] == reader.grants(agency, code)
        for when in (1798732800 - 1, 1798732800, 1830268799, 1830268800, 1830297600,
                     10**10, int(time.time()) - 5, int(time.time()) + 5):
            for place in ("360100", "360102", "360200", "110105"):
                assert authorized(catalogue.get(code), grants[(agency, code)], when, place) == (
                    reader.authorized_at(agency, code, when, place)
                ), (code, when, place)
