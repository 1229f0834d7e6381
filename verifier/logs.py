"""Logging of the service and the CLI: one line per event, on stderr.

Every package logs through the standard :mod:`logging` under its own name (``verifier.…``,
``certs.…``, ``chain.…``, ``devnet.…``), each event one call written ``what key=value …``.
:func:`configure` gives those loggers one handler whose lines never span two lines: an
exception is written as its type, its message and where it was raised, not as a traceback.
The level is ``ZHENGYIN_LOG_LEVEL`` (``serve`` defaults to ``INFO``, other commands to
``WARNING``). Messages never carry a credential: chain errors name an endpoint only by
:func:`chain.rpc.redact_url`.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from pathlib import Path

PACKAGES = ("verifier", "certs", "chain", "devnet", "seals")
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
            handler = logging.StreamHandler(sys.stderr)
            handler.set_name(_HANDLER_NAME)
            handler.setFormatter(OneLineFormatter())
            logger.addHandler(handler)
