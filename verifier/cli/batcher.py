"""``zhengyin batcher run``: anchoring the queued certificates; and the one anchoring round the
issuing commands run before they answer.

Both anchor only as the elected batcher: they contend for the ``batcher`` role with every
``zhengyin serve`` and every other ``batcher run`` on the same database
(:mod:`verifier.app.service.leader`: an advisory lock on PostgreSQL, ``$ZHENGYIN_HOME/
batcher.lock`` on SQLite). ``batcher run`` refuses while another process holds the role
(``batcher_role_held``, exit status 5) or, with ``--wait``, waits for it; an issuing command
leaves its certificates to the elected batcher and waits a little for their anchor."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from certs.batcher import Batcher, BatchResult, log_round
from certs.store import Store, certificates
from chain.errors import ChainUnavailable
from verifier.app.agency import issuer_chain_client, open_store
from verifier.app.service.leader import (
    HEARTBEAT_SECONDS,
    RETRY_SECONDS,
    Election,
    election_for,
)
from verifier.cli.output import echo_json, output_options, progress
from verifier.errors import VerifierError
from verifier.logs import configure as configure_logging
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)
_log = logging.getLogger("verifier.cli.certs")  # one logger for the certificate commands

ROLE_HELD = "batcher_role_held"
"""The code of the error ``batcher run`` stops with while another process is the batcher."""
LEADER_WAIT_SECONDS = 30.0
"""How long an issuing command waits for the elected batcher (another process) to anchor
the certificates it issued before it answers that they are queued."""


def _batcher_election(settings: Settings, store: Store, who: str) -> Election:
    """The same election of the ``batcher`` role as the service's (same lock, same file)."""
    return election_for("batcher", store.engine, Path(settings.home_dir), who)


def _try_role(election: Election) -> bool:
    """One try at the role; a database (or lock file) that cannot be asked is an error of
    its own kind, not a bug."""
    try:
        return election.try_acquire()
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise VerifierError(
            "the batcher election could not be held (the database or the lock file did not "
            f"answer): {type(exc).__name__}: {lines[0][:200] if lines else 'no reason given'}",
            code="database_unavailable",
        ) from exc


def _holder_text(election: Election) -> str:
    holder = election.holder()
    return f"the batcher role is held by {holder}" if holder else (
        "the batcher role is held by another process (it did not say which)"
    )


def _take_role(election: Election, *, wait: bool, announce: bool = True) -> None:
    """Take the batcher role now; or, with ``wait``, once its holder lets it go (retried
    every ``RETRY_SECONDS``; a database away meanwhile is waited out too). Without
    ``wait`` a role held elsewhere is the error ``batcher_role_held``. The role taken is
    logged at INFO if ``announce`` or after waiting, else at DEBUG (a one-off round)."""
    told = False
    while True:
        try:
            if _try_role(election):
                _log.log(logging.INFO if announce or told else logging.DEBUG,
                         "leadership taken role=batcher pid=%d", os.getpid())
                return
        except VerifierError as exc:
            if not wait:
                raise
            _log.warning("batcher election failed: %s; retried in %gs", exc, RETRY_SECONDS)
        else:
            if not wait:
                raise VerifierError(
                    f"another batcher is running: {_holder_text(election)}, and it anchors "
                    "the queued certificates. Nothing needs doing here; to anchor from this "
                    "process instead, stop that one first, or run `zhengyin batcher run "
                    "--wait` to take over when it stops",
                    code=ROLE_HELD,
                )
            if not told:
                _log.info("%s: waiting for it (retried every %gs; Ctrl-C stops)",
                          _holder_text(election), RETRY_SECONDS)
                told = True
        time.sleep(RETRY_SECONDS)


