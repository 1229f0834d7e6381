"""``zhengyin batcher run``: anchoring the queued certificates; and the one anchoring round the
issuing commands run before they answer."""

from __future__ import annotations

import logging
import time
from typing import Any

import click

from certs.batcher import Batcher, BatchResult, log_round
from certs.store import Store
from chain.errors import ChainUnavailable
from verifier.app.agency import issuer_chain_client, open_store
from verifier.cli.output import echo_json, output_options, progress
from verifier.errors import VerifierError
from verifier.logs import configure as configure_logging
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)
_log = logging.getLogger("verifier.cli.certs")  # one logger for the certificate commands


def anchor_now(settings: Settings, store: Store) -> bool:
    """Anchor what is queued; ``False`` (and a note on stderr) when the chain is away: the
    certificates stay queued. Other errors propagate."""
    batcher = Batcher(store, lambda uscc: issuer_chain_client(settings, uscc))
    try:
        results = batcher.run_once()
    except (ChainUnavailable, VerifierError) as exc:
        if isinstance(exc, VerifierError) and exc.code != "devnet_not_running":
            raise
        click.echo(
            f"the chain is unreachable ({exc}); the certificates are stored and "
            "queued: run `zhengyin batcher run` when it is back",
            err=True,
        )
        return False
    return all(r.state == "anchored" for r in results)


@click.group("batcher")
def batcher_group() -> None:
    """Anchoring of queued certificates."""


def _batch_json(result: BatchResult) -> dict[str, Any]:
    return {
        "batch": result.batch_id,
        "issuer": result.issuer,
        "certificates": result.leaf_count,
        "state": result.state,
        "root": result.root.hex(),
        "block": result.block_number,
        "tx_hash": result.tx_hash,
    }


@batcher_group.command("run")
@click.option("--once", is_flag=True, help="Anchor what is queued now, then stop.")
@output_options
@pass_settings
def batcher_run(settings: Settings, once: bool, as_json: bool) -> None:
    """Anchor queued certificates (finishing any batch an interruption left behind).

    Each round is logged on stderr (ZHENGYIN_LOG_LEVEL, default INFO here): a batch sent
    as one line with its size, root, transaction and time; a round with nothing to anchor
    at DEBUG. JSON: with --once {batches: [{batch, issuer, certificates, state, root,
    block, tx_hash}]}; without, one such batch object a line as each is anchored."""
    configure_logging(settings.log_level, default="INFO")
    store = open_store(settings)
    batcher = Batcher(store, lambda uscc: issuer_chain_client(settings, uscc))
    if once:
        started = time.monotonic()
        with progress("anchoring what is queued"):
            results = batcher.run_once()
        log_round(results, time.monotonic() - started)
        if as_json:
            echo_json({"batches": [_batch_json(r) for r in results]})
            return
        for result in results:
            click.echo(
                f"batch {result.batch_id}: {result.leaf_count} certificates of "
                f"{result.issuer} {result.state} (block {result.block_number}, "
                f"tx {result.tx_hash})"
            )
        if not results:
            click.echo("nothing to anchor")
        return
    _log.info("batcher started: anchoring queued certificates; Ctrl-C stops")

    def on_batch(result: BatchResult) -> None:
        if as_json:
            echo_json(_batch_json(result), one_line=True)

    try:
        batcher.run_forever(lambda: False, on_batch=on_batch)
    except KeyboardInterrupt:
        _log.info("batcher stopped")


COMMANDS: list[click.Command] = [batcher_group]
