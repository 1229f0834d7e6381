"""The devnet: start, persistence across clean and abrupt stops, refusals, deploy once."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from chain.registry import RegistryClient
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.anvil import CHAIN_ID, STATE_INTERVAL, Devnet
from devnet.deploy import DeploymentRecord, ensure_deployed, fund_on_devnet
from devnet.errors import DevnetError
from tests.conftest import free_port, make_uscc

PASSPHRASE = b"test key passphrase"


def _setup(home: Path) -> tuple[Devnet, RegistryClient, str]:
    node = Devnet(home)
    info, started = node.up(free_port())
    assert started and info.chain_id == CHAIN_ID
    rpc = Rpc(info.url)
    sender = TransactionSender(rpc, "0x" + secrets.token_hex(32))
    fund_on_devnet(rpc, sender.address)
    deployment, deployed_now = ensure_deployed(DeploymentRecord(home), sender)
    assert deployed_now
    registry = RegistryClient(rpc, deployment, sender)
    uscc = make_uscc()
    registry.register_issuer(uscc, "机关")
    registry.add_account(uscc, sender.address)
    return node, registry, uscc


def _reconnect(node: Devnet, home: Path, port: int) -> RegistryClient:
    info, _ = node.up(port)
    rpc = Rpc(info.url)
    deployment = DeploymentRecord(home).load(CHAIN_ID)
    assert deployment is not None
    return RegistryClient(rpc, deployment)


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


def test_corrupt_state_without_a_good_copy_is_refused(tmp_path: Path) -> None:
    node = Devnet(tmp_path)
    node.dir.mkdir(parents=True)
    node.state_file.write_text('{"block": {"number": "0x')  # truncated mid-write
    with pytest.raises(DevnetError) as caught:
        node.up(free_port())
    assert caught.value.code == "state_corrupt" and "no good copy" in str(caught.value)
    assert node.running() is None


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
        assert deployed_now and RegistryClient(sender.rpc, fresh).code_present()
        assert record.load(CHAIN_ID) == fresh
    finally:
        node.down()


def test_account_keys_are_encrypted_private_and_validated(tmp_path: Path) -> None:
    from devnet.deploy import account_key

    path = tmp_path / "keys" / "operator.key"
    with pytest.raises(DevnetError) as caught:
        account_key(path, create=False, passphrase=PASSPHRASE)
    assert caught.value.code == "operator_key_missing"
    key = account_key(path, create=True, passphrase=PASSPHRASE)
    assert account_key(path, create=False, passphrase=PASSPHRASE) == key
    assert path.stat().st_mode & 0o777 == 0o600
    assert key[2:] not in path.read_text() and b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    with pytest.raises(DevnetError) as caught:
        account_key(path, create=False, passphrase=b"another passphrase")
    assert caught.value.code == "operator_key_invalid"
    path.write_text("not a key")
    with pytest.raises(DevnetError) as caught:
        account_key(path, create=False, passphrase=PASSPHRASE)
    assert caught.value.code == "operator_key_invalid"


def test_kill_during_dumps_loses_seconds_not_the_chain(tmp_path: Path) -> None:
    """Issue #15 item 5: anvil rewrites state.json in place every second, so a kill -9 during
    a dump leaves it truncated. The keeper started by `up` copies each complete dump aside;
    `up` restores the newest good copy over a damaged file and says so. Killed at random
    moments (and once with the file left truncated mid-write), the devnet always comes back
    with every anchor made two seconds before the kill."""
    node, registry, uscc = _setup(tmp_path)
    try:
        port = node.running().port  # type: ignore[union-attr]
        kept: list[bytes] = []
        rng = secrets.SystemRandom()
        for round_ in range(2):
            root = secrets.token_bytes(32)
            registry.anchor(uscc, root, 1)
            kept.append(root)
            time.sleep(STATE_INTERVAL * 2 + rng.random())  # a dump and its copy, then anywhere
            info = node.running()
            assert info is not None
            os.kill(info.pid, signal.SIGKILL)
            while node.running() is not None:
                time.sleep(0.01)
            if round_ == 1:  # as a kill in the middle of anvil's write leaves it
                data = node.state_file.read_bytes()
                node.state_file.write_bytes(data[: len(data) // 2])
            again = _reconnect(node, tmp_path, port)
            if round_ == 1:
                assert node.restored is not None and "damaged" in node.restored.describe()
                assert node.restored.age_seconds < 10
            assert all(again.anchor_of(r) is not None for r in kept), f"round {round_}"
            registry = RegistryClient(again.rpc, again.deployment, registry.sender)
            assert registry.sender is not None
            registry.sender.resync_nonce()
        backups = node.backups()
        assert 1 <= len(backups) <= 5 and all(b.stat().st_mode & 0o777 == 0o600 for b in backups)
    finally:
        node.down()
    assert node.running() is None


def test_the_keeper_copies_only_whole_dumps_and_keeps_a_few(tmp_path: Path) -> None:
    from devnet.keeper import KEEP_NEWEST, Keeper, backups

    directory = tmp_path / "devnet"
    directory.mkdir()
    keeper = Keeper(directory)
    state = directory / "state.json"
    assert keeper.check() is None  # no state yet
    state.write_text('{"block": {}, "accounts": {')  # truncated: never copied
    assert keeper.check() is None and backups(directory) == []
    for n in range(KEEP_NEWEST + 3):
        state.write_text(f'{{"block": {{"number": {n}}}, "accounts": {{}}}}')
        assert keeper.check() is not None
        assert keeper.check() is None  # unchanged: not copied twice
    kept = backups(directory)
    assert len(kept) == KEEP_NEWEST
    assert kept[0].read_text() == state.read_text()


def test_a_plain_hex_account_key_still_loads_and_is_rewritten_encrypted(tmp_path: Path) -> None:
    """Issue #15 item 9: chain account keys were plain hex at rest; a file written so by an
    earlier version loads, and is encrypted on the spot like the SM2 keys."""
    from devnet.deploy import account_key

    path = tmp_path / "keys" / "operator.key"
    path.parent.mkdir()
    secret = "0x" + secrets.token_hex(32)
    path.write_text(secret + "\n")
    assert account_key(path, create=False, passphrase=PASSPHRASE) == secret
    data = path.read_bytes()
    assert secret[2:].encode() not in data and data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    assert path.stat().st_mode & 0o777 == 0o600
    assert account_key(path, create=False, passphrase=PASSPHRASE) == secret
    # encrypted as the SM2 keys are: standard PKCS#8 that OpenSSL reads with the passphrase
    shown = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-passin", f"pass:{PASSPHRASE.decode()}",
         "-noout", "-text"], capture_output=True, text=True, check=True,
    ).stdout
    assert "secp256k1" in shown and secret[2:4] in shown.replace(":", "")
