"""Logging of the service and the CLI: one line per event, on stderr.

Every package logs through the standard :mod:`logging` under its own name (``verifier.…``,
``certs.…``, ``chain.…``, ``devnet.…``), each event one call written ``what key=value …``.
:func:`configure` gives those loggers one handler whose lines never span two lines: an
exception is written as its type, its message and where it was raised, not as a traceback.
The level is ``ZHENGYIN_LOG_LEVEL`` (``serve`` defaults to ``INFO``, other commands to
``WARNING``). Messages never carry a credential: chain errors name an endpoint only by
:func:`chain.rpc.redact_url`.

Configured once per process (the CLI's entry point, or a ``serve`` worker's application
factory): the server's own loggers (``uvicorn.…``) write through the same handler, and a
failure nothing else caught — a background thread that died (``threading.excepthook``) or a
task of the event loop (:func:`loop_exception_handler`) — is one ``ERROR`` line of
``zhengyin.background`` naming the thread or task and the exception.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

PACKAGES = ("verifier", "certs", "chain", "devnet", "seals", "uvicorn", "zhengyin")
_background = logging.getLogger("zhengyin.background")
_HANDLER_NAME = "zhengyin-one-line"


class OneLineFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678Z WARNING verifier.indexer message [exc=Type: text at f.py:12]``"""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += " " + describe_exception(record.exc_info[1])
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname} {record.name} {message}"
        return " | ".join(part.strip() for part in line.splitlines() if part.strip())


def describe_exception(exc: BaseException) -> str:
    """``exc=Type: message at file.py:line`` (the innermost frame), on one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    code = getattr(exc, "code", None)
    coded = f" code={code}" if isinstance(code, str) else ""
    return f"exc={type(exc).__name__}{coded}: {exc}{where}"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the ``sys.stderr`` of the moment (a test's capture, a replaced stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _thread_failed(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook``: a thread ended by an exception nothing caught."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    _background.error(
        "background thread failed thread=%s", name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )


def loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """For ``loop.set_exception_handler``: a task or callback failed and nothing awaited
    it."""
    exc = context.get("exception")
    task = context.get("task") or context.get("future") or context.get("handle")
    what = getattr(task, "get_name", lambda: type(task).__name__)() if task else "?"
    _background.error(
        "event loop task failed task=%s what=%r", what, context.get("message", ""),
        exc_info=exc if isinstance(exc, BaseException) else None,
    )


def configure(level: str | None, *, default: str = "WARNING") -> None:
    """Send the project's loggers to stderr at ``level`` (a name such as ``INFO``; ``None``:
    ``default``). Safe to call again: the handler is installed once."""
    name = (level or default).strip().upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        numeric = logging.getLevelName(default)
    for package in PACKAGES:
        logger = logging.getLogger(package)
        logger.setLevel(numeric)
        logger.propagate = False
        if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
            handler = _StderrHandler(sys.stderr)
            handler.set_name(_HANDLER_NAME)
            handler.setFormatter(OneLineFormatter())
            logger.addHandler(handler)
    threading.excepthook = _thread_failed
