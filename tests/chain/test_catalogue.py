"""The certificate catalogue, issuer authorizations and regional admins on chain
(IssuerRegistry through the Python client, on a real anvil)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest

from chain.errors import ContractRevert, InvalidArgument
from chain.registry import ADMIN_ROLE, Grant, RegistryClient, TypeRecord, issuer_id, type_id
from chain.transactions import TransactionSender
from tests.conftest import Accounts, make_uscc

DIGEST = bytes(range(32))


def refused(name: str) -> pytest.RaisesExc[ContractRevert]:
    return pytest.raises(ContractRevert, match=rf"refused: {name}\(")


def new_type_code() -> str:
    """A fresh 21-character type code (18 characters of a body's code and 3 digits)."""
    return make_uscc() + f"{secrets.randbelow(1000):03d}"


def chain_now(registry: RegistryClient) -> int:
    block = registry.rpc.call("eth_getBlockByNumber", ["latest", False])
    return int(block["timestamp"], 16)


@pytest.fixture
def regional(admin_registry: RegistryClient, accounts: Accounts) -> Iterator[RegistryClient]:
    """An admin limited to 江西省 (36…): its scope is set before it becomes an admin (and its
    role is revoked after the test: other tests count the session's admins)."""
    account: TransactionSender = accounts.new()
    admin_registry.set_admin_scope(account.address, "36")
    admin_registry.grant_role(ADMIN_ROLE, account.address)
    yield RegistryClient(admin_registry.rpc, admin_registry.deployment, account)
    admin_registry.revoke_role(ADMIN_ROLE, account.address)


def test_types_are_added_revised_and_withdrawn_by_the_national_admin(
    admin_registry: RegistryClient, regional: RegistryClient
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
    admin_registry: RegistryClient,
) -> None:
    uscc, code = make_uscc(), new_type_code()
    admin_registry.register_issuer(uscc, "南昌市市场监督管理局", "360100")
    assert admin_registry.jurisdiction_of(uscc) == "360100"
    with refused("UnknownType"):
        admin_registry.authorize(uscc, code, 0)
    admin_registry.add_type(code, "营业执照", "国家市场监督管理总局", DIGEST)
    t = chain_now(admin_registry) + 1_000  # a window in the future
    admin_registry.authorize(uscc, code, t, t + 1_000, "3601")
    assert admin_registry.grants(uscc, code) == [Grant(t, t + 1_000, "3601")]
    at = admin_registry.authorized_at
    assert at(uscc, code, t, "360102") and at(uscc, code, t + 999, "360100")
    assert not at(uscc, code, t - 1, "360102") and not at(uscc, code, t + 1_000, "360102")
    assert not at(uscc, code, t + 500, "370102")  # another province
    assert not at(uscc, new_type_code(), t + 500, "360102")  # another type
    assert not at(make_uscc(), code, t + 500, "360102")  # another issuer
    with refused("InvalidValidity"):
        admin_registry.authorize(uscc, code, t + 5, t + 5)
    # an open-ended grant anywhere; withdrawn later: what came before stays covered
    admin_registry.authorize(uscc, code, 0)
    start = admin_registry.grants(uscc, code)[-1].valid_from
    assert at(uscc, code, 10**9 * 3, "440300")
    time.sleep(1.1)  # a second of authorization before the withdrawal
    receipt = admin_registry.deauthorize(uscc, code)
    ended = chain_now(admin_registry)
    assert at(uscc, code, ended - 1, "440300") and not at(uscc, code, ended, "440300")
    assert admin_registry.grants(uscc, code)[-1] == Grant(start, ended, "")
    with refused("NotAuthorized"):
        admin_registry.deauthorize(uscc, code)
    assert "IssuerDeauthorized" in {e.name for e in admin_registry.events(receipt.block_number)}
    # a withdrawn type covers nothing from its withdrawal on
    admin_registry.authorize(uscc, code, 0)
    time.sleep(1.1)
    admin_registry.withdraw_type(code)
    gone = chain_now(admin_registry)
    assert at(uscc, code, gone - 1, "360100") and not at(uscc, code, gone + 100, "360100")
    with refused("TypeIsWithdrawn"):
        admin_registry.authorize(uscc, code, 0)


def test_a_grant_never_reaches_back_before_it_was_made(admin_registry: RegistryClient) -> None:
    """The attack (review of #16): an agency anchors while unauthorized; an admin then
    grants it a window starting in the past, and what was refused becomes valid. A grant now
    starts at its own block whatever it asks for, in the contract and so in every reading of
    its events."""
    uscc, code = make_uscc(), new_type_code()
    admin_registry.register_issuer(uscc, "机关", "360100")
    admin_registry.add_type(code, "类型", "定义机构", DIGEST)
    before = chain_now(admin_registry)
    receipt = admin_registry.authorize(uscc, code, 0)
    (grant,) = admin_registry.grants(uscc, code)
    made = int(admin_registry.rpc.call(
        "eth_getBlockByNumber", [hex(receipt.block_number), False])["timestamp"], 16)
    assert grant.valid_from == made >= before
    assert not admin_registry.authorized_at(uscc, code, made - 1, "360100")
    (event,) = [e for e in admin_registry.grant_events(uscc, code)]
    assert event.args["validFrom"] == made  # the events say what the contract holds
    with refused("InvalidValidity"):  # a window wholly in the past is no grant at all
        admin_registry.authorize(uscc, code, 1_000, 2_000)


def test_places_are_up_to_six_digits(admin_registry: RegistryClient) -> None:
    """Python reads a place as its text, the contract as bytes up to the first zero: only
    digits, left-aligned, at most six, nothing after the first zero byte, or both could
    disagree on what a grant covers."""
    uscc, code = make_uscc(), new_type_code()
    admin_registry.register_issuer(uscc, "机关", "360100")
    admin_registry.add_type(code, "类型", "定义机构", DIGEST)
    for place in (b"36\0\0X", b"3601001", b"36A", b"\x0036"):
        raw = place.ljust(32, b"\0")
        with refused("InvalidPlace"):
            admin_registry._issuer_tx("authorize", issuer_id(uscc), type_id(code), 0, 0, raw)
        with refused("InvalidPlace"):
            admin_registry._issuer_tx("registerIssuer", issuer_id(make_uscc()), "x", raw)


def test_a_grant_not_yet_begun_is_empty_once_withdrawn(admin_registry: RegistryClient) -> None:
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
    admin_registry: RegistryClient, regional: RegistryClient, accounts: Accounts
) -> None:
    assert regional.admin_scope(regional.sender.address) == "36"  # type: ignore[union-attr]
    code = new_type_code()
    admin_registry.add_type(code, "食品经营许可证", "国家市场监督管理总局", DIGEST)
    inside, outside, national = make_uscc("3601"), make_uscc("3301"), make_uscc("10")
    regional.register_issuer(inside, "南昌市行政审批局", "360100")
    admin_registry.register_issuer(outside, "杭州市市场监督管理局", "330100")
    admin_registry.register_issuer(national, "国家市场监督管理总局")
    for refusal in (
        lambda: regional.register_issuer(make_uscc("3301"), "杭州某局", "330100"),
        lambda: regional.register_issuer(make_uscc("36"), "全国性机构", ""),
        # an organisation registered in 北京 (its USCC says so), however it is placed
        lambda: regional.register_issuer(make_uscc("11"), "北京某机构", "360100"),
        lambda: regional.register_issuer(make_uscc("10"), "国家某机构", "360100"),
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
