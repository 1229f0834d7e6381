"""``zhengyin batcher run`` takes part in the batcher election of ``zhengyin serve`` (issue #19):
one batcher per database, whichever process it is.

On PostgreSQL (the advisory lock) and on SQLite (the lock file), with a real ``zhengyin serve``
(one worker) on a real anvil:

- while the service holds the role, ``batcher run`` (``--once`` or not) refuses with
  ``batcher_role_held``, exit status 5, naming the holder (``serve pid=…``); with ``--wait``
  it waits and anchors nothing while the service anchors;
- the service killed (kill -9) with a batch sent and not mined (the node's automine off): the
  waiting CLI takes the role, every certificate ends anchored and every root is anchored
  exactly once (the chain's own ``RootAnchored`` events);
- while the CLI leads, ``zhengyin issue`` leaves its certificates to it (and answers them
  anchored once it has); on PostgreSQL, its lock's session ended by the server, it stops
  anchoring and takes the role again (nobody else contends); a service started meanwhile
  stays a follower, a second ``batcher run`` is refused naming the first, and the service
  takes the role once the CLI stops.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from chain.registry import RegistryClient
from chain.rpc import Rpc
from tests.conftest import ctrl_c_stops, free_port
from tests.postgres import postgres_server
from tests.verifier.test_cli_devnet import zhengyin_command
from tests.verifier.test_faults import AGENCY, TYPE, request, wait_for
from verifier.app.context import chain_rpc, deployment
from verifier.app.service.leader import RETRY_SECONDS
from verifier.settings import Settings

TAKEOVER_SLACK = 2.0
"""Allowance over one retry of the election for this machine's scheduling (a service, a
CLI batcher and their node on two cores)."""


@dataclass
class Setup:
    home: Path
    env: dict[str, str]
    database: str
    issuer_key: str

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*zhengyin_command(), *args], env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)

    def rpc(self) -> Rpc:
        return Rpc(f"http://127.0.0.1:{self.env['ZHENGYIN_DEVNET_PORT']}")


@dataclass
class Serve:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def roles(self) -> list[str]:
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited: {self.log.read_text(errors='replace')[-3000:]}")
        try:
            answer = requests.get(f"{self.url}/healthz", timeout=2)
        except requests.ConnectionError:
            return ["down"]
        return list(answer.json().get("roles", [])) if answer.status_code == 200 else ["down"]


def _ok(run: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert run.returncode == 0, run.stderr
    return run


@contextlib.contextmanager
def _database(backend: str, base: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{base / 'home' / 'zhengyin.sqlite3'}"
        return
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["postgresql", "sqlite"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    with _database(request.param, tmp_path) as database:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGYIN_")}
        env |= {"ZHENGYIN_HOME": str(tmp_path / "home"), "ZHENGYIN_DEVNET_PORT": str(free_port()),
                "ZHENGYIN_WORKERS": "1", "ZHENGYIN_LOG_LEVEL": "INFO"}
        if request.param == "postgresql":
            env["ZHENGYIN_DATABASE_URL"] = database
        made = Setup(tmp_path / "home", env, database, "")
        _ok(made.cli("devnet", "up"))
        try:
            _ok(made.cli("deploy"))
            made.issuer_key = json.loads(_ok(made.cli(
                "issuer", "add", "--code", AGENCY[0], "--name", AGENCY[1], "--json")).stdout
            )["api_key"]
            _ok(made.cli("issuer", "authorize", "--code", AGENCY[0], "--type", TYPE))
            yield made
        finally:
            made.cli("devnet", "down")


@contextlib.contextmanager
def _serve(setup: Setup, name: str) -> Iterator[Serve]:
    port = free_port()
    log = setup.home.parent / f"serve-{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*zhengyin_command(), "serve"],
                                   env={**setup.env, "ZHENGYIN_PORT": str(port)},
                                   stdout=out, stderr=subprocess.STDOUT)
    serve = Serve(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for(serve.roles, lambda roles: "down" not in roles, 90, f"serve {name} healthy")
        yield serve
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def _batcher(setup: Setup, *args: str) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """A ``zhengyin batcher run`` in the background: its process, stdout and stderr files."""
    out, err = setup.home.parent / "batcher.out", setup.home.parent / "batcher.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen([*zhengyin_command(), "batcher", "run", *args],
                                   env=setup.env, stdout=stdout, stderr=stderr, text=True,
                                   preexec_fn=ctrl_c_stops)
    try:
        yield process, out, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _issue(setup: Setup, on: Serve, name: str) -> str:
    made = requests.post(f"{on.url}/v1/certificates", json=request(name),
                         headers={"Authorization": f"Bearer {setup.issuer_key}"}, timeout=30)
    assert made.status_code == 201, made.text
    return str(made.json()["identifier"])


def _statuses(engine: sa.Engine, identifiers: list[str]) -> dict[str, str]:
    with engine.connect() as connection:
        return {str(r[0]): str(r[1]) for r in connection.execute(
            sa.text("SELECT identifier, status FROM certificates WHERE identifier IN :ids")
            .bindparams(sa.bindparam("ids", expanding=True)), {"ids": identifiers})}


def _read(path: Path) -> str:
    return path.read_text(errors="replace")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _read(path).splitlines() if line.strip()]


def test_the_cli_batcher_takes_the_services_election(setup: Setup) -> None:
    engine = sa.create_engine(setup.database)
    rpc = setup.rpc()
    try:
        with _serve(setup, "first") as serve:
            wait_for(serve.roles, lambda roles: "batcher" in roles, 20, "serve leads the batcher")
            # refused while the service leads: a stable code, exit 5, who holds the role
            once = setup.cli("batcher", "run", "--once")
            assert once.returncode == 5, (once.returncode, once.stdout, once.stderr)
            assert "error [batcher_role_held]" in once.stderr, once.stderr
            assert f"serve pid={serve.process.pid} host=" in once.stderr, once.stderr
            assert "--wait" in once.stderr and "Traceback" not in once.stderr
            forever = setup.cli("batcher", "run", "--json")
            assert forever.returncode == 5, (forever.returncode, forever.stderr)
            assert json.loads(forever.stdout)["error"] == "batcher_role_held"

            with _batcher(setup, "--wait", "--json") as (cli, out, err):
                wait_for(lambda: _read(err), lambda text: "waiting for it" in text, 30,
                         "the CLI batcher waiting for the role")
                assert f"serve pid={serve.process.pid}" in _read(err)
                first = _issue(setup, serve, "甲")
                wait_for(lambda: _statuses(engine, [first]), lambda s: s == {first: "active"},
                         30, "the service anchors while it leads")
                time.sleep(1.0)
                assert cli.poll() is None, _read(err)
                assert _read(out) == ""  # the waiting CLI anchored nothing
                assert "leadership taken" not in _read(err)

                # the service killed (kill -9) with a batch sent and not mined
                rpc.call("evm_setAutomine", [False])
                try:
                    queued = [_issue(setup, serve, f"乙{n}") for n in range(3)]
                    with engine.connect() as connection:
                        wait_for(lambda: connection.execute(sa.text(
                            "SELECT count(*) FROM batches WHERE state = 'sent'")).scalar_one(),
                            lambda n: n >= 1, 20, "a batch sent (and, automine off, not mined)")
                        connection.rollback()
                    killed = time.time()
                    serve.process.kill()
                    serve.process.wait(10)
                    wait_for(lambda: _read(err), lambda text: "leadership taken" in text, 20,
                             "the CLI batcher takes the role")
                    taken = next(line for line in _read(err).splitlines()
                                 if "leadership taken" in line)
                    after = dt.datetime.fromisoformat(taken.split()[0]).timestamp() - killed
                    assert after < RETRY_SECONDS + TAKEOVER_SLACK, taken  # within a retry
                finally:
                    rpc.call("evm_setAutomine", [True])
                    rpc.call("evm_mine", [])
                wait_for(lambda: _statuses(engine, queued),
                         lambda s: s == dict.fromkeys(queued, "active"), 30,
                         "the CLI batcher anchors what the service left")
                printed = wait_for(lambda: _lines(out),
                                   lambda b: sum(x["certificates"] for x in b) >= 3, 10,
                                   "the CLI batcher's batches")
                assert sum(x["certificates"] for x in printed) == 3, printed
                assert {x["state"] for x in printed} == {"anchored"}, printed

                # an issuing command leaves its certificates to the elected batcher (the CLI's)
                rows = setup.home.parent / "rows.json"
                rows.write_text(json.dumps([request("丁")], ensure_ascii=False))
                issued = setup.cli("issue", "--issuer", AGENCY[0], "--input", str(rows),
                                   "--json")
                assert issued.returncode == 0, issued.stderr
                assert json.loads(issued.stdout)["anchored"] is True
                before = len(printed)
                printed = wait_for(lambda: _lines(out), lambda b: len(b) > before, 10,
                                   "the elected batcher anchors what `issue` queued")
                assert printed[-1]["certificates"] == 1 and printed[-1]["state"] == "anchored"

                if engine.dialect.name == "postgresql":  # its lock's session ended by the server
                    with engine.begin() as connection:
                        ended = connection.execute(sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE application_name LIKE 'zhengyin-batcher batcher run%'"
                        )).scalars().all()
                    assert ended == [True]
                    wait_for(lambda: _read(err),
                             lambda text: "leadership lost role=batcher" in text
                             and text.count("leadership taken") == 2, 20,
                             "the CLI batcher stops at the lost lock and takes the role again")

                # the CLI leads: a new service stays a follower, a second CLI is refused
                with _serve(setup, "second") as successor:
                    deadline = time.monotonic() + 3
                    while time.monotonic() < deadline:
                        assert "batcher" not in successor.roles()
                        time.sleep(0.3)
                    second = setup.cli("batcher", "run", "--once", "--json")
                    assert second.returncode == 5, (second.returncode, second.stderr)
                    refused = json.loads(second.stdout)
                    assert refused["error"] == "batcher_role_held"
                    assert f"batcher run pid={cli.pid} host=" in refused["message"], refused
                    cli.send_signal(signal.SIGINT)
                    assert cli.wait(20) == 0, _read(err)
                    wait_for(successor.roles, lambda roles: "batcher" in roles, 20,
                             "the service takes the role once the CLI stops")
                    last = _issue(setup, successor, "丙")
                    wait_for(lambda: _statuses(engine, [last]), lambda s: s == {last: "active"},
                             30, "the service anchors again")
        settings = Settings(home=setup.home, devnet_port=int(setup.env["ZHENGYIN_DEVNET_PORT"]),
                            database_url=setup.env.get("ZHENGYIN_DATABASE_URL"))
        chain = chain_rpc(settings)
        events = RegistryClient(chain, deployment(settings, chain)).events()
        anchored = Counter(e.args["root"].hex() for e in events if e.name == "RootAnchored")
        assert anchored and max(anchored.values()) == 1, anchored  # no root anchored twice
        anchoring = {e.args["root"].hex(): e.tx_hash for e in events if e.name == "RootAnchored"}
        with engine.connect() as connection:
            recorded = {str(r[0]): str(r[1]) for r in connection.execute(
                sa.text("SELECT root, tx_hash FROM batches"))}
            states = {str(r[0]) for r in connection.execute(sa.text("SELECT state FROM batches"))}
            pending = connection.execute(sa.text(
                "SELECT count(*) FROM certificates WHERE status = 'pending'")).scalar_one()
        assert states == {"anchored"} and pending == 0, (states, pending)
        assert recorded == anchoring  # each batch names the transaction that anchored it
    finally:
        engine.dispose()
