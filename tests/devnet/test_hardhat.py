"""Hardhat's node as the local devnet (issue #19): started and stopped like anvil, one node
per data directory, its chain not kept, and what it cannot do refused with a code."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from chain.registry import RegistryClient
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.anvil import Devnet
from devnet.deploy import DeploymentRecord, ensure_deployed, fund_on_devnet
from devnet.errors import DevnetError
from devnet.hardhat import CHAIN_ID, HardhatDevnet
from devnet.node import devnet_of, is_node
from tests.conftest import free_port
from tests.verifier.test_cli_devnet import zhengyin_command

PASSPHRASE = b"test key passphrase"


def test_up_deploy_down_and_the_chain_is_not_kept(tmp_path: Path) -> None:
    node = devnet_of(tmp_path, "hardhat")
    assert isinstance(node, HardhatDevnet)
    port = free_port()
    info, started = node.up(port)
    try:
        assert started and info.node == "hardhat" and not info.keeps_state
        assert int(Rpc(info.url).call("eth_chainId"), 16) == CHAIN_ID != 3005
        assert node.up(port) == (info, False)  # already running: nothing started
        # one record for either node: the anvil side finds it and will not start beside it
        assert Devnet(tmp_path).running() == info
        with pytest.raises(DevnetError) as caught:
            Devnet(tmp_path).up(port)
        assert caught.value.code == "devnet_other_node" and "devnet down" in str(caught.value)
        sender = TransactionSender(Rpc(info.url), "0x" + secrets.token_hex(32))
        fund_on_devnet(sender.rpc, sender.address)
        deployment, deployed_now = ensure_deployed(DeploymentRecord(tmp_path), sender)
        assert deployed_now and deployment.chain_id == CHAIN_ID
        assert DeploymentRecord(tmp_path).path(CHAIN_ID).name == f"{CHAIN_ID}.json"
    finally:
        assert Devnet(tmp_path).down()  # the anvil side stops it too, as Hardhat stops
    assert not is_node(info.pid, "hardhat") and node.running() is None
    again, _ = node.up(port)
    try:
        # an empty chain: the contracts of the last run are gone, and deploy says so
        assert not RegistryClient(Rpc(again.url), deployment).code_present()
        with pytest.raises(DevnetError) as gone:
            ensure_deployed(DeploymentRecord(tmp_path), sender)
        assert gone.value.code == "deployment_missing"
    finally:
        assert node.down()
    assert node.down() is False


def test_a_data_directory_holding_an_anvil_chain_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "devnet" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"block": {}, "accounts": {}}')
    with pytest.raises(DevnetError) as caught:
        HardhatDevnet(tmp_path).up(free_port())
    assert caught.value.code == "devnet_state_not_supported"
    assert "ZHENGYIN_DEVNET_NODE=anvil" in str(caught.value)
    assert HardhatDevnet(tmp_path).running() is None


def test_an_unknown_node_is_refused_by_name() -> None:
    with pytest.raises(DevnetError) as caught:
        devnet_of(Path("unused"), "geth")
    assert caught.value.code == "devnet_node_unknown" and "anvil, hardhat" in str(caught.value)


def test_the_cli_says_what_up_and_down_mean_with_hardhat(tmp_path: Path) -> None:
    env = {**os.environ, "ZHENGYIN_HOME": str(tmp_path), "ZHENGYIN_DEVNET_NODE": "hardhat",
           "ZHENGYIN_DEVNET_PORT": str(free_port())}
    env.pop("ZHENGYIN_RPC_URL", None)

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*zhengyin_command(), *args], env={**env, **extra},
                              capture_output=True, text=True, timeout=120, check=False)

    try:
        up = run("devnet", "up", "--json")
        assert up.returncode == 0, up.stderr
        started = json.loads(up.stdout)
        assert started["node"] == "hardhat" and started["chain_id"] == CHAIN_ID
        status = json.loads(run("devnet", "status", "--json").stdout)
        assert status["running"] is True and status["chain_id"] == CHAIN_ID
        # the setting names the node to start; whichever runs is the chain of this home
        assert run("devnet", "status", ZHENGYIN_DEVNET_NODE="anvil").returncode == 0
        other = run("devnet", "up", ZHENGYIN_DEVNET_NODE="anvil")
        assert other.returncode != 0 and "error [devnet_other_node]" in other.stderr
        down = run("devnet", "down")
        assert down.returncode == 0 and "keeps no state" in down.stdout
    finally:
        run("devnet", "down")
    bad = run("devnet", "up", ZHENGYIN_DEVNET_NODE="geth")
    assert bad.returncode != 0 and bad.stderr.startswith("error [bad_configuration]: ")
    assert "devnet_node" in bad.stderr and "'anvil' or 'hardhat'" in bad.stderr
