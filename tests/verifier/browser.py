"""What the browser tests share: the real service (``zhengyin demo`` data, a real devnet,
``zhengyin serve``) and a real headless Chromium driven through Selenium.

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``; see
``.ci/system-packages``); Selenium is pointed at the system chromedriver and never downloads
anything (``SE_OFFLINE``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import free_port
from tests.verifier.test_cli_devnet import zhengyin_command


@dataclass
class Served:
    """The running service and what ``zhengyin demo`` made."""

    url: str
    demo: dict[str, Any]
    home: Path

    @property
    def counter_key(self) -> str:
        return str(self.demo["counter_api_key"])

    def certificate(self, status: str) -> dict[str, Any]:
        found: dict[str, Any] = next(c for c in self.demo["certificates"] if c["status"] == status)
        return found


def wait_healthy(url: str, server: subprocess.Popen[str], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"zhengyin serve exited: {server.communicate()[0]}")
        try:
            health = requests.get(f"{url}/healthz", timeout=2)
            if health.status_code == 200:
                return
            last = health.text
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the service did not become healthy: {last}")


@contextmanager
def demo_service(home: Path, **settings: str) -> Iterator[Served]:
    """``zhengyin demo`` then ``zhengyin serve`` (one worker) under ``home``, on free ports;
    ``settings`` are extra ``ZHENGYIN_*`` variables. Stops the service and the devnet after."""
    port = free_port()
    env = {
        **os.environ,
        "ZHENGYIN_HOME": str(home),
        "ZHENGYIN_DEVNET_PORT": str(free_port()),
        "ZHENGYIN_PORT": str(port),
        "ZHENGYIN_WORKERS": "1",
        **settings,
    }
    env.pop("ZHENGYIN_RPC_URL", None)
    env.pop("ZHENGYIN_DATABASE_URL", None)
    server: subprocess.Popen[str] | None = None
    try:
        subprocess.run([*zhengyin_command(), "devnet", "up"], env=env, check=True,
                       capture_output=True, timeout=60)
        demo = subprocess.run(
            [*zhengyin_command(), "demo"],
            env=env, capture_output=True, text=True, timeout=180, check=False,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        summary = json.loads((home / "demo" / "demo.json").read_text(encoding="utf-8"))
        server = subprocess.Popen(
            [*zhengyin_command(), "serve"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server)
        yield Served(url, summary, home)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()
        subprocess.run(
            [*zhengyin_command(), "devnet", "down"],
            env=env, capture_output=True, timeout=60, check=False,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with demo_service(tmp_path_factory.mktemp("counter-home")) as service:
        yield service


def _system_binary(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: apt-get install chromium chromium-driver"
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = _system_binary("chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1024,768",
        "--lang=zh-CN",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    service = DriverService(executable_path=_system_binary("chromedriver"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager download a driver
        driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
