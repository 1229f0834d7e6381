"""``zhengyin serve`` with two workers: one scrape of ``/metrics``, whichever worker answers,
gives the totals of both (prometheus_client in multiprocess mode), and counters never go down
between scrapes; a background loop's failure is one log line naming what failed.

The real thing: a devnet, ``zhengyin demo``, ``zhengyin serve`` (2 workers) and plain HTTP
requests, each on a connection of its own so the kernel hands them to either worker."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.verifier.test_cli_devnet import zhengyin_command

N = 120
"""Verifications sent."""


@dataclass
class TwoWorkers:
    url: str
    env: dict[str, str]
    home: Path
    log: Path
    demo: dict[str, Any]
    server: subprocess.Popen[bytes]

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        answer = requests.get(f"{self.url}/metrics", timeout=10,
                              headers={"Connection": "close"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
        }

    def workers_with_files(self) -> set[int]:
        return {int(m.group(1)) for p in self.run_dir().iterdir()
                if (m := re.fullmatch(r"counter_(\d+)\.db", p.name))}

    def per_worker(self, sample: str, label: tuple[str, str]) -> dict[str, float]:
        """What each worker's own file holds of ``sample`` with ``label`` (summed)."""
        found = {}
        for path in self.run_dir().glob("counter_*.db"):
            counted = 0.0
            for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
                _, name, labels, _ = json.loads(key)
                if name == sample and labels.get(label[0]) == label[1]:
                    counted += value
            found[path.name] = counted
        return found

    def run_dir(self) -> Path:
        (run,) = [p for p in (self.home / "metrics").iterdir() if p.is_dir()]
        return run


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoWorkers]:
    home = tmp_path_factory.mktemp("two-workers")
    port = free_port()
    env = {
        **os.environ,
        "ZHENGYIN_HOME": str(home),
        "ZHENGYIN_DEVNET_PORT": str(free_port()),
        "ZHENGYIN_PORT": str(port),
        "ZHENGYIN_WORKERS": "2",
    }
    for name in ("ZHENGYIN_RPC_URL", "ZHENGYIN_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR",
                 "ZHENGYIN_LOG_LEVEL"):
        env.pop(name, None)
    # a stale directory of an earlier run (its process gone) is cleared at start
    stale = home / "metrics" / "serve-999999999"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"old")
    log = home / "serve.log"
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([*zhengyin_command(), "devnet", "up"], env=env, check=True,
                       capture_output=True, timeout=60)
        demo = subprocess.run([*zhengyin_command(), "demo"], env=env, capture_output=True,
                              text=True, timeout=180, check=False)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        summary = json.loads((home / "demo" / "demo.json").read_text(encoding="utf-8"))
        with log.open("wb") as out:
            server = subprocess.Popen([*zhengyin_command(), "serve"], env=env, stdout=out,
                                      stderr=subprocess.STDOUT)
        served = TwoWorkers(f"http://127.0.0.1:{port}", env, home, log, summary, server)
        deadline = time.monotonic() + 90
        while True:  # both workers up: each made its metric files
            assert server.poll() is None, log.read_text(errors="replace")
            try:
                ready = requests.get(f"{served.url}/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                ready = False
            if ready and (home / "metrics").is_dir() and len(served.workers_with_files()) == 2:
                break
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        yield served
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        subprocess.run([*zhengyin_command(), "devnet", "down"], env=env, capture_output=True,
                       timeout=60, check=False)


def _verify_total(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(v for (name, labels), v in scrape.items()
               if name == "zhengyin_http_requests_total" and ("route", "/v1/verify") in labels)


def _counters(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[Any, float]:
    return {k: v for k, v in scrape.items()
            if k[0].endswith(("_total", "_count", "_sum", "_bucket"))}


def test_one_scrape_gives_the_totals_of_both_workers(two_workers: TwoWorkers) -> None:
    served = two_workers
    assert served.run_dir().name != "serve-999999999"
    assert not (served.home / "metrics" / "serve-999999999").exists()
    payloads = [c["qr"] for c in served.demo["certificates"]]
    headers = {"Authorization": f"Bearer {served.demo['counter_api_key']}",
               "Connection": "close"}
    first = served.scrape()
    assert _verify_total(first) == 0
    scrapes = [first]  # in the order taken: one scraper, scraping while the load runs
    done = threading.Event()

    def scraper() -> None:
        while not done.is_set():
            scrapes.append(served.scrape())
            time.sleep(0.05)

    def verify(i: int) -> int:
        return requests.post(f"{served.url}/v1/verify", json={"qr": payloads[i % len(payloads)]},
                             headers=headers, timeout=30).status_code

    watcher = threading.Thread(target=scraper)
    watcher.start()
    try:
        with ThreadPoolExecutor(6) as pool:
            answered = list(pool.map(verify, range(N)))
    finally:
        done.set()
        watcher.join(30)
    assert answered == [200] * N
    assert len(scrapes) >= 3 and all(_verify_total(s) <= N for s in scrapes)
    finals = [served.scrape() for _ in range(8)]
    # every scrape after the N answers, whichever worker gave it, says N
    assert [_verify_total(s) for s in finals] == [float(N)] * 8
    verdicts = [sum(v for (name, _), v in s.items() if name == "zhengyin_verdicts_total")
                for s in finals]
    assert verdicts == [float(N)] * 8
    histogram = [v for (name, labels), v in finals[-1].items()
                 if name == "zhengyin_http_request_seconds_count"
                 and ("route", "/v1/verify") in labels]
    assert histogram == [float(N)]
    # one value per gauge for the whole service (not one per worker)
    lags = [k for k in finals[-1] if k[0] == "zhengyin_indexer_lag_blocks"]
    assert lags == [("zhengyin_indexer_lag_blocks", ())]
    # counters never go down from one scrape to the next
    for earlier, later in itertools.pairwise(scrapes + finals):
        for key, value in _counters(earlier).items():
            assert later.get(key, 0.0) >= value, (key, value, later.get(key))
    # both workers answered some of them: the totals are not one worker's
    per_worker = served.per_worker("zhengyin_http_requests_total", ("route", "/v1/verify"))
    assert len(per_worker) == 2 and all(v > 0 for v in per_worker.values()), per_worker
    assert sum(per_worker.values()) == N


def test_a_killed_worker_keeps_its_counts_and_loses_its_gauges(two_workers: TwoWorkers) -> None:
    """kill -9 of one worker: uvicorn starts another; the dead one's counts stay in the
    totals (no reset seen by Prometheus) and its gauges stop speaking for the service."""
    served = two_workers
    before = served.scrape()
    victim = min(served.workers_with_files())
    assert (served.run_dir() / f"gauge_livemax_{victim}.db").exists()
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:  # a new worker took its place and made its files
        alive = {pid for pid in served.workers_with_files() if pid != victim}
        if len(alive) == 2:
            break
        assert time.monotonic() < deadline, served.log.read_text(errors="replace")[-3000:]
        time.sleep(0.3)
    after = served.scrape()
    for key, value in _counters(before).items():
        if key[0] != "zhengyin_http_requests_total" or ("route", "/metrics") not in key[1]:
            assert after.get(key, 0.0) >= value, (key, value, after.get(key))
    assert _verify_total(after) == N
    assert not (served.run_dir() / f"gauge_livemax_{victim}.db").exists()
    assert [k for k in after if k[0] == "zhengyin_indexer_healthy"] == [
        ("zhengyin_indexer_healthy", ())
    ]


def test_a_background_failure_is_one_log_line(two_workers: TwoWorkers) -> None:
    """The chain goes away: each worker's indexer logs its failure on one line saying what
    failed and why, and the service's metrics count them across workers."""
    served = two_workers
    subprocess.run([*zhengyin_command(), "devnet", "down"], env=served.env, check=True,
                   capture_output=True, timeout=60)
    pattern = re.compile(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING verifier\.indexer indexer catch-up "
        r"failed attempt=\d+ retry_in=[\d.]+s exc=ChainUnavailable code=chain_unavailable: "
        r"the chain at http://127\.0\.0\.1:\d+ did not answer: connection refused or lost "
        r"at \w+\.py:\d+$"
    )
    deadline = time.monotonic() + 30
    while True:
        lines = served.log.read_text(encoding="utf-8", errors="replace").splitlines()
        failed = [line for line in lines if pattern.match(line)]
        if len(failed) >= 2:
            break
        assert time.monotonic() < deadline, "\n".join(lines[-30:])
        time.sleep(0.2)
    assert not any(line.startswith(("Traceback", "  File ")) for line in lines), lines
    deadline = time.monotonic() + 15
    while True:  # both workers' failures in one scrape (each refreshes its share every second)
        errors = served.scrape().get(
            ("zhengyin_background_errors_total",
             (("code", "chain_unavailable"), ("loop", "indexer"))), 0.0,
        )
        per_worker = served.per_worker("zhengyin_background_errors_total", ("loop", "indexer"))
        if errors >= 2 and sum(1 for v in per_worker.values() if v) >= 2:  # both live ones
            break
        assert time.monotonic() < deadline, (errors, per_worker)
        time.sleep(0.5)
