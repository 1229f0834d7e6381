"""Logging, configured once: a failure that nothing else caught — a background thread that
died, a callback or task of the event loop — is still one line saying what failed."""

from __future__ import annotations

import asyncio
import logging
import re
import threading

import pytest

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