def _anchored_elsewhere(store: Store, identifiers: Sequence[str], seconds: float) -> bool:
    """Whether every one of ``identifiers`` is anchored (no longer ``pending``) within
    ``seconds``: the elected batcher, another process, anchors them. Asked a chunk of
    identifiers at a time; a chunk wholly anchored is not asked again."""
    deadline = time.monotonic() + seconds
    chunks = [list(identifiers[i:i + 1000]) for i in range(0, len(identifiers), 1000)]
    while True:
        with store.engine.connect() as connection:
            chunks = [
                chunk for chunk in chunks
                if connection.execute(
                    sa.select(sa.func.count()).select_from(certificates).where(
                        certificates.c.identifier.in_(chunk),
                        certificates.c.status == "pending",
                    )
                ).scalar_one()
            ]
        if not chunks:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def anchor_now(settings: Settings, store: Store, identifiers: Sequence[str] = ()) -> bool:
    """Anchor what is queued, as the elected batcher; ``False`` (and a note on stderr) when
    the chain is away: the certificates stay queued. When another process is the batcher
    it anchors them: this waits up to ``LEADER_WAIT_SECONDS`` for ``identifiers`` to be
    anchored, else says they are queued (``False``). Other errors propagate."""
    election = _batcher_election(settings, store, "issuing command")
    if not _try_role(election):
        holder = _holder_text(election)
        election.release()  # closes the election's connection
        if identifiers and _anchored_elsewhere(store, identifiers, LEADER_WAIT_SECONDS):
            return True
        click.echo(
            f"{holder}: that batcher anchors the certificates; they are stored and queued "
            "until it does",
            err=True,
        )
        return False
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
    finally:
        election.release()
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
@click.option(
    "--wait", is_flag=True,
    help="While another process is the batcher, wait to take over (instead of exit 5).",
)
@output_options
@pass_settings
def batcher_run(settings: Settings, once: bool, wait: bool, as_json: bool) -> None:
    """Anchor queued certificates (finishing any batch an interruption left behind).

    Only one batcher runs per database: this command takes the same 'batcher' role as the
    instances of `zhengyin serve` (a PostgreSQL advisory lock; on SQLite the lock file
    $ZHENGYIN_HOME/batcher.lock). While another process holds it, it stops with error
    batcher_role_held, exit status 5, naming the holder (what it is, pid, host) — that
    process anchors the queue; with --wait it waits instead and takes the role when the
    holder stops or dies. Should it lose the role while running (the database went away),
    it stops anchoring at once and tries to take it again as at start.

    Each round is logged on stderr (ZHENGYIN_LOG_LEVEL, default INFO here): a batch sent
    as one line with its size, root, transaction and time; a round with nothing to anchor
    at DEBUG. JSON: with --once {batches: [{batch, issuer, certificates, state, root,
    block, tx_hash}]}; without, one such batch object a line as each is anchored."""
    configure_logging(settings.log_level, default="INFO")
    store = open_store(settings)
    election = _batcher_election(settings, store, "batcher run")
    batcher = Batcher(store, lambda uscc: issuer_chain_client(settings, uscc))
    if once:
        try:
            _take_role(election, wait=wait, announce=False)
            started = time.monotonic()
            with progress("anchoring what is queued"):
                results = batcher.run_once()
        finally:
            election.release()
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

    def on_batch(result: BatchResult) -> None:
        if as_json:
            echo_json(_batch_json(result), one_line=True)

    term = threading.Event()
    try:
        while True:
            _take_role(election, wait=wait)
            _log.info("batcher started: anchoring queued certificates; Ctrl-C stops")
            term = threading.Event()
            watch = threading.Thread(target=_heartbeat, args=(election, term),
                                     name="zhengyin-batcher-election", daemon=True)
            watch.start()
            batcher.run_forever(term.is_set, on_batch=on_batch)
            term.set()
            watch.join(HEARTBEAT_SECONDS * 4)
            election.release()
            _log.warning("leadership lost role=batcher pid=%d: anchoring stopped; trying to "
                         "take the role again", os.getpid())
    except KeyboardInterrupt:
        _log.info("batcher stopped")
    finally:
        term.set()
        election.release()


def _heartbeat(election: Election, term: threading.Event) -> None:
    """Check every ``HEARTBEAT_SECONDS`` that this process still holds the role; set
    ``term`` (the batcher stops between its steps) when it does not."""
    while not term.wait(HEARTBEAT_SECONDS):
        if not election.check():
            term.set()


COMMANDS: list[click.Command] = [batcher_group]
