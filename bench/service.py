"""The HTTP service under load: POST /v1/verify with QR payloads, and batch issuance.

Starts a real `zhengyin serve` (2 workers, SQLite, local devnet) in a temporary data
directory, seeds it with `zhengyin demo` plus 200 more certificates, then
  1. closed loop: 32 keep-alive connections as fast as the server answers, 10 s → verifications/s;
  2. open loop: a fixed 500 requests/s for 10 s → latency p50/p99 (target p99 <= 20 ms);
  3. issuance: POST /v1/certificates/batch with 1,000 rows, 5 times → certificates/s accepted.
The load generator is a small asyncio HTTP/1.1 client (one process; it shares the 2 cores).

Run: .venv/bin/python bench/service.py
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ZHENGYIN = str(Path(sys.executable).parent / "zhengyin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


async def closed_loop(
    port: int, key: str, bodies: list[bytes], seconds: float, connections: int
) -> tuple[int, int]:
    done = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        nonlocal done, errors
        conn = Connection(port, key)
        n = i
        while time.perf_counter() < deadline:
            status = await conn.post("/v1/verify", bodies[n % len(bodies)])
            n += connections
            done += 1
            errors += status != 200

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return done, errors


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


def main() -> None:
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
        subprocess.run([ZHENGYIN, "demo"], env=env, check=True, capture_output=True)
        demo = json.loads((Path(home) / "demo" / "demo.json").read_text())
        server = subprocess.Popen(
            [ZHENGYIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.1)
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
            ids = [a["identifier"] for a in answer.json()["accepted"]][:200]
            deadline = time.time() + 120
            payloads: list[str] = []
            while time.time() < deadline and len(payloads) < 200:
                payloads = []
                for identifier in ids:
                    document = requests.get(
                        f"{base}/v1/certificates/{identifier}", headers=issuer, timeout=10
                    ).json()
                    if document["status"] != "active":
                        break
                    from certs import qr
                    from certs.canonical import CertificateDocument

                    payloads.append(
                        qr.payload_for(CertificateDocument.from_dict(document["document"])).encode()
                    )
                time.sleep(0.5)
            bodies = [json.dumps({"qr": p}).encode() for p in payloads]
            key = demo["counter_api_key"]
            asyncio.run(closed_loop(port, key, bodies, 2, 8))  # warm up
            done, errors = asyncio.run(closed_loop(port, key, bodies, 10, 32))
            latencies = sorted(asyncio.run(open_loop(port, key, bodies, 500, 10)))
        finally:
            server.terminate()
            server.wait(30)
            subprocess.run([ZHENGYIN, "devnet", "down"], env=env, capture_output=True)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print("POST /v1/verify with QR payloads, server with 2 workers on 127.0.0.1:")
    print(
        f"  max throughput    {done / 10:,.0f} verifications/s ({errors} errors) "
        "(target >= 1,000/s)"
    )
    print(f"  at 500/s          p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 <= 20 ms)")
    print(
        f"POST /v1/certificates/batch of 1,000: {statistics.median(rates):,.0f} "
        "certificates/s accepted (median of 5)"
    )


if __name__ == "__main__":
    main()
