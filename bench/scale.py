"""Many certificates on PostgreSQL: does every figure stay flat as the tables grow?

Issues COUNT certificates (default 1,000,000) in batches of 10,000 on PostgreSQL against a
local devnet (anvil), the way the CLI does: each batch is one issuance request (validate,
sign on every core, store, build its batch's tree), then the batcher anchors it (one
transaction). The agency, its keys and its grants come from `zhengyin demo`'s seeding.
Prints, per batch, the issue and anchor rates and the database size; and at each checkpoint
(by default 20 %, 50 % and 100 % of COUNT):
  - the size per certificate of each table (pg_total_relation_size) and of the database;
  - the chain: its blocks, anvil's state file and its `anvil_dumpState` size, anvil's memory;
  - catch-up time of a fresh index (an empty database, its indexer from the deployment block);
  - in-process verification: a random sample of stored certificates read back as documents
    and verified on every core (throughput), then one at a time (p50/p99), QR payloads too;
  - over HTTP, a `zhengyin serve` (2 workers) on that database: QR verifications closed loop
    (wrk, 32 connections), then p50/p99 at a fixed rate (half that, at most 500/s), and
    GET /v1/certificates/{id} one at a time;
  - the memory (peak RSS) of each process: this one, its worker processes, anvil, PostgreSQL
    (the sum of its processes' proportional set sizes), the server (master and workers).
The machine is shared and noisy: compare the checkpoints of one run, not runs of two days.

Run: .venv/bin/python bench/scale.py [COUNT] [--batch 10000] [--checkpoints 20,50,100]
     [--database-url postgresql+psycopg://…]   (default: a throwaway server, tests/postgres.py,
     fsync off; --durable: on)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from service import free_port, open_loop, run, wait_healthy, wrk_closed_loop

from certs import qr
from certs.batcher import Batcher
from certs.issuance import issue
from certs.status import load_document_texts, load_records
from certs.store import Store
from certs.workers import can_fork
from devnet.anvil import Devnet
from verifier.app.agency import issuer_chain_client, issuer_profile, open_store
from verifier.app.catalogue import issuing_entitlements
from verifier.app.context import registry
from verifier.checks.certificates import verify_documents, verify_qr
from verifier.cli.demo import AGENCY, EXAMPLE_TYPE, seed
from verifier.index.indexer import Indexer
from verifier.settings import Settings

ZHENGYIN = str(Path(sys.executable).parent / "zhengyin")
TABLES = ("certificates", "certificate_documents", "batches", "chain_events", "chain_anchors",
          "service_events")
MB = 1024 * 1024


def row(n: int) -> dict[str, object]:
    return {
        "type": EXAMPLE_TYPE,
        "number": f"SCALE-{n:09d}",  # unique: every request's numbers are looked up
        "jurisdiction": "360100",
        "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
        "fields": {"用途": f"规模测试 {n}"},
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * p / 100 + 0.5) - 1))]


# ---- processes and their memory ----


def proc_kb(pid: int, field: str) -> int:
    """``VmRSS``/``VmHWM`` (kB) of a process from /proc, 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Postgres:
    """The server's processes (when it runs on this machine) and its sizes."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        with engine.connect() as connection:
            backend = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            self.settings = {
                name: connection.exec_driver_sql(f"SHOW {name}").scalar_one()
                for name in ("server_version", "shared_buffers", "work_mem", "fsync",
                             "synchronous_commit", "max_connections", "default_toast_compression")
            }
        try:
            self.postmaster: int | None = int(
                Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1]
            )
        except OSError:  # another machine
            self.postmaster = None
        self.peak_pss = 0

    def sample(self) -> None:
        if self.postmaster is not None:
            pids = [self.postmaster, *children(self.postmaster)]
            self.peak_pss = max(self.peak_pss, sum(pss_kb(p) for p in pids))

    def database_size(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.exec_driver_sql(
                "SELECT pg_database_size(current_database())").scalar_one())

    def table_sizes(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            return {
                t: int(connection.exec_driver_sql(
                    f"SELECT pg_total_relation_size('{t}')").scalar_one())
                for t in TABLES
            }


@contextlib.contextmanager
def database(url: str | None, durable: bool) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.postgres import postgres_server

    with postgres_server(durable=durable) as made:
        yield made


def fresh_database(url: str, name: str) -> str:
    """An empty database ``name`` on the same server (dropped first if it exists)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return str(sa.make_url(url).set(database=name).render_as_string(hide_password=False))


# ---- the measurements at a checkpoint ----


