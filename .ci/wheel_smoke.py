"""The installed wheel, used as an operator would: run by .ci/wheel-smoke with the python of a
clean venv that holds only the wheel and the runtime lock, from a directory outside the
checkout (``python -I``: neither the script's folder nor PYTHONPATH is on sys.path).

Devnet up, deploy, the demo agency, one certificate issued with ``zhengyin issue`` and
verified (valid), its sealed PDF rendered and verified, then ``zhengyin serve``: the counter
page is the real one, and ``POST /v1/verify`` answers valid for the certificate and invalid
for the demo's revoked one. Any step that fails stops the run with its output; every process
started here is stopped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

WORK = Path.cwd()
BIN = Path(sys.executable).parent
ZHENGYIN = str(BIN / "zhengyin")


def step(title: str) -> None:
    print(f"wheel smoke: {title}", flush=True)


def fail(message: str) -> None:
    raise SystemExit(f"wheel smoke FAILED: {message}")


def run(*args: str, expect: int = 0, timeout: float = 180) -> str:
    done = subprocess.run(
        [ZHENGYIN, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if done.returncode != expect:
        fail(
            f"`zhengyin {' '.join(args)}` exited {done.returncode}, expected {expect}\n"
            f"--- stdout\n{done.stdout}--- stderr\n{done.stderr}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None, key: str | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check_installed() -> None:
    """The code runs from the venv's site-packages, never from the checkout."""
    import certs
    import chain
    import verifier

    for pkg in (certs, chain, verifier):
        where = Path(pkg.__file__ or "").resolve()
        if not where.is_relative_to(Path(sys.prefix).resolve()):
            fail(f"{pkg.__name__} imported from {where}, not from the installed wheel")


def issue_one(uscc: str, type_code: str) -> tuple[str, Path]:
    rows = WORK / "rows.json"
    rows.write_text(
        json.dumps(
            [{
                "type": type_code,
                "jurisdiction": "360100",
                "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
                "fields": {"事项": "安装包冒烟测试"},
            }],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    # the input option: --input FILE (issue #17's CLI conventions), --json FILE before them
    flag = "--input" if "--input" in run("issue", "--help") else "--json"
    out = WORK / "issued"
    run("issue", "--issuer", uscc, flag, str(rows), "--out", str(out))
    documents = sorted(out.glob("*.json"))
    if len(documents) != 1:
        fail(f"`zhengyin issue` wrote {[d.name for d in documents]} into {out}, not one document")
    return documents[0].stem, documents[0]


def serve_and_ask(port: int, counter_key: str, document: Path, revoked_qr: str) -> None:
    base = f"http://127.0.0.1:{port}"
    log = (WORK / "serve.log").open("wb")
    server = subprocess.Popen(
        [ZHENGYIN, "serve", "--port", str(port), "--workers", "1"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                fail(f"`zhengyin serve` exited {server.returncode}:\n{log_text()}")
            try:
                status, _ = http("GET", f"{base}/healthz")
            except OSError:
                status = 0
            if status == 200:
                break
            if time.monotonic() > deadline:
                fail(f"/healthz never answered 200 (last {status}):\n{log_text()}")
            time.sleep(0.5)
        step("serve: counter page")
        status, page = http("GET", f"{base}/")
        text = page.decode("utf-8", "replace")
        if status != 200 or "/static/app.js" not in text or "尚未构建" in text:
            fail(f"GET / is not the counter page ({status}): {text[:300]}")
        status, script = http("GET", f"{base}/static/app.js")
        if status != 200 or len(script) < 1000:
            fail(f"GET /static/app.js answered {status} with {len(script)} bytes")
        step("serve: POST /v1/verify")
        certificate = json.loads(document.read_text(encoding="utf-8"))
        status, body = http("POST", f"{base}/v1/verify", {"certificate": certificate}, counter_key)
        verdict = json.loads(body).get("verdict") if status == 200 else None
        if verdict != "valid":
            fail(f"POST /v1/verify of the issued certificate: {status} {body[:600]!r}")
        status, body = http("POST", f"{base}/v1/verify", {"qr": revoked_qr}, counter_key)
        verdict = json.loads(body).get("verdict") if status == 200 else None
        if verdict != "invalid":
            fail(f"POST /v1/verify of the revoked demo certificate: {status} {body[:600]!r}")
    finally:
        stop(server)
        log.close()


def log_text() -> str:
    return (WORK / "serve.log").read_text(encoding="utf-8", errors="replace")[-4000:]


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def kill_leftovers() -> None:
    """The anvil and keeper this run started, should `devnet down` have left them running."""
    record = Path(os.environ["ZHENGYIN_HOME"]) / "devnet" / "devnet.json"
    try:
        started = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for key, marker in (("pid", b"anvil"), ("keeper_pid", b"devnet.keeper")):
        pid = started.get(key)
        try:  # still that process (the record outlives a failed stop; pids are reused)
            if not isinstance(pid, int) or marker not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            os.kill(pid, signal.SIGKILL)
            print(f"wheel smoke: killed the devnet's {key} {pid} left running", flush=True)
        except OSError:  # gone already
            pass


def main() -> None:
    started = time.monotonic()
    check_installed()
    os.environ["ZHENGYIN_DEVNET_PORT"] = str(free_port())
    anvil = os.environ.get("ZHENGYIN_ANVIL")
    step(f"devnet up (anvil {anvil or 'from PATH'})")
    run("devnet", "up")
    try:
        step("deploy")
        run("deploy")
        step("demo (an agency, a counter key, three certificates, one revoked)")
        run("demo", "--out", str(WORK / "demo"))
        demo = json.loads((WORK / "demo" / "demo.json").read_text(encoding="utf-8"))
        revoked = [c for c in demo["certificates"] if c["status"] == "revoked"]
        if not revoked:
            fail(f"the demo revoked nothing: {demo['certificates']}")
        step("issue one certificate")
        from verifier.cli.demo import EXAMPLE_TYPE  # the type the demo agency is authorized for

        identifier, document = issue_one(demo["issuer"], EXAMPLE_TYPE)
        step(f"verify {identifier}")
        run("verify", str(document))
        step("render its sealed PDF, and verify the PDF")
        pdf = WORK / "certificate.pdf"
        run("render", identifier, "--out", str(pdf))
        if not pdf.read_bytes().startswith(b"%PDF-") or pdf.stat().st_size < 10_000:
            fail(f"{pdf} is not a PDF ({pdf.stat().st_size} bytes)")
        run("verify", str(pdf))
        serve_and_ask(free_port(), demo["counter_api_key"], document, revoked[0]["qr"])
    finally:
        step("devnet down")
        subprocess.run([ZHENGYIN, "devnet", "down"], timeout=60, stdin=subprocess.DEVNULL)
        kill_leftovers()
    step(f"all steps passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
