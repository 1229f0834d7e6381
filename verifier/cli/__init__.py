"""The ``zhengyin`` command: assembles each area's command group.

Every command takes ``--json`` (one JSON document on stdout, errors included) and
``--quiet`` (no progress on stderr), see :mod:`verifier.cli.output`; the exit status of
every command is one of :class:`verifier.cli.exits.ExitStatus`. Errors of the project end
as one line ``error [code]: message`` on stderr (with ``--json``: ``{"error", "message"}``
on stdout) and the exit status of their kind; anything unexpected as ``internal_error``,
exit status 70, never a traceback.
"""

from __future__ import annotations

import os
from typing import Any

import click

from verifier.cli.exits import ExitStatus, help_text
from verifier.cli.output import fail, fail_with
from verifier.errors import VerifierError
from verifier.logs import configure as configure_logging
from verifier.settings import Settings

_ARGV = "zhengyin.argv"


def _asks_for_json(args: list[str]) -> bool:
    """``--json`` among the arguments (before a ``--``): known even when click refuses the
    command line before the option is parsed."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


class _Main(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGV] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        as_json = _asks_for_json(ctx.meta.get(_ARGV, []))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit, KeyboardInterrupt):
            raise
        except click.UsageError as exc:
            if not as_json:
                raise  # click prints the usage and the error, exit status 2
            fail("usage", exc.format_message(), ExitStatus.USAGE, as_json=True)
        except click.ClickException as exc:
            if not as_json:
                raise
            fail("bad_file", exc.format_message(), ExitStatus.INVALID, as_json=True)
        except Exception as exc:  # a project error, or a bug: one line, never a traceback
            if os.environ.get("ZHENGYIN_DEBUG"):
                raise
            fail_with(exc, as_json=as_json)


@click.group(cls=_Main, epilog=help_text())
@click.version_option(package_name="zhengyin", prog_name="zhengyin")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Zhengyin (证印链): electronic certificates and seals anchored on chain."""
    try:
        ctx.obj = Settings()
    except ValueError as exc:  # pydantic's ValidationError: a ZHENGYIN_* value of no use
        raise VerifierError(
            "the configuration (ZHENGYIN_* environment variables) is not usable: "
            + " ".join(str(exc).split()),
            code="bad_configuration",
        ) from exc
    configure_logging(ctx.obj.log_level, default="WARNING")


def _register() -> None:
    from verifier.cli import (
        audit,
        batcher,
        catalogue,
        certs,
        devnet,
        issuer,
        render,
        seal,
        service,
        status,
        verify,
    )

    areas = (devnet, seal, verify, issuer, certs, render, batcher, status, service, catalogue,
             audit)
    for module in areas:
        for command in module.COMMANDS:
            main.add_command(command)


_register()