class Scale:
    def __init__(self, settings: Settings, store: Store, pg: Postgres, node: Devnet,
                 anvil_pid: int, keys: dict[str, Any], args: argparse.Namespace) -> None:
        self.settings, self.store, self.pg, self.node = settings, store, pg, node
        self.anvil_pid, self.keys, self.args = anvil_pid, keys, args
        self.uscc = AGENCY[0]
        self.server_peak: dict[str, int] = {}

    def sample_ids(self, k: int, issued: int) -> list[str]:
        """``k`` certificates of this run picked at random (by serial: the demo's three
        certificates of the type come first)."""
        serials = random.Random(issued).sample(range(4, issued + 4), k)
        with self.store.engine.connect() as connection:
            found = list(connection.exec_driver_sql(
                "SELECT identifier FROM certificates WHERE issuer = %s AND type_code = %s "
                "AND serial = ANY(%s)", (self.uscc, EXAMPLE_TYPE, serials)
            ).scalars())
        random.Random(issued).shuffle(found)
        return found

    def checkpoint(self, issued: int) -> dict[str, Any]:
        out: dict[str, Any] = {"issued": issued}
        self.pg.sample()
        out["db"] = self.pg.database_size()
        out["tables"] = self.pg.table_sizes()
        rpc = registry(self.settings).rpc
        out["blocks"] = int(rpc.call("eth_blockNumber"), 16)
        out["dump"] = (len(rpc.call("anvil_dumpState")) - 2) // 2
        time.sleep(1.2)  # anvil writes its state file every second
        out["state_file"] = self.node.state_file.stat().st_size
        out["anvil_rss"] = proc_kb(self.anvil_pid, "VmRSS")

        fresh = Store.open(fresh_database(self.settings.database, "zhengyin_fresh_index"))
        started = time.perf_counter()
        Indexer(fresh, registry(self.settings)).catch_up()
        out["catch_up"] = time.perf_counter() - started
        fresh.engine.dispose()

        indexer = Indexer(self.store, registry(self.settings), max_staleness=3600)
        indexer.catch_up()
        ids = self.sample_ids(min(self.args.sample, issued), issued)
        started = time.perf_counter()
        texts = load_document_texts(self.store, ids)
        out["load"] = time.perf_counter() - started
        started = time.perf_counter()
        verdicts, _ = verify_documents(texts, indexer, workers=os.cpu_count() or 1)
        out["verify"] = len(texts) / (time.perf_counter() - started)
        assert all(v.outcome.value == "valid" for v in verdicts), verdicts[0].to_json()
        one = []
        for text in texts[: self.args.latency]:
            started = time.perf_counter()
            verdict = verify_documents([text], indexer)[0][0]
            one.append(time.perf_counter() - started)
            assert verdict.outcome.value == "valid"
        out["doc_p50"], out["doc_p99"] = percentile(one, 50), percentile(one, 99)
        records = load_records(self.store, ids[: self.args.latency])
        payloads = [qr.payload_for(r.document).encode() for r in records]
        one = []
        for payload in payloads:
            started = time.perf_counter()
            verdict = verify_qr(payload, indexer)
            one.append(time.perf_counter() - started)
            assert verdict.outcome.value == "valid", verdict.to_json()
        out["qr_p50"], out["qr_p99"] = percentile(one, 50), percentile(one, 99)
        out.update(self.http(payloads, ids[: self.args.latency]))
        self.pg.sample()
        return out

    def http(self, payloads: list[str], ids: list[str]) -> dict[str, Any]:
        """The figures of a `zhengyin serve` on this database (started detached through a
        shell, so its memory is not counted among this process's waited children)."""
        port = free_port()
        env = {
            **os.environ,
            "ZHENGYIN_HOME": str(self.settings.home_dir),
            "ZHENGYIN_DATABASE_URL": self.settings.database,
            "ZHENGYIN_DEVNET_PORT": str(self.settings.devnet_port),
            "ZHENGYIN_PORT": str(port),
            "ZHENGYIN_WORKERS": "2",
        }
        env.pop("ZHENGYIN_RPC_URL", None)
        log = self.settings.home_dir / "serve.log"
        pid = int(subprocess.run(
            ["sh", "-c", f'"{ZHENGYIN}" serve >>"{log}" 2>&1 & echo $!'],
            env=env, check=True, capture_output=True, text=True,
        ).stdout)
        base = f"http://127.0.0.1:{port}"
        out: dict[str, Any] = {}
        try:
            started = time.perf_counter()
            if not wait_healthy(base, 120):
                raise RuntimeError(f"the server did not become healthy: see {log}")
            out["serve_ready"] = time.perf_counter() - started
            key = self.keys["counter_api_key"]
            bodies = [json.dumps({"qr": p}).encode() for p in payloads]
            out["http_rate"], errors = wrk_closed_loop(port, key, bodies, self.args.http_seconds)
            assert errors == 0, f"{errors} non-2xx answers"
            # a fixed rate the server can keep (half its closed-loop rate, at most 500/s)
            out["http_fixed"] = rate = min(500, max(10, int(out["http_rate"] / 2)))
            latencies = run(open_loop(port, key, bodies, rate, self.args.http_seconds))
            out["http_p50"], out["http_p99"] = percentile(latencies, 50), percentile(latencies, 99)
            issuer = {"Authorization": f"Bearer {self.keys['issuer_api_key']}"}
            one = []
            with requests.Session() as session:
                for identifier in ids:
                    started = time.perf_counter()
                    answer = session.get(f"{base}/v1/certificates/{identifier}", headers=issuer)
                    one.append(time.perf_counter() - started)
                    assert answer.status_code == 200
            out["get_p50"], out["get_p99"] = percentile(one, 50), percentile(one, 99)
            for n, p in enumerate([pid, *children(pid)]):
                name = "serve master" if n == 0 else "serve worker"
                self.server_peak[name] = max(self.server_peak.get(name, 0), proc_kb(p, "VmHWM"))
        finally:
            os.kill(pid, 15)
            deadline = time.monotonic() + 30
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        return out


