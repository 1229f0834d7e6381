"""The ``zhengyin`` command: assembles each area's command group.

Errors of the project end as one line ``error [code]: message`` on stderr and exit status 2
(``verify`` keeps its own convention: 0 valid, 1 invalid, 2 could not decide).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from verifier.errors import ERROR_ROOTS, error_code
from verifier.logs import configure as configure_logging
from verifier.settings import Settings


class _Main(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ERROR_ROOTS as exc:
            click.echo(f"error [{error_code(exc)}]: {exc}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: say so in one line, never a traceback
            if os.environ.get("ZHENGYIN_DEBUG"):
                raise
            click.echo(
                f"error [internal_error]: unexpected {type(exc).__name__}: {exc} "
                "(set ZHENGYIN_DEBUG=1 for details)",
                err=True,
            )
            sys.exit(2)


@click.group(cls=_Main)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Zhengyin (证印链): electronic certificates and seals anchored on chain."""
    ctx.obj = Settings()
    configure_logging(ctx.obj.log_level, default="WARNING")


def _register() -> None:
    from verifier.cli import catalogue, certs, devnet, seal, service, verify

    for module in (devnet, seal, verify, certs, service, catalogue):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
