"""``zhengyin devnet up|down|status`` and ``zhengyin deploy``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from chain.errors import ChainError
from chain.registry import RegistryClient
from devnet.deploy import DeploymentRecord, ensure_deployed
from devnet.node import devnet_of
from verifier.app.context import chain_rpc, operator
from verifier.cli.exits import ExitStatus
from verifier.cli.output import echo_json, output_options, progress
from verifier.errors import VerifierError, error_code
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)


@click.group("devnet")
def devnet_group() -> None:
    """The local chain (anvil, or Hardhat's node: ZHENGYIN_DEVNET_NODE) of this data
    directory."""


@devnet_group.command("up")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port on 127.0.0.1 [ZHENGYIN_DEVNET_PORT]."
)
@output_options
@pass_settings
def devnet_up(settings: Settings, port: int | None, as_json: bool) -> None:
    """Start the devnet in the background (anvil: state kept under ZHENGYIN_HOME; a state
    file damaged by a crash is replaced by the newest good copy kept, and this says so.
    Hardhat: an empty chain, not kept). JSON: {url, chain_id, pid, started, restored, node}."""
    node = devnet_of(settings.home_dir, settings.devnet_node)
    with progress("starting the devnet"):
        info, started = node.up(port or settings.devnet_port)
    restored = node.restored_from
    if restored is not None:
        click.echo(f"warning [state_restored]: {restored}", err=True)
    if as_json:
        echo_json({"url": info.url, "chain_id": info.chain_id, "pid": info.pid,
                   "started": started, "restored": restored, "node": info.node})
        return
    verb = "started" if started else "already running"
    kept = "" if info.keeps_state else ", Hardhat's node: its chain is not kept"
    click.echo(f"devnet {verb}: {info.url} (chain id {info.chain_id}, pid {info.pid}{kept})")


@devnet_group.command("down")
@output_options
@pass_settings
def devnet_down(settings: Settings, as_json: bool) -> None:
    """Stop the devnet, whichever node runs: anvil saves its whole state, Hardhat's node
    keeps none (its chain is gone). JSON: {stopped}."""
    node = devnet_of(settings.home_dir, settings.devnet_node)
    with progress("stopping the devnet"):
        info = node.running()
        stopped = node.down()
    if as_json:
        echo_json({"stopped": stopped})
    elif not stopped:
        click.echo("devnet was not running")
    elif info is None or info.keeps_state:
        click.echo("devnet stopped, state saved")
    else:
        click.echo("devnet stopped; Hardhat's node keeps no state: its chain is gone")


@devnet_group.command("status")
@output_options
@pass_settings
def devnet_status(settings: Settings, as_json: bool) -> None:
    """Chain id, block height and deployed contract addresses. Exit status 0 when the chain
    answers, 4 when it does not (the devnet is down, or ZHENGYIN_RPC_URL is unreachable).
    JSON: {running, url, chain_id, block, contracts} or {running: false, error, message}."""
    status = _status(settings)
    if as_json:
        echo_json(status)
    elif not status["running"]:
        click.echo(f"chain: not reachable ({status['message']})")
    if not status["running"]:
        raise SystemExit(ExitStatus.UNAVAILABLE)
    if as_json:
        return
    click.echo(f"chain:     {status['url']}")
    click.echo(f"chain id:  {status['chain_id']}")
    click.echo(f"block:     {status['block']}")
    contracts = status["contracts"]
    if contracts is None:
        click.echo("contracts: not deployed (run `zhengyin deploy`)")
    else:
        for name in ("IssuerRegistry", "CertificateRegistry"):
            click.echo(f"{name + ':':<21}{contracts[name]}")
        click.echo(f"deployed at block {contracts['block']} by {contracts['deployer']}")
        if not contracts["code_present"]:
            click.echo("warning: the recorded contracts have no code on this chain")


def _status(settings: Settings) -> dict[str, Any]:
    try:
        rpc = chain_rpc(settings, timeout=5.0)
        chain_id = int(rpc.call("eth_chainId"), 16)
        block = int(rpc.call("eth_blockNumber"), 16)
    except (ChainError, VerifierError) as exc:
        return {"running": False, "error": error_code(exc), "message": str(exc)}
    found = DeploymentRecord(settings.home_dir).load(chain_id)
    contracts = None
    if found is not None:
        contracts = {
            "IssuerRegistry": found.issuer_registry,
            "CertificateRegistry": found.certificate_registry,
            "block": found.block,
            "deployer": found.deployer,
            "code_present": RegistryClient(rpc, found).code_present(),
        }
    return {
        "running": True,
        "url": rpc.shown_url,
        "chain_id": chain_id,
        "block": block,
        "contracts": contracts,
    }


@click.command("deploy")
@click.option("--replace", is_flag=True, help="Deploy anew when the recorded contracts are gone.")
@output_options
@pass_settings
def deploy(settings: Settings, replace: bool, as_json: bool) -> None:
    """Deploy the contracts to the configured chain once and record them. JSON: {chain_id,
    block, deployed_now, IssuerRegistry, CertificateRegistry, record, catalogue_added}."""
    deployed = deploy_and_report(settings, replace=replace, echo=None if as_json else click.echo)
    if as_json:
        echo_json(deployed)


def deploy_and_report(
    settings: Settings,
    *,
    replace: bool = False,
    echo: Callable[[str], object] | None = click.echo,
) -> dict[str, Any]:
    """Deploy once (and put the shipped certificate types in the catalogue); say what was
    done through ``echo`` (``None``: say nothing); return it as JSON."""
    from verifier.app.catalogue import publish_catalogue

    say = echo or (lambda _: None)
    rpc = chain_rpc(settings)
    record = DeploymentRecord(settings.home_dir)
    sender = operator(settings, rpc)
    with progress("deploying the contracts"):
        found, deployed_now = ensure_deployed(record, sender, replace_missing=replace)
    if deployed_now:
        say(f"deployed to chain {found.chain_id} at block {found.block}:")
    else:
        say(f"already deployed on chain {found.chain_id} (block {found.block}); nothing to do:")
    say(f"  IssuerRegistry       {found.issuer_registry}")
    say(f"  CertificateRegistry  {found.certificate_registry}")
    say(f"  record: {record.path(found.chain_id)}")
    with progress("publishing the certificate catalogue"):
        added = publish_catalogue(RegistryClient(rpc, found, sender))
    if added:  # the deployer is the national admin: the shipped types enter the catalogue
        say(f"  catalogue: {len(added)} certificate type(s) added ({', '.join(added)})")
    return {
        "chain_id": found.chain_id,
        "block": found.block,
        "deployed_now": deployed_now,
        "IssuerRegistry": found.issuer_registry,
        "CertificateRegistry": found.certificate_registry,
        "record": str(record.path(found.chain_id)),
        "catalogue_added": list(added),
    }


COMMANDS: list[click.Command] = [devnet_group, deploy]
