"""The HTTP service under load: POST /v1/verify with QR payloads, and batch issuance.

Starts a real `zhengyin serve` (2 workers, SQLite, local devnet) in a temporary data
directory, seeds it with `zhengyin demo`, then
  1. issuance: POST /v1/certificates/batch with 1,000 rows, 5 times → certificates/s accepted;
     the last batch's 1,000 certificates (once anchored) give 1,000 different QR payloads;
  2. closed loop: `wrk` (Debian package wrk), 32 keep-alive connections sending the payloads
     in turn as fast as the server answers, 3 runs of 10 s → verifications/s (median);
  3. open loop: a fixed 500 requests/s for 10 s from a small asyncio HTTP/1.1 client, each
     latency measured from the moment its request was due (so a stalled server cannot hide
     its queue) → p50/p99 (target p99 <= 20 ms).
The load generators run on the same 2-core machine as the server.

Run: .venv/bin/python bench/service.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from certs import qr
from certs.canonical import CertificateDocument

ZHENGYIN = str(Path(sys.executable).parent / "zhengyin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(base: str, seconds: float) -> bool:
    """Poll ``base``/healthz until it answers 200 (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    return False


class Connection:
    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.key}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


def wrk_closed_loop(port: int, key: str, bodies: list[bytes], seconds: int) -> tuple[float, int]:
    """Verifications/s and non-200 answers over ``seconds`` with 32 connections (wrk)."""
    script = "\n".join(
        [
            "local bodies = {",
            *(f"  {json.dumps(b.decode())}," for b in bodies),
            "}",
            "local i = 0",
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            f'wrk.headers["Authorization"] = "Bearer {key}"',
            "request = function()",
            "  i = i + 1",
            '  return wrk.format(nil, "/v1/verify", nil, bodies[(i % #bodies) + 1])',
            "end",
        ]
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        url = f"http://127.0.0.1:{port}"
        subprocess.run(["wrk", "-t1", "-c16", "-d2s", "-s", lua.name, url], check=True,
                       capture_output=True)  # warm-up
        out = subprocess.run(
            ["wrk", "-t1", "-c32", f"-d{seconds}s", "-s", lua.name, url],
            check=True, capture_output=True, text=True,
        ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if errors:
        print(f"  wrk: socket errors {errors.group(1)}")
    return rate, int(bad.group(1)) if bad else 0


async def open_loop(
    port: int, key: str, bodies: list[bytes], rate: float, seconds: float
) -> list[float]:
    latencies: list[float] = []
    pool = [Connection(port, key) for _ in range(64)]
    free = asyncio.Queue[Connection]()
    for conn in pool:
        free.put_nowait(conn)

    async def one(i: int, scheduled: float) -> None:
        conn = await free.get()
        status = await conn.post("/v1/verify", bodies[i % len(bodies)])
        latencies.append(time.perf_counter() - scheduled)  # from the intended send time
        assert status == 200
        free.put_nowait(conn)

    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    return latencies


def run(coroutine: Any) -> Any:
    """On uvloop when installed (the service's own loop): less of the client in the way."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench/service.py needs wrk: apt-get install wrk (make setup installs it)")
    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        env = {
            **os.environ,
            "ZHENGYIN_HOME": home,
            "ZHENGYIN_DEVNET_PORT": str(free_port()),
            "ZHENGYIN_PORT": str(port),
            "ZHENGYIN_WORKERS": "2",
        }
        env.pop("ZHENGYIN_RPC_URL", None)
        subprocess.run([ZHENGYIN, "devnet", "up"], env=env, check=True, capture_output=True)
        subprocess.run([ZHENGYIN, "demo"], env=env, check=True, capture_output=True)
        demo = json.loads((Path(home) / "demo" / "demo.json").read_text())
        server = subprocess.Popen(
            [ZHENGYIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, 30)
            issuer = {"Authorization": f"Bearer {demo['issuer_api_key']}"}
            row = {
                "type": "11100000000013338W032",
                "jurisdiction": "360100",
                "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
            }
            rates = []
            for _ in range(5):
                started = time.perf_counter()
                answer = requests.post(
                    f"{base}/v1/certificates/batch", json=[row] * 1000, headers=issuer, timeout=300
                )
                rates.append(1000 / (time.perf_counter() - started))
                assert answer.status_code == 201 and len(answer.json()["accepted"]) == 1000
            ids = [a["identifier"] for a in answer.json()["accepted"]]
            deadline = time.time() + 120
            while time.time() < deadline:  # the batcher anchors the last batch
                last = requests.get(f"{base}/v1/certificates/{ids[-1]}", headers=issuer).json()
                if last["status"] == "active":
                    break
                time.sleep(0.5)
            payloads = [
                qr.payload_for(
                    CertificateDocument.from_dict(
                        requests.get(f"{base}/v1/certificates/{i}", headers=issuer).json()[
                            "document"
                        ]
                    )
                ).encode()
                for i in ids
            ]
            bodies = [json.dumps({"qr": p}).encode() for p in payloads]
            key = demo["counter_api_key"]
            runs = [wrk_closed_loop(port, key, bodies, 10) for _ in range(3)]
            rate = statistics.median(r for r, _ in runs)
            errors = sum(e for _, e in runs)
            latencies = sorted(run(open_loop(port, key, bodies, 500, 10)))
        finally:
            server.terminate()
            server.wait(30)
            subprocess.run([ZHENGYIN, "devnet", "down"], env=env, capture_output=True)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print("POST /v1/verify with QR payloads, server with 2 workers on 127.0.0.1:")
    print(
        f"  max throughput    {rate:,.0f} verifications/s, median of 3 runs of 10 s "
        f"({', '.join(f'{r:,.0f}' for r, _ in runs)}; {errors} errors; wrk, 32 connections) "
        "(target >= 1,000/s)"
    )
    print(f"  at 500/s          p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 <= 20 ms)")
    print(
        f"POST /v1/certificates/batch of 1,000: {statistics.median(rates):,.0f} "
        "certificates/s accepted (median of 5)"
    )


if __name__ == "__main__":
    main()
