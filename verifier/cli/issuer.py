"""``zhengyin issuer add`` and ``issuer revoke-keys``: setting up the agencies of this service
(the authorization subcommands of the group are in :mod:`verifier.cli.catalogue`)."""

from __future__ import annotations

from pathlib import Path

import click

from verifier.app.agency import add_issuer, open_store
from verifier.cli.output import echo_json, output_options, progress
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)


@click.group("issuer")
def issuer_group() -> None:
    """Issuing agencies of this service."""


@issuer_group.command("add")
@click.option("--code", "uscc", required=True, help="The agency's USCC (统一社会信用代码).")
@click.option("--name", required=True, help="The agency's name.")
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Import this SM2 private key (PEM) instead of creating one.",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The X.509 certificate of --key.",
)
@click.option(
    "--picture",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The seal picture; default: a drawn red round seal.",
)
@click.option(
    "--jurisdiction",
    default="",
    help="The agency's administrative division code (行政区划, 6 digits); none: national.",
)
@output_options
@pass_settings
def issuer_add(
    settings: Settings,
    uscc: str,
    name: str,
    key: Path | None,
    cert: Path | None,
    picture: Path | None,
    jurisdiction: str,
    as_json: bool,
) -> None:
    """Set up an agency: SM2 key, seal, chain registration; print a new API key once.
    JSON: {code, name, account, key_id, seal, registered_now, api_key}."""
    with progress("setting up the agency (key, seal, registration on chain)"):
        added = add_issuer(
            settings, uscc, name, key=key, cert=cert, picture=picture, jurisdiction=jurisdiction
        )
    out = {
        "code": added.uscc,
        "name": added.name,
        "account": added.account,
        "key_id": added.key_id.hex(),
        "seal": str(added.seal_path),
        "registered_now": added.registered_now,
        "api_key": added.api_key,
    }
    if as_json:
        echo_json(out)
        return
    verb = "registered" if added.registered_now else "already registered; brought up to date"
    click.echo(f"issuer {added.uscc} ({added.name}) {verb}")
    click.echo(f"  chain account  {added.account}")
    click.echo(f"  SM2 key id     {added.key_id.hex()}")
    click.echo(f"  seal           {added.seal_path}")
    click.echo(f"  API key        {added.api_key}")
    click.echo("the API key is shown only this once; keep it secret.")


@issuer_group.command("revoke-keys")
@click.argument("uscc")
@output_options
@pass_settings
def issuer_revoke_keys(settings: Settings, uscc: str, as_json: bool) -> None:
    """Revoke every API key of an agency (issue a new one with `issuer add`).
    JSON: {issuer, revoked}."""
    code = uscc.strip().upper()
    count = open_store(settings).revoke_api_keys("issuer", code)
    if as_json:
        echo_json({"issuer": code, "revoked": count})
    else:
        click.echo(f"revoked {count} API key(s) of issuer {uscc}")


COMMANDS: list[click.Command] = [issuer_group]