# ---- the run ----


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="certificates a request")
    parser.add_argument("--checkpoints", default="20,50,100",
                        help="percentages of COUNT at which the rest is measured")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (SQLAlchemy URL)")
    parser.add_argument("--durable", action="store_true",
                        help="the throwaway server with fsync on (the tests' runs with it off)")
    parser.add_argument("--sample", type=int, default=2_000, help="documents verified in bulk")
    parser.add_argument("--latency", type=int, default=500, help="verified one at a time")
    parser.add_argument("--http-seconds", type=int, default=5)
    args = parser.parse_args()
    batches = args.count // args.batch
    marks = {max(1, round(batches * int(p) / 100)) for p in args.checkpoints.split(",")}
    with database(args.database_url, args.durable) as url, tempfile.TemporaryDirectory() as home:
        port = free_port()
        settings = Settings(home=Path(home), database_url=url, devnet_port=port, rpc_url=None)
        node = Devnet(settings.home_dir)
        info, _ = node.up(port)
        try:
            keys = seed(settings, settings.home_dir / "demo", lambda _: None)
            store = open_store(settings)
            pg = Postgres(store.engine)
            scale = Scale(settings, store, pg, node, info.pid, keys, args)
            profile = issuer_profile(settings, store, scale.uscc)
            allowed = issuing_entitlements(settings, store, scale.uscc)
            client = issuer_chain_client(settings, scale.uscc)
            batcher = Batcher(store, lambda _: client)
            print(f"PostgreSQL {pg.settings}")
            per_batch: list[tuple[float, float, int]] = []
            points = []
            for b in range(batches):
                rows = [(i + 1, row(b * args.batch + i)) for i in range(args.batch)]
                if not can_fork():
                    print("  warning: this process runs threads; issuing in-process")
                started = time.perf_counter()
                report = issue(store, profile, rows, entitlements=allowed)
                issued = time.perf_counter()
                results = batcher.run_once()
                anchored = time.perf_counter()
                assert len(report.accepted) == args.batch and not report.rejected
                assert [r.state for r in results] == ["anchored"], results
                size = pg.database_size()
                pg.sample()
                per_batch.append((issued - started, anchored - issued, size))
                total = (b + 1) * args.batch
                print(
                    f"batch {b + 1:3}/{batches}: {total:>9,} issued; issue "
                    f"{args.batch / (issued - started):6,.0f}/s, anchor "
                    f"{anchored - issued:5.2f} s; database {size / MB:7,.0f} MB", flush=True
                )
                if b + 1 in marks:
                    points.append(scale.checkpoint(total))
                    print_point(points[-1], args)
            workers_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            report_run(args, per_batch, points, scale, workers_rss, info.pid)
        finally:
            node.down()


