"""The certificate catalogue, issuer authorizations and regional admins on chain
(IssuerRegistry through the Python client, on a real anvil)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest

from chain.errors import ContractRevert, InvalidArgument
from chain.registry import ADMIN_ROLE, Grant, Registry, TypeRecord
from chain.transactions import TransactionSender
from tests.conftest import Accounts, make_uscc

DIGEST = bytes(range(32))


def refused(name: str) -> pytest.RaisesExc[ContractRevert]:
    return pytest.raises(ContractRevert, match=rf"refused: {name}\(")


def new_type_code() -> str:
    """A fresh 21-character type code (18 characters of a body's code and 3 digits)."""
    return make_uscc() + f"{secrets.randbelow(1000):03d}"


def chain_now(registry: Registry) -> int:
    block = registry.rpc.call("eth_getBlockByNumber", ["latest", False])
    return int(block["timestamp"], 16)


@pytest.fixture
def regional(admin_registry: Registry, accounts: Accounts) -> Iterator[Registry]:
    """An admin limited to 江西省 (36…): its scope is set before it becomes an admin (and its
    role is revoked after the test: other tests count the session's admins)."""
    account: TransactionSender = accounts.new()
    admin_registry.set_admin_scope(account.address, "36")
    admin_registry.grant_role(ADMIN_ROLE, account.address)
    yield Registry(admin_registry.rpc, admin_registry.deployment, account)
    admin_registry.revoke_role(ADMIN_ROLE, account.address)


def test_types_are_added_revised_and_withdrawn_by_the_national_admin(
    admin_registry: Registry, regional: Registry
) -> None:
    code = new_type_code()
    assert admin_registry.type_record(code) is None
    admin_registry.add_type(code, "营业执照", "国家市场监督管理总局", DIGEST)
    assert admin_registry.type_record(code) == TypeRecord(code, 1, None, DIGEST)
    with refused("TypeExists"):
        admin_registry.add_type(code, "again", "x", DIGEST)
    revised = bytes(32)
    admin_registry.revise_type(code, "营业执照（新版）", "国家市场监督管理总局", revised)
    assert admin_registry.type_record(code) == TypeRecord(code, 2, None, revised)
    for action in (
        lambda r: r.add_type(new_type_code(), "x", "y", DIGEST),
        lambda r: r.revise_type(code, "x", "y", DIGEST),
        lambda r: r.withdraw_type(code),
    ):
        with refused("NationalAdminOnly"):
            action(regional)
    receipt = admin_registry.withdraw_type(code)
    record = admin_registry.type_record(code)
    assert record is not None and record.withdrawn_at is not None
    assert not record.current_at(record.withdrawn_at) and record.current_at(record.withdrawn_at - 1)
    with refused("TypeIsWithdrawn"):
        admin_registry.revise_type(code, "x", "y", DIGEST)
    names = [e.name for e in admin_registry.events(receipt.block_number - 5)]
    assert {"TypeAdded", "TypeRevised", "TypeWithdrawn"} <= set(names)
    with pytest.raises(InvalidArgument):
        admin_registry.add_type("营业执照", "x", "y", DIGEST)


def test_an_authorization_covers_its_time_type_and_jurisdiction(
    admin_registry: Registry,
) -> None:
    uscc, code = make_uscc(), new_type_code()
    admin_registry.register_issuer(uscc, "南昌市市场监督管理局", "360100")
    assert admin_registry.jurisdiction_of(uscc) == "360100"
    with refused("UnknownType"):
        admin_registry.authorize(uscc, code, 0)
    admin_registry.add_type(code, "营业执照", "国家市场监督管理总局", DIGEST)
    admin_registry.authorize(uscc, code, 1_000, 2_000, "3601")
    assert admin_registry.grants(uscc, code) == [Grant(1_000, 2_000, "3601")]
    at = admin_registry.authorized_at
    assert at(uscc, code, 1_000, "360102") and at(uscc, code, 1_999, "360100")
    assert not at(uscc, code, 999, "360102") and not at(uscc, code, 2_000, "360102")
    assert not at(uscc, code, 1_500, "370102")  # another province
    assert not at(uscc, new_type_code(), 1_500, "360102")  # another type
    assert not at(make_uscc(), code, 1_500, "360102")  # another issuer
    with refused("InvalidValidity"):
        admin_registry.authorize(uscc, code, 5, 5)
    # an open-ended grant anywhere; withdrawn later: what came before stays covered
    admin_registry.authorize(uscc, code, 3_000)
    assert at(uscc, code, 10**9, "440300")
    receipt = admin_registry.deauthorize(uscc, code)
    ended = chain_now(admin_registry)
    assert at(uscc, code, ended - 1, "440300") and not at(uscc, code, ended, "440300")
    assert admin_registry.grants(uscc, code)[-1] == Grant(3_000, ended, "")
    with refused("NotAuthorized"):
        admin_registry.deauthorize(uscc, code)
    assert "IssuerDeauthorized" in {e.name for e in admin_registry.events(receipt.block_number)}
    # a withdrawn type covers nothing from its withdrawal on
    admin_registry.authorize(uscc, code, 0)
    admin_registry.withdraw_type(code)
    gone = chain_now(admin_registry)
    assert at(uscc, code, gone - 1, "360100") and not at(uscc, code, gone + 100, "360100")
    with refused("TypeIsWithdrawn"):
        admin_registry.authorize(uscc, code, 0)


def test_a_grant_not_yet_begun_is_empty_once_withdrawn(admin_registry: Registry) -> None:
    uscc, code = make_uscc(), new_type_code()
    admin_registry.register_issuer(uscc, "机关", "110105")
    admin_registry.add_type(code, "类型", "定义机构", DIGEST)
    future = int(time.time()) + 10**6
    admin_registry.authorize(uscc, code, future)
    admin_registry.deauthorize(uscc, code)
    assert not admin_registry.authorized_at(uscc, code, future + 1, "110105")
    (grant,) = admin_registry.grants(uscc, code)
    assert grant.valid_from == grant.valid_until


def test_a_regional_admin_acts_only_inside_its_prefix(
    admin_registry: Registry, regional: Registry, accounts: Accounts
) -> None:
    assert regional.admin_scope(regional.sender.address) == "36"  # type: ignore[union-attr]
    code = new_type_code()
    admin_registry.add_type(code, "食品经营许可证", "国家市场监督管理总局", DIGEST)
    inside, outside, national = make_uscc(), make_uscc(), make_uscc()
    regional.register_issuer(inside, "南昌市行政审批局", "360100")
    admin_registry.register_issuer(outside, "杭州市市场监督管理局", "330100")
    admin_registry.register_issuer(national, "国家市场监督管理总局")
    for refusal in (
        lambda: regional.register_issuer(make_uscc(), "杭州某局", "330100"),
        lambda: regional.register_issuer(make_uscc(), "全国性机构", ""),
        lambda: regional.authorize(outside, code, 0, None, "330100"),
        lambda: regional.authorize(inside, code, 0, None, ""),  # anywhere: beyond its scope
        lambda: regional.authorize(inside, code, 0, None, "33"),
        lambda: regional.authorize(national, code, 0, None, "36"),
        lambda: regional.suspend_issuer(outside, "x"),
        lambda: regional.add_account(outside, accounts.new().address),
    ):
        with refused("OutsideScope"):
            refusal()
    for role_change in (
        lambda: regional.grant_role(ADMIN_ROLE, accounts.new().address),
        lambda: regional.set_admin_scope(regional.sender.address, ""),  # type: ignore[union-attr]
    ):
        with refused("NationalAdminOnly"):
            role_change()
    regional.authorize(inside, code, 0, None, "3601")
    assert regional.authorized_at(inside, code, int(time.time()), "360102")
    regional.suspend_issuer(inside, "核查")
    regional.reinstate_issuer(inside)
    # nor keys or certificates of issuers outside its prefix
    with refused("NotIssuerAccount"):
        regional.add_key(outside, secrets.token_bytes(32), 0, None, b"\x04" + bytes(64))
    with refused("NotIssuerAccount"):
        regional.revoke(outside, secrets.token_bytes(32), 1)
    regional.add_key(inside, secrets.token_bytes(32), 0, None, b"\x04" + bytes(64))
