"""Logging, configured once: a failure that nothing else caught — a background thread that
died, a callback or task of the event loop — is still one line saying what failed."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from pathlib import Path

import pytest

from certs.batcher import Batcher
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.status import load_record
from certs.store import Store
from chain.registry import RegistryClient
from chain.rpc import Rpc
from seals.sm2 import KeySigner, generate_private_key
from tests.certs.test_pipeline import TODAY, request
from tests.conftest import Issuer, free_port
from verifier.logs import configure, loop_exception_handler

LINE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR zhengyin\.background "


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_thread_that_dies_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure("INFO")
    configure("INFO")  # again: still one handler, one line

    def work() -> None:
        raise RuntimeError("the anchor queue could not be read\nsecond line")

    thread = threading.Thread(target=work, name="zhengyin-anchorer")
    thread.start()
    thread.join()
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == 1, lines
    assert re.match(
        LINE + r"background thread failed thread=zhengyin-anchorer exc=RuntimeError: the "
        r"anchor queue could not be read \| second line at test_logs\.py:\d+$",
        lines[0],
    ), lines[0]


def test_a_failed_event_loop_callback_is_one_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("INFO")

    def refresh() -> None:
        raise ValueError("gauge out of range")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(loop_exception_handler)
        loop.call_soon(refresh)
        await asyncio.sleep(0.05)

    asyncio.run(main())
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == 1, lines
    assert re.match(LINE + r"event loop task failed task=Handle what='Exception in callback "
                    r".*' exc=ValueError: gauge out of range at test_logs\.py:\d+$", lines[0]), (
        lines[0]
    )


def test_the_servers_own_loggers_write_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure("INFO")
    try:
        raise OSError("address already in use")
    except OSError as exc:
        logging.getLogger("uvicorn.error").error("could not bind", exc_info=exc)
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == 1 and " ERROR uvicorn.error could not bind exc=OSError" in lines[0]


def test_a_batcher_round_that_fails_is_one_line_saying_what_failed(
    tmp_path: Path, issuer: Issuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The batcher's loop meets a chain that is away: one WARNING line naming the loop, the
    attempt, the back-off and the error (its code and the endpoint by host and port); the
    certificate stays queued and a later round anchors it (an INFO line says so)."""
    configure("INFO")
    store = Store.open(f"sqlite:///{tmp_path / 'z.sqlite3'}")
    signer = KeySigner(generate_private_key())
    issuer.registry.add_key(issuer.uscc, key_id_of(signer.public_key), 0, None,
                            signer.public_key.point)
    agency = IssuerProfile(issuer.uscc, "示例市市场监督管理局", signer)
    report = issue(store, agency, [(1, request())], today=TODAY)
    assert report.accepted
    port = free_port()
    dead = RegistryClient(Rpc(f"http://user:secret@127.0.0.1:{port}/key/abc", timeout=1),
                    issuer.registry.deployment, issuer.registry.sender)
    failing = Batcher(store, lambda uscc: dead)
    failing.run_forever(lambda: bool(failing.errors), interval=0.01)
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == 1, lines
    assert re.match(
        r"^\S+Z WARNING certs\.batcher batcher round failed attempt=1 retry_in=[\d.]+s "
        r"exc=ChainUnavailable code=chain_unavailable: the chain at "
        rf"http://127\.0\.0\.1:{port} did not answer: connection refused or lost "
        r"at rpc\.py:\d+$",
        lines[0],
    ), lines[0]
    assert "secret" not in lines[0] and "abc" not in lines[0]
    identifier = report.accepted[0].identifier
    assert load_record(store, identifier).status == "pending"  # still queued
    working = Batcher(store, lambda uscc: issuer.registry)
    working.run_forever(lambda: load_record(store, identifier).status == "active",
                        interval=0.01)
    lines = _lines(capsys.readouterr().err)
    assert any(re.search(r" INFO certs\.batcher batch anchored batch=\d+ issuer=" + issuer.uscc
                         + r" certificates=1 root=[0-9a-f]{64} block=\d+ tx=0x[0-9a-f]{64}"
                         r" seconds=[\d.]+$", line)
               for line in lines), lines

