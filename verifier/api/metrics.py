"""Prometheus metrics through ``prometheus_client``, coherent across the workers of one serve.

``zhengyin serve`` gives every run a fresh directory (``PROMETHEUS_MULTIPROC_DIR``, made by
:func:`verifier.cli.service.metrics_dir`) before any worker starts: each worker writes its
counters and histograms into memory-mapped files there as it counts, and a scrape of
``/metrics`` from any worker reads all of them (``MultiProcessCollector``), so Prometheus
sees one set of totals that never goes down. Outside ``serve`` (an application built in a
test or an embedding program) the values stay in the process, in a registry of its own.

Names (kept from the in-process metrics they replace):

- ``zhengyin_http_requests_total{method,route,status}`` and the histogram
  ``zhengyin_http_request_seconds{route}``: every request;
- ``zhengyin_verdicts_total{verdict}``: verifications by outcome (valid, invalid, error);
- ``zhengyin_batch_size`` (summary): certificates per anchored batch;
- ``zhengyin_background_errors_total{code,loop}``, ``zhengyin_index_rewinds_total``,
  ``zhengyin_repairs_total{kind}``: the background loops;
- gauges of the index, one value for the whole service: ``zhengyin_indexer_lag_blocks`` and
  ``zhengyin_indexer_lag_seconds`` (the worst worker's; -1 while unknown),
  ``zhengyin_indexer_block`` and ``zhengyin_indexer_healthy`` (the least advanced / least
  healthy worker's), ``zhengyin_indexer_generation`` (the highest); ``zhengyin_leader_indexer``
  and ``zhengyin_leader_batcher``: 1 while a worker of this instance holds the elected role
  (summed over the instances, exactly 1 each). Only live workers count:
  a worker's gauges leave with it (:func:`mark_dead_workers`).

The verify hot path pays a few memory writes per request (the label children are looked up
once and kept); the background loops' own counters are copied in by difference
(:meth:`Metrics.sync`) every second and at each scrape.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    generate_latest,
    multiprocess,
    values,
)

from devnet.keeper import alive

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_Mode = Literal["livemin", "livemax"]
_GAUGES: dict[str, tuple[_Mode, str]] = {
    "indexer_lag_blocks": ("livemax", "Blocks the index is behind the chain head (-1: unknown)."),
    "indexer_lag_seconds": (
        "livemax", "Seconds since the index was last confirmed current (-1: unknown).",
    ),
    "indexer_block": ("livemin", "The last block indexed."),
    "indexer_healthy": ("livemin", "1 while the index is current enough to decide, else 0."),
    "indexer_generation": ("livemax", "How many times the index was rebuilt or rewound."),
    "leader_indexer": ("livemax", "1 while a worker of this instance is the elected indexer."),
    "leader_batcher": ("livemax", "1 while a worker of this instance is the elected batcher."),
}


def multiprocess_dir() -> str | None:
    """The shared directory of this serve's workers, if there is one."""
    path = os.environ.get(ENV)
    return path if path and os.path.isdir(path) else None


def mark_dead_workers(path: str) -> None:
    """Drop the live gauges of workers that are gone (a crashed or restarted worker): its
    counters stay in the totals, its gauges no longer speak for the service."""
    pids: set[int] = set()
    for name in os.listdir(path):
        match = re.fullmatch(r"gauge_live\w*?_(\d+)\.db", name)
        if match:
            pids.add(int(match.group(1)))
    for pid in pids:
        if pid != os.getpid() and not alive(pid):
            multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


class Metrics:
    """The metrics of one application (one per worker process)."""

    def __init__(self) -> None:
        self.shared_dir = multiprocess_dir()
        if self.shared_dir is not None and values.ValueClass is values.MutexValue:
            # prometheus_client was imported before the directory was set: its values live
            # in this process only, so this process's registry is what there is to show
            self.shared_dir = None
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter(
            "zhengyin_http_requests", "HTTP requests answered.",
            ("method", "route", "status"), registry=reg,
        )
        self.latency = Histogram(
            "zhengyin_http_request_seconds", "Time to answer an HTTP request.",
            ("route",), buckets=BUCKETS, registry=reg,
        )
        self.verdicts = Counter(
            "zhengyin_verdicts", "Verifications by verdict.", ("verdict",), registry=reg
        )
        self._verdict_children = {
            outcome: self.verdicts.labels(verdict=outcome)
            for outcome in ("valid", "invalid", "error")
        }
        self.batch_size = Summary(
            "zhengyin_batch_size", "Certificates per anchored batch.", registry=reg
        )
        self.background_errors = Counter(
            "zhengyin_background_errors", "Errors of the background loops, by loop and code.",
            ("code", "loop"), registry=reg,
        )
        self.rewinds = Counter(
            "zhengyin_index_rewinds", "Rewinds of the index (the chain lost blocks).",
            registry=reg,
        )
        self.repairs = Counter(
            "zhengyin_repairs", "Repairs made by the background loops, by kind.", ("kind",),
            registry=reg,
        )
        self.gauges = {
            name: Gauge(f"zhengyin_{name}", text, registry=reg, multiprocess_mode=mode)
            for name, (mode, text) in _GAUGES.items()
        }
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._synced: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._batches_seen = 0
        self._sync_lock = threading.Lock()

    # ---- the request path ----

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method=method, route=route, status=str(status)),
                self.latency.labels(route=route),
            )
            if len(self._children) < 10_000:  # bounded: routes and statuses are few
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def verdict(self, outcome: str) -> None:
        child = self._verdict_children.get(outcome)
        (child or self.verdicts.labels(verdict=outcome)).inc()

    # ---- the background loops ----

    def sync(
        self,
        gauges: Mapping[str, float],
        counters: list[tuple[str, dict[str, str], float]],
        batch_sizes: list[int],
    ) -> None:
        """Set the gauges and bring the counters up to the background loops' own totals
        (``(name, labels, total)``; what grew since the last call is added)."""
        with self._sync_lock:
            for name, value in gauges.items():
                self.gauges[name].set(value)
            metrics = {
                "background_errors": self.background_errors,
                "index_rewinds": self.rewinds,
                "repairs": self.repairs,
            }
            for name, labels, total in counters:
                key = (name, tuple(sorted(labels.items())))
                grown = total - self._synced.get(key, 0.0)
                if grown <= 0:
                    continue
                metric = metrics[name]
                (metric.labels(**labels) if labels else metric).inc(grown)
                self._synced[key] = total
            for size in batch_sizes[self._batches_seen :]:
                self.batch_size.observe(size)
            self._batches_seen = len(batch_sizes)

    def render(self) -> bytes:
        """The Prometheus text: every worker's totals under ``serve``, else this process's."""
        if self.shared_dir is None:
            return generate_latest(self.registry)
        mark_dead_workers(self.shared_dir)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            merged, path=self.shared_dir
        )
        return generate_latest(merged)

    def worker_exit(self) -> None:
        """This worker stops: its live gauges stop counting."""
        if self.shared_dir is not None:
            multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
                os.getpid(), self.shared_dir
            )

