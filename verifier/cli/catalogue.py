"""``zhengyin type add|revise|withdraw|show|list`` (the catalogue on chain),
``zhengyin issuer authorize|deauthorize``, ``zhengyin admin chain-add|chain-remove`` (admin
accounts on chain, optionally limited to a jurisdiction prefix). Every command acts with the
operator account (``ZHENGYIN_OPERATOR_KEY_FILE``): a regional admin runs them with its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from chain.registry import ADMIN_ROLE
from chain.transactions import TransactionReceipt
from verifier.app.catalogue import (
    authorizations_json,
    authorize_issuer,
    catalogue_json,
    deauthorize_issuer,
    local_type,
    publish_type,
    type_json,
    withdraw_type,
)
from verifier.app.context import registry
from verifier.checks.authority import fold_catalogue
from verifier.cli.issuer import issuer_group
from verifier.cli.output import echo_json, output_options, progress
from verifier.errors import VerifierError
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)


T = TypeVar("T")


def _send(what: Callable[[], T]) -> T:
    """One change on chain, with a spinner while it is sent and mined."""
    with progress("sending the transaction"):
        return what()


def _done(what: str, receipt: TransactionReceipt, as_json: bool, **extra: Any) -> None:
    """JSON: {done, tx_hash, block, …}."""
    if as_json:
        echo_json({"done": what, "tx_hash": receipt.tx_hash, "block": receipt.block_number,
                   **extra})
    else:
        click.echo(f"{what} (block {receipt.block_number}, transaction {receipt.tx_hash})")


@click.group("type")
def type_group() -> None:
    """The certificate catalogue on chain (证照目录, GB/T 36902)."""


@type_group.command("add")
@click.argument("code")
@output_options
@pass_settings
def type_add(settings: Settings, code: str, as_json: bool) -> None:
    """Put type CODE (its schema from certs/types.json) into the catalogue."""
    ctype = local_type(code)
    receipt = _send(lambda: publish_type(registry(settings, write=True), code))
    _done(f"type {code} ({ctype.name}) added", receipt, as_json,
          schema_sm3=ctype.schema_digest().hex())


@type_group.command("revise")
@click.argument("code")
@output_options
@pass_settings
def type_revise(settings: Settings, code: str, as_json: bool) -> None:
    """Publish a new version of type CODE (names and schema as certs/types.json has them)."""
    receipt = _send(lambda: publish_type(registry(settings, write=True), code, revise=True))
    _done(f"type {code} revised", receipt, as_json)


@type_group.command("withdraw")
@click.argument("code")
@output_options
@pass_settings
def type_withdraw(settings: Settings, code: str, as_json: bool) -> None:
    """Withdraw type CODE: no certificate of it anchored from now on is valid."""
    receipt = _send(lambda: withdraw_type(registry(settings, write=True), code))
    _done(f"type {code} withdrawn", receipt, as_json)


@type_group.command("list")
@output_options
@pass_settings
def type_list(settings: Settings, as_json: bool) -> None:
    """Every type in the catalogue on chain."""
    entries = catalogue_json(fold_catalogue(registry(settings).catalogue_events()))
    if as_json:
        echo_json(entries)
        return
    for e in entries:
        state = "withdrawn" if e["withdrawn_at"] else f"version {e['version']}"
        match = "" if e["schema_matches_local"] else "  (schema differs from certs/types.json)"
        click.echo(f"{e['code']}  {e['name']}  {e['defining_body']}  {state}{match}")


@type_group.command("show")
@click.argument("code")
@output_options
@pass_settings
def type_show(settings: Settings, code: str, as_json: bool) -> None:
    """One type: its catalogue entry and the schema published with the project."""
    found = type_json(fold_catalogue(registry(settings).catalogue_events()), code)
    if as_json:
        echo_json(found)
        return
    for key, value in found.items():
        click.echo(f"{key:22} {json.dumps(value, ensure_ascii=False)}")


@issuer_group.command("authorize")
@click.option("--code", "uscc", required=True, help="The agency's USCC.")
@click.option("--type", "type_code", required=True, help="The certificate type code.")
@click.option("--from", "valid_from", help="First day (Beijing date; default today).")
@click.option("--until", "valid_until", help="Last day (Beijing date; default: no end).")
@click.option("--jurisdiction", help="Only certificates under this division prefix "
              "(default: the agency's registered jurisdiction).")
@click.option("--anywhere", is_flag=True, help="Certificates of any jurisdiction (nationwide).")
@output_options
@pass_settings
def issuer_authorize(
    settings: Settings, uscc: str, type_code: str, valid_from: str | None,
    valid_until: str | None, jurisdiction: str | None, anywhere: bool, as_json: bool,
) -> None:
    """Authorize an agency to issue a certificate type (an admin within its scope). A grant
    starts no earlier than now, whatever --from says: what was anchored before stays
    unauthorized."""
    if anywhere and jurisdiction is not None:
        raise VerifierError("--anywhere and --jurisdiction exclude each other", code="usage")
    grant, receipt = _send(lambda: authorize_issuer(
        registry(settings, write=True), uscc, type_code, valid_from, valid_until,
        "" if anywhere else jurisdiction,
    ))
    _done(f"{uscc} authorized for {type_code}", receipt, as_json,
          valid_from=grant.valid_from, valid_until=grant.valid_until,
          jurisdiction=grant.jurisdiction)


@issuer_group.command("deauthorize")
@click.option("--code", "uscc", required=True, help="The agency's USCC.")
@click.option("--type", "type_code", required=True, help="The certificate type code.")
@output_options
@pass_settings
def issuer_deauthorize(settings: Settings, uscc: str, type_code: str, as_json: bool) -> None:
    """End an agency's authorization for a type now (earlier certificates stay valid)."""
    receipt = _send(lambda: deauthorize_issuer(registry(settings, write=True), uscc, type_code))
    _done(f"{uscc} no longer authorized for {type_code}", receipt, as_json)


