"""The devnet: start, persistence across clean and abrupt stops, refusals, deploy once."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import time
from pathlib import Path

import pytest

from chain.registry import Registry
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.anvil import CHAIN_ID, STATE_INTERVAL, Devnet
from devnet.deploy import DeploymentRecord, ensure_deployed, fund_on_devnet, operator_key
from devnet.errors import DevnetError
from tests.conftest import free_port, make_uscc


def _setup(home: Path) -> tuple[Devnet, Registry, str]:
    node = Devnet(home)
    info, started = node.up(free_port())
    assert started and info.chain_id == CHAIN_ID
    rpc = Rpc(info.url)
    sender = TransactionSender(rpc, operator_key(home / "keys" / "operator.key", create=True))
    fund_on_devnet(rpc, sender.address)
    deployment, deployed_now = ensure_deployed(DeploymentRecord(home), sender)
    assert deployed_now
    registry = Registry(rpc, deployment, sender)
    uscc = make_uscc()
    registry.register_issuer(uscc, "机关")
    registry.add_account(uscc, sender.address)
    return node, registry, uscc


def _reconnect(node: Devnet, home: Path, port: int) -> Registry:
    info, _ = node.up(port)
    rpc = Rpc(info.url)
    deployment = DeploymentRecord(home).load(CHAIN_ID)
    assert deployment is not None
    return Registry(rpc, deployment)


def test_clean_restart_keeps_every_anchor(tmp_path: Path) -> None:
    node, registry, uscc = _setup(tmp_path)
    port = node.running().port  # type: ignore[union-attr]
    roots = [secrets.token_bytes(32) for _ in range(3)]
    for root in roots:
        registry.anchor(uscc, root, 1)
    assert node.down()
    assert node.running() is None
    again = _reconnect(node, tmp_path, port)
    try:
        assert all(again.anchor_of(r) is not None for r in roots)
        # logs survive too: history is rebuilt from events after a restart
        assert [e.name for e in again.history_of_root(roots[0])] == ["RootAnchored"]
        assert again.code_present()
    finally:
        node.down()


def test_abrupt_kill_loses_at_most_the_last_second(tmp_path: Path) -> None:
    node, registry, uscc = _setup(tmp_path)
    info = node.running()
    assert info is not None
    root = secrets.token_bytes(32)
    registry.anchor(uscc, root, 1)
    time.sleep(STATE_INTERVAL * 2.5)  # past the periodic dump
    os.kill(info.pid, signal.SIGKILL)
    while node.running() is not None:
        time.sleep(0.02)
    again = _reconnect(node, tmp_path, info.port)
    try:
        assert again.anchor_of(root) is not None
    finally:
        node.down()


def test_up_is_idempotent_and_down_without_devnet_says_so(tmp_path: Path) -> None:
    node = Devnet(tmp_path)
    assert node.down() is False
    port = free_port()
    first, started = node.up(port)
    try:
        second, started_again = node.up(port)
        assert started and not started_again and first == second
        with pytest.raises(DevnetError) as caught:
            node.up(free_port())
        assert caught.value.code == "devnet_running_elsewhere"
    finally:
        node.down()


def test_port_taken_is_refused_clearly(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(DevnetError) as caught:
            Devnet(tmp_path).up(port)
    assert caught.value.code == "port_in_use" and str(port) in str(caught.value)


def test_corrupt_state_is_refused_and_names_the_backup(tmp_path: Path) -> None:
    node, _, _ = _setup(tmp_path)
    port = node.running().port  # type: ignore[union-attr]
    node.down()
    node.up(port)  # a clean start keeps a copy of the good state
    node.down()
    node.state_file.write_text('{"block": {"number": "0x')  # truncated mid-write
    with pytest.raises(DevnetError) as caught:
        node.up(port)
    assert caught.value.code == "state_corrupt"
    assert "state.prev.json" in str(caught.value)
    assert node.running() is None
    json.loads(node.backup_file.read_text())


def test_deploy_once_then_report_missing_code(tmp_path: Path) -> None:
    node, registry, _ = _setup(tmp_path)
    port = node.running().port  # type: ignore[union-attr]
    record = DeploymentRecord(tmp_path)
    sender = registry.sender
    assert sender is not None
    again, deployed_now = ensure_deployed(record, sender)
    assert not deployed_now and again == registry.deployment
    node.down()
    node.state_file.unlink()  # a wiped devnet: same chain id, no contracts
    node.up(port)
    try:
        fund_on_devnet(sender.rpc, sender.address)
        sender.resync_nonce()
        with pytest.raises(DevnetError) as caught:
            ensure_deployed(record, sender)
        assert caught.value.code == "deployment_missing"
        fresh, deployed_now = ensure_deployed(record, sender, replace_missing=True)
        assert deployed_now and Registry(sender.rpc, fresh).code_present()
        assert record.load(CHAIN_ID) == fresh
    finally:
        node.down()


def test_operator_key_is_private_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "operator.key"
    with pytest.raises(DevnetError) as caught:
        operator_key(path, create=False)
    assert caught.value.code == "operator_key_missing"
    key = operator_key(path, create=True)
    assert operator_key(path, create=False) == key
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("not a key")
    with pytest.raises(DevnetError) as caught:
        operator_key(path, create=False)
    assert caught.value.code == "operator_key_invalid"
