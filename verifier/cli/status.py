"""``zhengyin revoke|suspend|reinstate``, ``history`` and ``reconcile``: a certificate's
status on chain, its timeline, and the repair of what the database and the chain disagree
on."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import click

from certs.batcher import Batcher
from certs.events import cli_actor
from certs.reconcile import GRACE_SECONDS, reconcile_statuses
from certs.status import (
    REASONS,
    change_status,
    identifier_of_leaf,
    load_record,
)
from certs.store import Store
from chain.registry import ChainEvent, ChainStatus, RegistryClient
from verifier.app.agency import issuer_chain_client, open_store, require_issuer
from verifier.app.catalogue_context import CONTEXT_NAMES, chain_context, context_detail
from verifier.app.context import chain_rpc, deployment
from verifier.cli.exits import ExitStatus, exit_status_of_outcome
from verifier.cli.output import (
    echo_json,
    output_options,
    progress,
)
from verifier.errors import VerifierError
from verifier.index.indexer import Indexer
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)
_log = logging.getLogger("verifier.cli.certs")  # one logger for the certificate commands


def _status_command(action: str) -> click.Command:
    @click.command(action)
    @click.argument("identifiers", nargs=-1, required=True)
    @click.option("--reason", required=True, help="Why, in words (kept in the service log).")
    @click.option(
        "--reason-code",
        type=click.IntRange(0, 65535),
        default=0,
        show_default=True,
        help="Reason code recorded on chain: " + "; ".join(f"{k} {v}" for k, v in REASONS.items()),
    )
    @output_options
    @pass_settings
    def command(
        settings: Settings,
        identifiers: tuple[str, ...],
        reason: str,
        reason_code: int,
        as_json: bool,
    ) -> None:
        store = open_store(settings)
        issuer = load_record(store, identifiers[0]).issuer
        with progress("sending the status change"):
            receipt = change_status(
                store,
                issuer_chain_client(settings, issuer),
                issuer,
                list(identifiers),
                action,
                reason_code=reason_code,
                reason=reason,
                actor=cli_actor(),
            )
        if as_json:
            echo_json({"action": action, "identifiers": list(identifiers),
                       "reason_code": reason_code, "block": receipt.block_number,
                       "tx_hash": receipt.tx_hash})
            return
        click.echo(
            f"{action}: {len(identifiers)} certificate(s) in block {receipt.block_number} "
            f"(tx {receipt.tx_hash})"
        )

    command.help = (
        f"{action.capitalize()} certificates by identifier (one chain transaction). "
        "JSON: {action, identifiers, reason_code, block, tx_hash}."
    )
    return command


@click.command("history")
@click.argument("certificate")
@click.option(
    "--from-chain",
    is_flag=True,
    help="Use nothing but the chain: CERTIFICATE is a certificate document (JSON); "
    "the timeline and a fresh verification come from chain data alone.",
)
@output_options
@pass_settings
def history(settings: Settings, certificate: str, from_chain: bool, as_json: bool) -> None:
    """A certificate's chain events: anchored, status changes, supersede links.

    CERTIFICATE is an identifier (looked up in this service's database) or, with
    --from-chain, the path of a certificate document. JSON: {identifier, status, events:
    [{about, event, block, time, tx_hash, detail}]} (--from-chain: and verification).
    With --from-chain the document is verified too, and the exit status is the verdict's
    (0 valid, 1 invalid, 3 could not decide), as for `verify`."""
    if from_chain:
        _history_from_chain(settings, Path(certificate), as_json)
        return
    store = open_store(settings)
    record = load_record(store, certificate)
    require_issuer(store, record.issuer)
    registry = issuer_chain_client(settings, record.issuer)
    with progress("reading the chain"):
        events = registry.history_of_leaf(record.issuer, record.leaf, root=record.root)
        events += chain_context(
            registry, record.issuer, str(record.document.values()["type.code"])
        )
    entries = [_entry(store, record.leaf, e) for e in _in_chain_order(events)]
    _print_history(certificate, record.status, entries, as_json)


def _in_chain_order(events: list[ChainEvent]) -> list[ChainEvent]:
    return sorted(events, key=lambda e: (e.block_number, e.log_index))


def _print_history(
    identifier: str,
    status: str,
    entries: list[dict[str, Any]],
    as_json: bool,
    verdict: dict[str, Any] | None = None,
) -> None:
    if as_json:
        out: dict[str, Any] = {"identifier": identifier, "status": status, "events": entries}
        if verdict is not None:
            out["verification"] = verdict
        echo_json(out)
        return
    click.echo(f"{identifier} ({status})")
    if not entries:
        click.echo("  no chain events yet (not anchored)")
    for entry in entries:
        click.echo(
            f"  {entry['time']}  block {entry['block']:>6}  {entry['event']:<11} "
            f"{entry['detail']}  tx {entry['tx_hash']}"
        )
    if verdict is not None:
        block = verdict["subject"].get("chain", {}).get("block")
        click.echo(f"re-verified from the chain at block {block}: {verdict['verdict']}")
        for check in verdict["checks"]:
            click.echo(f"  {check['status']:<8} {check['name']:<26} {check['reason']}")


def _history_from_chain(settings: Settings, path: Path, as_json: bool) -> None:
    from certs.canonical import CertificateDocument
    from verifier.checks.certificates import verify_certificate_text

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VerifierError(
            f"--from-chain needs a certificate document file: {exc}", code="document_missing"
        ) from exc
    document = CertificateDocument.from_json(data)
    values = document.values()
    identifier = str(values.get("identifier", path.name))
    rpc = chain_rpc(settings)
    registry = RegistryClient(rpc, deployment(settings, rpc))
    if document.anchor is None:
        raise VerifierError(
            "the document has no anchor: nothing to look up on chain", code="not_anchored"
        )
    with progress("reading the chain and verifying"):
        anchor = registry.anchor_of(document.anchor.root)
        if anchor is None:
            raise VerifierError(
                "the document's batch root is not on this chain", code="not_on_chain"
            )
        events = registry.history_of_leaf(
            anchor.issuer, document.leaf, root=document.anchor.root
        )
        events += chain_context(registry, anchor.issuer, str(values["type.code"]))
        entries = [_entry(None, document.leaf, e) for e in _in_chain_order(events)]
        verdict = verify_certificate_text(data, lambda: registry)
    status = "active"
    for entry in entries:
        if entry["event"] in ("revoked", "suspended", "superseded"):
            status = entry["event"]
        elif entry["event"] == "reinstated":
            status = "active"
    _print_history(identifier, status, entries, as_json, verdict.to_json())
    # the document was re-verified: its exit status is the verdict's, as for `verify`
    click.get_current_context().exit(exit_status_of_outcome(verdict.outcome))


def _entry(store: Store | None, leaf: bytes, event: ChainEvent) -> dict[str, Any]:
    when = dt.datetime.fromtimestamp(event.timestamp, dt.UTC).isoformat().replace("+00:00", "Z")
    detail = ""
    name = event.name
    about = "certificate"
    if name in CONTEXT_NAMES:
        about, name = CONTEXT_NAMES[event.name]
        detail = " ".join(f"{k}={v}" for k, v in context_detail(event).items())
    elif name == "RootAnchored":
        name, detail = "anchored", f"batch of {event.args['leafCount']}"
    elif name == "StatusChanged":
        status = ChainStatus(event.args["status"])
        name = {
            ChainStatus.REVOKED: "revoked",
            ChainStatus.SUSPENDED: "suspended",
            ChainStatus.ACTIVE: "reinstated",
        }.get(status, status.name.lower())
        detail = f"reason {event.args['reason']}: {REASONS.get(event.args['reason'], '?')}"
    elif name == "Superseded":
        old, new = event.args["oldLeaf"], event.args["newLeaf"]
        if old == leaf:
            name = "superseded"
            detail = f"by {(store and identifier_of_leaf(store, new)) or new.hex()}"
        else:
            name = "supersedes"
            detail = f"{(store and identifier_of_leaf(store, old)) or old.hex()}"
    return {
        "about": about,
        "event": name,
        "block": event.block_number,
        "time": when,
        "tx_hash": event.tx_hash,
        "detail": detail,
    }


@click.command("reconcile")
@output_options
@click.option(
    "--grace",
    type=click.FloatRange(0),
    default=GRACE_SECONDS,
    show_default=True,
    help="Leave changes younger than this many seconds for a later pass (a request may be "
    "recording them right now).",
)
@pass_settings
def reconcile(settings: Settings, as_json: bool, grace: float) -> None:
    """Bring this database and the chain into agreement, and report what was repaired.

    The chain index is caught up (rewound if the chain lost blocks); every anchored batch is
    read back from the chain, and one the chain no longer has is anchored again; then every
    certificate whose stored status differs from the chain's is repaired: a change the
    chain lost is sent again, otherwise the database follows the chain (with a status
    change saying so). Exit 0 when database and chain agree afterwards, 3 when some
    certificate is left for a later pass (a change younger than --grace: too recent to
    judge). JSON: {indexed_block, rewinds, anchors_lost, batches_anchored, statuses,
    agree}."""
    store = open_store(settings)
    rpc = chain_rpc(settings)
    reader = RegistryClient(rpc, deployment(settings, rpc))
    indexer = Indexer(store, reader, confirmations=settings.confirmations)
    indexer.confirms = False  # its node may lag the elected indexer's (see Indexer.confirms)
    registries: dict[str, RegistryClient] = {}

    def registry_for(uscc: str) -> RegistryClient:
        if uscc not in registries:
            registries[uscc] = issuer_chain_client(settings, uscc, rpc)
        return registries[uscc]

    with progress("indexing the chain"):
        indexer.catch_up()
    batcher = Batcher(store, registry_for)
    with progress("reading every anchored batch back from the chain"):
        lost = batcher.recheck_anchored(depth=None)
    with progress("anchoring what is queued"):
        anchored = batcher.run_once()
        indexer.catch_up()
    with progress("comparing every status with the chain's"):
        repairs = reconcile_statuses(store, registry_for, grace=grace)
        indexer.catch_up()
    left = [r for r in repairs if r.action == "waiting"]
    if as_json:
        echo_json(
            {
                "indexed_block": indexer.state().indexed_block,
                "rewinds": indexer.rewinds,
                "anchors_lost": [
                    {"batch": a.batch_id, "issuer": a.issuer, "root": a.root.hex(),
                     "block": a.block_number, "certificates": a.certificates}
                    for a in lost
                ],
                "batches_anchored": [
                    {"batch": b.batch_id, "state": b.state, "block": b.block_number,
                     "tx_hash": b.tx_hash}
                    for b in anchored
                ],
                "statuses": [r.to_json() for r in repairs],
                "agree": not left,
            }
        )
    else:
        if indexer.rewinds:
            click.echo("the chain lost blocks since the last index: the index was rewound")
        for a in lost:
            click.echo(
                f"anchor lost: batch {a.batch_id} of {a.issuer} (root {a.root.hex()}, was in "
                f"block {a.block_number})"
            )
        for b in anchored:
            click.echo(f"batch {b.batch_id}: {b.state} (block {b.block_number}, tx {b.tx_hash})")
        for r in repairs:
            click.echo(
                f"{r.identifier}: database {r.database}, chain {r.chain}: {r.action} "
                f"({r.detail})"
            )
        if not (lost or anchored or repairs):
            click.echo("database and chain agree; nothing to repair")
        elif left:
            click.echo(f"{len(left)} certificate(s) left for a later pass")
    if left:
        raise SystemExit(ExitStatus.UNDECIDED)


COMMANDS: list[click.Command] = [
    _status_command("revoke"),
    _status_command("suspend"),
    _status_command("reinstate"),
    history,
    reconcile,
]