@issuer_group.command("authorizations")
@click.option("--code", "uscc", required=True, help="The agency's USCC.")
@output_options
@pass_settings
def issuer_authorizations(settings: Settings, uscc: str, as_json: bool) -> None:
    """An agency's authorizations on chain, and whether each type is issuable now."""
    reader = registry(settings)
    out = authorizations_json(
        reader.catalogue_events() + reader.grant_events(uscc), uscc, reader.jurisdiction_of(uscc)
    )
    if as_json:
        echo_json(out)
        return
    for item in out:
        now_text = "issuable now" if item["now"] else "not now"
        click.echo(f"{item['type']}  {item['name']}  {now_text}")


def admin_commands(group: click.Group) -> None:
    """``admin chain-add|chain-remove``: admin accounts on chain (the national admin only)."""

    @group.command("chain-add")
    @click.argument("address")
    @click.option("--scope", default="", help="Limit it to this division prefix (e.g. 36).")
    @output_options
    @pass_settings
    def chain_add(settings: Settings, address: str, scope: str, as_json: bool) -> None:
        """Make ADDRESS an admin on chain (its scope is set first). JSON: {done, tx_hash,
        block, address, scope}."""
        admin = registry(settings, write=True)
        with progress("sending the transactions"):
            admin.set_admin_scope(address, scope)
            receipt = admin.grant_role(ADMIN_ROLE, address)
        where = f"within {scope}" if scope else "national"
        _done(f"{address} is an admin on chain ({where})", receipt, as_json,
              address=address, scope=scope)

    @group.command("chain-remove")
    @click.argument("address")
    @output_options
    @pass_settings
    def chain_remove(settings: Settings, address: str, as_json: bool) -> None:
        """Take the admin role on chain from ADDRESS. JSON: {done, tx_hash, block,
        address}."""
        receipt = _send(lambda: registry(settings, write=True).revoke_role(ADMIN_ROLE, address))
        _done(f"{address} is no longer an admin on chain", receipt, as_json, address=address)


COMMANDS: list[click.Command] = [type_group]
