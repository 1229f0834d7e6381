"""The README's first steps, through the installed ``zhengyin`` command."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port


def zhengyin_command() -> list[str]:
    found = shutil.which("zhengyin", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "verifier.cli"]


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[object]:
    env = {**os.environ, "ZHENGYIN_HOME": str(tmp_path / "home"),
           "ZHENGYIN_DEVNET_PORT": str(free_port())}
    env.pop("ZHENGYIN_RPC_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*zhengyin_command(), *args], env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    yield run
    run("devnet", "down")


def test_up_deploy_status_down(cli) -> None:  # type: ignore[no-untyped-def]
    down = cli("devnet", "status")
    assert down.returncode == 4 and "not running" in down.stdout  # issue #15 item 6
    assert json.loads(cli("devnet", "status", "--json").stdout)["running"] is False
    # nothing but `devnet up` starts the chain: a command that needs it says so
    refused = cli("deploy")
    assert refused.returncode == 4
    assert refused.stderr.startswith("error [devnet_not_running]: ")
    assert "zhengyin devnet up" in refused.stderr
    assert "not running" in cli("devnet", "status").stdout
    up = cli("devnet", "up")
    assert up.returncode == 0 and "devnet started" in up.stdout and "chain id 3005" in up.stdout
    first = cli("deploy")
    assert first.returncode == 0 and "deployed to chain 3005" in first.stdout
    again = cli("deploy")
    assert again.returncode == 0 and "already deployed" in again.stdout
    running = cli("devnet", "status", "--json")
    assert running.returncode == 0
    status = json.loads(running.stdout)
    assert status["chain_id"] == 3005 and status["block"] >= 2
    assert status["contracts"]["code_present"] is True
    assert status["contracts"]["IssuerRegistry"] in first.stdout
    human = cli("devnet", "status").stdout
    assert "CertificateRegistry:" in human and "block:" in human
    down = cli("devnet", "down")
    assert down.returncode == 0 and "state saved" in down.stdout
    # state survives a restart: the deployment is still there
    cli("devnet", "up")
    assert "already deployed" in cli("deploy").stdout


def test_serve_needs_the_devnet_up_then_deploys_and_serves(tmp_path: Path) -> None:
    """What `make serve` runs: `devnet up`, then `serve` (which deploys once and serves).
    `serve` alone on a stopped devnet refuses with a clear code: the service never starts a
    chain (issue #15 item 6)."""
    port = free_port()
    env = {**os.environ, "ZHENGYIN_HOME": str(tmp_path / "home"),
           "ZHENGYIN_DEVNET_PORT": str(free_port()), "ZHENGYIN_PORT": str(port),
           "ZHENGYIN_WORKERS": "1"}
    env.pop("ZHENGYIN_RPC_URL", None)
    alone = subprocess.run([*zhengyin_command(), "serve"], env=env, capture_output=True,
                           text=True, timeout=60, check=False)
    assert alone.returncode == 4
    assert alone.stderr.startswith("error [devnet_not_running]: "), alone.stderr
    assert not (tmp_path / "home" / "devnet" / "devnet.json").exists()
    up = subprocess.run([*zhengyin_command(), "devnet", "up"], env=env, capture_output=True,
                        text=True, timeout=60, check=False)
    assert up.returncode == 0 and "devnet started" in up.stdout
    server = subprocess.Popen([*zhengyin_command(), "serve"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if health.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        assert health is not None and health.status_code == 200, health and health.text
        assert health.json()["indexer"]["healthy"] is True
        assert "证印链" in requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
        subprocess.run([*zhengyin_command(), "devnet", "down"], env=env, check=False,
                       capture_output=True, timeout=60)
    assert "deployed to chain 3005" in output


def test_errors_are_one_clear_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = cli("devnet", "up", "--port", str(squatter.getsockname()[1]))
    assert taken.returncode == 1
    assert taken.stderr.startswith("error [port_in_use]: port ")
    assert "Traceback" not in taken.stderr
    state = tmp_path / "home" / "devnet" / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("garbage")
    corrupt = cli("devnet", "up")
    assert corrupt.returncode == 1 and corrupt.stderr.startswith("error [state_corrupt]:")