def print_point(p: dict[str, Any], args: argparse.Namespace) -> None:
    n = p["issued"]
    print(f"  at {n:,} certificates:")
    print(f"    database {p['db'] / MB:,.0f} MB = {p['db'] / n:,.0f} B/certificate; " + ", ".join(
        f"{t} {s / n:,.0f}" for t, s in p["tables"].items()))
    print(f"    chain {p['blocks']} blocks; state file {p['state_file'] / 1024:,.0f} KB, "
          f"anvil_dumpState {p['dump'] / 1024:,.0f} KB; anvil RSS {p['anvil_rss'] / 1024:,.0f} MB")
    print(f"    fresh index catch-up from the deployment block {p['catch_up']:.2f} s")
    print(f"    in-process: read {args.sample:,} documents {p['load']:.2f} s; verify "
          f"{p['verify']:,.0f}/s; one document p50 {p['doc_p50'] * 1e3:.1f} ms p99 "
          f"{p['doc_p99'] * 1e3:.1f} ms; one QR p50 {p['qr_p50'] * 1e3:.2f} ms p99 "
          f"{p['qr_p99'] * 1e3:.2f} ms")
    print(f"    HTTP: server ready in {p['serve_ready']:.1f} s; QR {p['http_rate']:,.0f}/s "
          f"(closed loop); at {p['http_fixed']}/s p50 {p['http_p50'] * 1e3:.1f} ms p99 "
          f"{p['http_p99'] * 1e3:.1f} ms; GET certificate p50 {p['get_p50'] * 1e3:.1f} ms "
          f"p99 {p['get_p99'] * 1e3:.1f} ms", flush=True)


def report_run(args: argparse.Namespace, per_batch: list[tuple[float, float, int]],
               points: list[dict[str, Any]], scale: Scale, workers_rss: int,
               anvil_pid: int) -> None:
    tenth = max(1, len(per_batch) // 10)
    print(f"\nissue and anchor over time ({args.batch:,} a batch; medians of each tenth):")
    for start in range(0, len(per_batch), tenth):
        part = per_batch[start : start + tenth]
        grown = part[-1][2] - (per_batch[start - 1][2] if start else 0)
        print(
            f"  batches {start + 1:3}-{start + len(part):3}: issue "
            f"{args.batch / statistics.median(p[0] for p in part):6,.0f}/s, anchor "
            f"{statistics.median(p[1] for p in part):5.2f} s, database grew "
            f"{grown / len(part) / args.batch:,.0f} B/certificate"
        )
    total = sum(p[0] + p[1] for p in per_batch)
    n = len(per_batch) * args.batch
    print(f"  all: {n:,} in {total:,.0f} s = {n / total:,.0f}/s; 1,000,000 at that rate: "
          f"{1e6 / (n / total) / 60:,.0f} min")
    print("memory (peak RSS):")
    print(f"  this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; "
          f"its worker processes {workers_rss / 1024:,.0f} MB each at most")
    print(f"  anvil {proc_kb(anvil_pid, 'VmHWM') / 1024:,.0f} MB; PostgreSQL (all its processes, "
          f"PSS) {scale.pg.peak_pss / 1024:,.0f} MB")
    print("  " + "; ".join(f"{k} {v / 1024:,.0f} MB" for k, v in scale.server_peak.items()))
    print("\n| figure | " + " | ".join(f"{p['issued']:,}" for p in points) + " |")
    print("|---|" + "---|" * len(points))
    def pair(p: dict[str, Any], key: str, digits: int = 1) -> str:
        return f"{p[key + '_p50'] * 1e3:.{digits}f} / {p[key + '_p99'] * 1e3:.{digits}f}"

    def stored(p: dict[str, Any]) -> float:
        tables = p["tables"]
        return float(tables["certificates"] + tables["certificate_documents"]) / p["issued"]

    rows: list[tuple[str, Any]] = [
        ("database, bytes/certificate", lambda p: f"{p['db'] / p['issued']:,.0f}"),
        ("certificates + documents, bytes/certificate", lambda p: f"{stored(p):,.0f}"),
        ("chain blocks / state file KB / dump KB", lambda p: (
            f"{p['blocks']} / {p['state_file'] / 1024:,.0f} / {p['dump'] / 1024:,.0f}")),
        ("fresh index catch-up, s", lambda p: f"{p['catch_up']:.2f}"),
        (f"read {args.sample:,} documents, s", lambda p: f"{p['load']:.2f}"),
        ("verify documents in-process, /s", lambda p: f"{p['verify']:,.0f}"),
        ("one document p50 / p99, ms", lambda p: pair(p, "doc")),
        ("one QR in-process p50 / p99, ms", lambda p: pair(p, "qr", 2)),
        ("HTTP QR closed loop, /s", lambda p: f"{p['http_rate']:,.0f}"),
        ("HTTP QR at a fixed rate (/s): p50 / p99, ms",
         lambda p: f"({p['http_fixed']}) {pair(p, 'http')}"),
        ("HTTP GET certificate p50 / p99, ms", lambda p: pair(p, "get")),
    ]
    for name, value in rows:
        print(f"| {name} | " + " | ".join(value(p) for p in points) + " |")


if __name__ == "__main__":
    main()
