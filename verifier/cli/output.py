"""What every ``zhengyin`` command shares on its way out: ``--json`` and ``--quiet``, the
``--input FILE`` / ``--format`` pair, errors as one line (or one JSON object), progress.

- ``--json`` (every command): stdout carries one JSON document (an object, or an array for
  lists; ``batcher run`` without ``--once`` one object a line, one per batch); an error is
  ``{"error": code, "message": text}`` on stdout, nothing else is written there.
- Without ``--json`` an error is one line ``error [code]: message`` on stderr.
- Progress (rich) goes to stderr, only when stderr is a terminal and ``--quiet`` is not given;
  it never reaches stdout, a pipe or a file.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from verifier.cli.exits import ExitStatus, exit_status_of
from verifier.errors import VerifierError, error_code

if TYPE_CHECKING:
    from chain.transactions import TransactionReceipt

F = TypeVar("F", bound=Callable[..., Any])

_QUIET = "zhengyin.quiet"
_JSON = "zhengyin.json"
INPUT_FORMATS = {".json": "json", ".csv": "csv"}


def _remember(key: str) -> Callable[[click.Context, click.Parameter, bool], bool]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta[key] = True
        return value

    return callback


def output_options(f: F) -> F:
    """``--json`` (passed to the command as ``as_json``) and ``--quiet``."""
    f = click.option(
        "--quiet",
        "-q",
        is_flag=True,
        expose_value=False,
        callback=_remember(_QUIET),
        help="Show no progress on stderr.",
    )(f)
    f = click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_remember(_JSON),
        help='Print one JSON document on stdout (errors: {"error", "message"}).',
    )(f)
    return f


def input_options(help_text: str) -> Callable[[F], F]:
    """``--input FILE`` and ``--format json|csv`` (default: by the file's extension)."""

    def decorate(f: F) -> F:
        f = click.option(
            "--format",
            "input_format",
            type=click.Choice(sorted(set(INPUT_FORMATS.values()))),
            help="Format of --input (default: by its extension, .json or .csv).",
        )(f)
        f = click.option(
            "--input",
            "input_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=help_text,
        )(f)
        return f

    return decorate


def format_of_input(path: Path, given: str | None) -> str:
    """``json`` or ``csv``: ``given``, else by ``path``'s extension (a usage error when the
    extension says nothing)."""
    if given is not None:
        return given
    found = INPUT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise VerifierError(
            f"cannot tell the format of {path.name} from its extension: "
            "name it .json or .csv, or add --format json|csv",
            code="unknown_format",
        )
    return found


def echo_json(data: Any, *, one_line: bool = False) -> None:
    """One JSON document on stdout (Chinese left readable); ``one_line`` for a command that
    goes on running after it (``serve``, ``batcher run``): a reader takes it as a line."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=None if one_line else 2))
    sys.stdout.flush()


def wants_json(ctx: click.Context | None = None) -> bool:
    """Whether this command line asked for ``--json``."""
    ctx = ctx or click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_JSON))


def fail(code: str, message: str, status: ExitStatus, *, as_json: bool) -> NoReturn:
    """End the command with an error: JSON on stdout or one line on stderr."""
    if as_json:
        click.echo(json.dumps({"error": code, "message": message}, ensure_ascii=False))
    else:
        click.echo(f"error [{code}]: {message}", err=True)
    sys.exit(int(status))


def fail_with(exc: BaseException, *, as_json: bool) -> NoReturn:
    """End the command with a project error (or an internal one)."""
    status = exit_status_of(exc)
    if status is ExitStatus.INTERNAL:
        fail(
            "internal_error",
            f"unexpected {type(exc).__name__}: {exc} (set ZHENGYIN_DEBUG=1 for details)",
            status,
            as_json=as_json,
        )
    fail(error_code(exc), str(exc), status, as_json=as_json)


# ------------------------------------------------------------------------------ progress


def progress_enabled(ctx: click.Context | None = None) -> bool:
    """Progress is shown only on a terminal's stderr, and not with ``--quiet``."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(_QUIET):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


Advance = Callable[[int], None]


def _nothing(_: int = 1) -> None:
    return None


@contextlib.contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Advance]:
    """A progress line on stderr for one long phase: a bar when ``total`` is known (advance
    it by calling what this yields with the number done), else a spinner with the time
    spent. Nothing at all when :func:`progress_enabled` says no."""
    if not progress_enabled():
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(
        *columns, console=Console(stderr=True), transient=True, redirect_stdout=False
    ) as bar:
        task = bar.add_task(label, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def anchor_on_chain(anchor: Callable[[], TransactionReceipt], *, as_json: bool) -> dict[str, Any]:
    """Run ``anchor`` (a transaction anchoring a sealed document) under a progress line; say
    where it landed (without ``--json``); return the ``anchor`` object of the JSON output,
    ``{block, tx_hash}``."""
    with progress("anchoring on chain"):
        receipt = anchor()
    if not as_json:
        click.echo(f"anchored in block {receipt.block_number} (tx {receipt.tx_hash})")
    return {"block": receipt.block_number, "tx_hash": receipt.tx_hash}
