"""IssuerRegistry through the Python client: every function and every refusal."""

from __future__ import annotations

import secrets

import pytest

from chain.errors import ContractRevert, InvalidArgument
from chain.registry import ADMIN_ROLE, IssuerStatus, RegistryClient
from chain.rpc import Rpc
from tests.conftest import Accounts, Issuer, make_uscc


def refused(name: str) -> pytest.RaisesExc[ContractRevert]:
    return pytest.raises(ContractRevert, match=rf"refused: {name}\(")


def test_register_suspend_reinstate(admin_registry: RegistryClient) -> None:
    uscc = make_uscc()
    assert admin_registry.issuer_status(uscc) is IssuerStatus.NONE
    admin_registry.register_issuer(uscc, "市市场监督管理局")
    assert admin_registry.issuer_status(uscc) is IssuerStatus.ACTIVE
    with refused("IssuerAlreadyRegistered"):
        admin_registry.register_issuer(uscc, "again")
    admin_registry.suspend_issuer(uscc, "audit")
    assert admin_registry.issuer_status(uscc) is IssuerStatus.SUSPENDED
    with refused("IssuerNotActive"):
        admin_registry.suspend_issuer(uscc, "twice")
    admin_registry.reinstate_issuer(uscc)
    assert admin_registry.issuer_status(uscc) is IssuerStatus.ACTIVE
    with refused("IssuerNotSuspended"):
        admin_registry.reinstate_issuer(uscc)


def test_governance_needs_admin(issuer: Issuer, accounts: Accounts) -> None:
    stranger = RegistryClient(issuer.registry.rpc, issuer.registry.deployment, accounts.new())
    uscc = make_uscc()
    for action in (
        lambda r: r.register_issuer(uscc, "x"),
        lambda r: r.suspend_issuer(issuer.uscc, "x"),
        lambda r: r.reinstate_issuer(issuer.uscc),
        lambda r: r.add_account(issuer.uscc, accounts.new().address),
        lambda r: r.remove_account(issuer.uscc, issuer.account.address),
        lambda r: r.grant_role(ADMIN_ROLE, r.sender.address),
        lambda r: r.revoke_role(ADMIN_ROLE, r.deployment.deployer),
    ):
        # an issuer's own account is no admin either
        for registry in (stranger, issuer.registry):
            with pytest.raises(ContractRevert) as caught:
                action(registry)
            assert caught.value.error_name == "MissingRole"
            assert caught.value.args_by_name["account"] == registry.sender.address  # type: ignore[union-attr]


def test_accounts(admin_registry: RegistryClient, issuer: Issuer, accounts: Accounts) -> None:
    assert admin_registry.issuer_of(issuer.account.address) == issuer.uscc
    other = make_uscc()
    admin_registry.register_issuer(other, "其他机关")
    with refused("AccountTaken"):
        admin_registry.add_account(other, issuer.account.address)
    with refused("UnknownIssuer"):
        admin_registry.add_account(make_uscc(), accounts.new().address)
    with refused("NotIssuerAccount"):
        admin_registry.remove_account(other, issuer.account.address)
    admin_registry.remove_account(issuer.uscc, issuer.account.address)
    assert admin_registry.issuer_of(issuer.account.address) is None


def test_roles_and_last_admin(admin_registry: RegistryClient, accounts: Accounts) -> None:
    second = accounts.new()
    admin_registry.grant_role(ADMIN_ROLE, second.address)
    assert admin_registry.has_role(ADMIN_ROLE, second.address)
    as_second = RegistryClient(admin_registry.rpc, admin_registry.deployment, second)
    as_second.revoke_role(ADMIN_ROLE, second.address)  # an admin may step down...
    assert not admin_registry.has_role(ADMIN_ROLE, second.address)
    with refused("LastAdmin"):  # ...but the last one may not
        admin_registry.revoke_role(ADMIN_ROLE, admin_registry.deployment.deployer)


def test_key_history(issuer: Issuer, admin_registry: RegistryClient, accounts: Accounts) -> None:
    key1, key2 = secrets.token_bytes(32), secrets.token_bytes(32)
    issuer.registry.add_key(issuer.uscc, key1, 1_000, None, b"\x04" + key1 * 2)  # rotation
    admin_registry.add_key(issuer.uscc, key2, 2_000, 9_000)  # so may the admin
    assert issuer.registry.key_ids(issuer.uscc) == [key1, key2]
    assert issuer.registry.published_key(issuer.uscc, key1) == b"\x04" + key1 * 2
    assert issuer.registry.published_key(issuer.uscc, key2) is None
    with refused("KeyAlreadyRegistered"):
        issuer.registry.add_key(issuer.uscc, key1, 1_000, None)
    with refused("InvalidValidity"):
        issuer.registry.add_key(issuer.uscc, secrets.token_bytes(32), 5_000, 5_000)
    stranger = RegistryClient(issuer.registry.rpc, issuer.registry.deployment, accounts.new())
    with refused("NotIssuerAccount"):
        stranger.add_key(issuer.uscc, secrets.token_bytes(32), 0, None)
    with refused("NotIssuerAccount"):
        stranger.report_key_compromised(issuer.uscc, key1, 1)

    issuer.registry.retire_key(issuer.uscc, key1, 3_000)
    with refused("InvalidValidity"):  # cannot extend a key's life past its end
        issuer.registry.retire_key(issuer.uscc, key2, 10_000)
    issuer.registry.report_key_compromised(issuer.uscc, key2, 4_000)
    with refused("KeyAlreadyCompromised"):
        issuer.registry.report_key_compromised(issuer.uscc, key2, 4_500)
    with refused("UnknownKey"):
        issuer.registry.retire_key(issuer.uscc, secrets.token_bytes(32), 3_000)

    record1 = issuer.registry.key_record(issuer.uscc, key1)
    record2 = issuer.registry.key_record(issuer.uscc, key2)
    assert record1 is not None and record2 is not None
    assert (record1.valid_from, record1.valid_until, record1.compromised_at) == (1_000, 3_000, None)
    assert (record2.valid_from, record2.valid_until, record2.compromised_at) == (
        2_000,
        9_000,
        4_000,
    )
    assert issuer.registry.key_record(issuer.uscc, secrets.token_bytes(32)) is None
    # judged at signing time: before, during, after retirement / compromise
    for key, record, when, expected in [
        (key1, record1, 999, False),
        (key1, record1, 1_000, True),
        (key1, record1, 2_999, True),
        (key1, record1, 3_000, False),
        (key2, record2, 3_999, True),
        (key2, record2, 4_000, False),
    ]:
        assert issuer.registry.key_valid_at(issuer.uscc, key, when) is expected
        assert record.valid_at(when) is expected


def test_bad_arguments_fail_before_the_chain(admin_registry: RegistryClient) -> None:
    with pytest.raises(InvalidArgument, match="USCC"):
        admin_registry.register_issuer("not-a-uscc", "x")
    with pytest.raises(InvalidArgument, match="32 bytes"):
        admin_registry.add_key(make_uscc(), b"short", 0)
    with pytest.raises(InvalidArgument, match="address"):
        admin_registry.add_account(make_uscc(), "0x1234")


def test_reads_need_no_account(rpc: Rpc, issuer: Issuer) -> None:
    reader = RegistryClient(rpc, issuer.registry.deployment)
    assert reader.issuer_status(issuer.uscc) is IssuerStatus.ACTIVE
    with pytest.raises(Exception, match="no account"):
        reader.register_issuer(make_uscc(), "x")
