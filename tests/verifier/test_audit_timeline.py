"""The auditor's true timeline (#21): a scripted scenario — issue, verify, suspend (reason
code and words), verify, reinstate, a refused redemption — comes back in the order it
happened, with actors and reasons, through the certificate's history, ``GET /v1/events``
and ``zhengyin audit --csv``. A real service (anvil devnet, background indexer and batcher;
SQLite, then a real PostgreSQL server) driven through FastAPI's test client; the chain's
clock is set an hour off the wall clock (ahead, then behind), so that any ordering by time
strings would fail."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from certs import qr
from certs.canonical import CertificateDocument
from certs.store import service_events
from chain.rpc import Rpc
from devnet.anvil import Devnet
from tests.conftest import free_port
from tests.postgres import postgres_server
from verifier.api.app import create_app
from verifier.app.agency import add_issuer, hash_api_key, new_api_key, open_store
from verifier.app.catalogue import authorize_everywhere
from verifier.app.context import registry
from verifier.cli.devnet import deploy_and_report
from verifier.settings import Settings

AGENCY_A = ("91110000101623741K", "示例市市场监督管理局")
AGENCY_B = ("91360100MA35ABCD1R", "示例市行政审批局")
ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600


def request(name: str) -> dict[str, Any]:
    return {"type": "11100000000013338W032",
            "holder": {"name": name, "code": "11010519491231002X", "code_type": "111"},
            "jurisdiction": "360100"}


@dataclass
class World:
    client: TestClient
    settings: Settings
    keys: dict[str, str]
    rpc: Rpc

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def chain_clock(self, offset: int) -> int:
        """Set the chain's clock ``offset`` seconds off the wall clock; mine a block at it."""
        at = int(time.time()) + offset
        self.rpc.call("evm_setTime", [at])
        self.rpc.call("evm_mine", [])
        return at


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The service on SQLite, then on a real PostgreSQL server."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_server()) if request.param == "postgresql" else None
        yield from _world(tmp_path_factory.mktemp("audit-home"), url)


def _world(home: Path, database_url: str | None) -> Iterator[World]:
    settings = Settings(home=home, devnet_port=free_port(), database_url=database_url)
    Devnet(settings.home_dir).up(settings.devnet_port)
    deploy_and_report(settings)
    keys = {"issuer_a": add_issuer(settings, *AGENCY_A).api_key,
            "issuer_b": add_issuer(settings, *AGENCY_B).api_key}
    for uscc, _ in (AGENCY_A, AGENCY_B):
        authorize_everywhere(registry(settings, write=True), uscc)
    store = open_store(settings)
    for role, name in (("counter", "一号窗口"), ("auditor", "审计员"), ("admin", "管理员")):
        keys[role] = new_api_key()
        store.add_api_key(role, name, hash_api_key(keys[role]))
    try:
        with TestClient(create_app(settings)) as client:
            yield World(client, settings, keys, Rpc(f"http://127.0.0.1:{settings.devnet_port}"))
    finally:
        Devnet(settings.home_dir).down()


def _wait_active(world: World, identifier: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = world.client.get(f"/v1/certificates/{identifier}",
                                headers=world.h("issuer_a")).json()
        if body.get("status") == "active":
            return dict(body["document"])
        time.sleep(0.1)
    raise AssertionError(f"{identifier} was not anchored in time")


def _all_pages(world: World, path: str, who: str, limit: int,
               **params: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = world.client.get(path, headers=world.h(who), params={
            **params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        seen += answer.json()["events"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return seen


def _scenario(world: World) -> tuple[str, dict[str, float]]:
    """Issue, verify, suspend, verify, reinstate, present, redeem, a refused redemption (and
    refused attempts of another agency); the wall-clock time of each step."""
    c = world.client
    steps: dict[str, float] = {}
    world.chain_clock(+HOUR)  # the chain an hour ahead: its anchor 'after' all that follows
    identifier = c.post("/v1/certificates", json=request("审计甲"),
                        headers=world.h("issuer_a")).json()["identifier"]
    document = _wait_active(world, identifier)
    payload = qr.payload_for(CertificateDocument.from_json(json.dumps(document))).encode()
    world.chain_clock(-HOUR)  # now an hour behind: its status changes 'before' all above
    steps["verify"] = time.time()
    assert c.post("/v1/verify", json={"qr": payload},
                  headers=world.h("counter")).json()["verdict"] == "valid"
    steps["suspend"] = time.time()
    suspended = c.post(f"/v1/certificates/{identifier}/suspend",
                       json={"reason_code": 7, "reason": "举报材料待核实"},
                       headers=world.h("issuer_a"))
    assert suspended.status_code == 200, suspended.text
    steps["verify again"] = time.time()
    assert c.post("/v1/verify", json={"qr": payload},
                  headers=world.h("counter")).json()["verdict"] == "invalid"
    refused = c.post(f"/v1/certificates/{identifier}/revoke",
                     json={"reason_code": 1, "reason": "越权尝试"}, headers=world.h("issuer_b"))
    assert refused.status_code == 403 and refused.json()["error"] == "wrong_agency"
    denied = c.get(f"/v1/certificates/{identifier}", headers=world.h("issuer_b"))
    assert denied.status_code == 403
    steps["reinstate"] = time.time()
    reinstated = c.post(f"/v1/certificates/{identifier}/reinstate",
                        json={"reason_code": 0, "reason": "核查完毕，恢复"},
                        headers=world.h("issuer_a"))
    assert reinstated.status_code == 200, reinstated.text
    made = c.post("/v1/presentations", json={"certificate": identifier, "purpose": "办理社保",
                                             "fields": ["holder.name"]},
                  headers=world.h("issuer_a"))
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    redeemed = c.post("/v1/presentations/redeem", json={"code": code},
                      headers=world.h("counter"))
    assert redeemed.status_code == 200 and redeemed.json()["verdict"] == "valid"
    steps["refused redemption"] = time.time()
    again = c.post("/v1/presentations/redeem", json={"code": code}, headers=world.h("counter"))
    assert again.status_code == 410 and again.json()["error"] == "presentation_used"
    unknown = c.post("/v1/presentations/redeem", json={"code": "ZZZZZ-ZZZZZ"},
                     headers=world.h("counter"))
    assert unknown.json()["error"] == "presentation_unknown"
    return identifier, steps


EXPECTED = [
    ("service", "issued", "issuer:91110000101623741K"),
    ("chain", "anchored", None),
    ("service", "verified", "counter:一号窗口"),
    ("service", "suspended", "issuer:91110000101623741K"),
    ("service", "verified", "counter:一号窗口"),
    ("service", "status_refused", "issuer:91360100MA35ABCD1R"),
    ("service", "access_denied", "issuer:91360100MA35ABCD1R"),
    ("service", "reinstated", "issuer:91110000101623741K"),
    ("service", "presented", "issuer:91110000101623741K"),
    ("service", "redeemed", "counter:一号窗口"),
    ("service", "redeem_refused", "counter:一号窗口"),
]


def test_the_auditors_timeline_comes_in_its_true_order(world: World) -> None:
    identifier, steps = _scenario(world)
    moments = list(steps.values())
    # the steps after the anchor follow each other within a second (a clock of whole
    # seconds could not tell them apart)
    assert all(0 <= b - a < 1.0 for a, b in itertools.pairwise(moments)), steps
    c = world.client
    whole = c.get(f"/v1/certificates/{identifier}/history", headers=world.h("auditor")).json()
    mine = [e for e in whole["events"] if e.get("about", "certificate") == "certificate"]
    assert [(e["source"], e["event"], e.get("actor")) for e in mine] == EXPECTED, mine
    # the context (its type in the catalogue, its agency's registration and grant) first
    first = whole["events"].index(mine[0])
    assert first > 0 and all(e["source"] == "chain" for e in whole["events"][:first])
    # a clock would have put them otherwise: the anchor an hour ahead of the wall clock
    by_time = sorted(mine, key=lambda e: dt.datetime.fromisoformat(e["time"]))
    assert by_time != mine and by_time[-1]["event"] == "anchored"
    anchored = next(e for e in mine if e["event"] == "anchored")
    suspended = next(e for e in mine if e["event"] == "suspended")
    reinstated = next(e for e in mine if e["event"] == "reinstated")
    # who, why, and the chain event each request caused (block and log index)
    assert suspended["role"] == "issuer" and suspended["reason_code"] == 7
    assert suspended["reason_name"] == "核查中" and suspended["reason"] == "举报材料待核实"
    assert suspended["chain"]["block"] > anchored["block"]
    assert suspended["chain"]["log_index"] >= 0 and suspended["chain"]["tx_hash"]
    # its block's clock is an hour behind the request's time
    assert (dt.datetime.fromisoformat(suspended["time"])
            - dt.datetime.fromisoformat(suspended["chain"]["time"])) > dt.timedelta(minutes=50)
    assert reinstated["reason"] == "核查完毕，恢复" and reinstated["chain"]["block"] > (
        suspended["chain"]["block"])
    verified = [e for e in mine if e["event"] == "verified"]
    assert [e["detail"]["verdict"] for e in verified] == ["valid", "invalid"]
    assert all(e["role"] == "counter" for e in verified)
    refused = next(e for e in mine if e["event"] == "status_refused")
    assert refused["detail"]["error"] == "wrong_agency" and refused["reason"] == "越权尝试"
    redeemed = next(e for e in mine if e["event"] == "redeemed")
    assert redeemed["detail"]["verdict"] == "valid" and "holder.name" in redeemed["detail"][
        "disclosed"]
    assert "holder.code" not in redeemed["detail"]["disclosed"]
    assert next(e for e in mine if e["event"] == "redeem_refused")["detail"]["error"] == (
        "presentation_used")
    for entry in mine:  # 北京时间 throughout
        assert dt.datetime.fromisoformat(entry["time"]).utcoffset() == dt.timedelta(hours=8)
    # page by page, the same timeline
    for limit in (1, 2, 5):
        assert _all_pages(world, f"/v1/certificates/{identifier}/history", "auditor",
                          limit) == whole["events"]

    # GET /v1/events: the service's events of it, in the same order, with the same facts
    logged = _all_pages(world, "/v1/events", "auditor", 3, certificate=identifier)
    assert [(e["source"], e["event"], e["actor"]) for e in logged] == [
        x for x in EXPECTED if x[0] == "service"]
    assert logged == [e for e in mine if e["source"] == "service"]
    # no secret in the log: neither the presentation code nor any API key
    with open_store(world.settings).engine.connect() as connection:
        text = json.dumps([list(map(str, r)) for r in connection.execute(
            sa.select(service_events)).all()], ensure_ascii=False)
    assert "ZZZZZ" not in text and all(key not in text for key in world.keys.values())
    unknown = _all_pages(world, "/v1/events", "auditor", 100, event="redeem_refused")
    assert any(e["identifier"] is None and e["detail"]["error"] == "presentation_unknown"
               for e in unknown)

    # zhengyin audit --csv: the same rows, UTF-8 with a byte order mark, 北京时间
    out = world.settings.home_dir / "audit.csv"
    env = {**os.environ, "ZHENGYIN_HOME": str(world.settings.home_dir),
           "ZHENGYIN_DEVNET_PORT": str(world.settings.devnet_port),
           "ZHENGYIN_DATABASE_URL": world.settings.database}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "zhengyin"), "audit", "--certificate", identifier,
         "--csv", str(out)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    col = {name.split(" ")[-1]: k for k, name in enumerate(header)}
    assert [(r[col["event"]], r[col["actor"]]) for r in body] == [
        (x[1], x[2]) for x in EXPECTED if x[0] == "service"]
    row = body[[r[col["event"]] for r in body].index("suspended")]
    assert (row[col["reason_code"]], row[col["reason_name"]], row[col["reason"]]) == (
        "7", "核查中", "举报材料待核实")
    assert row[col["chain.block"]] == str(suspended["chain"]["block"])
    assert all(r[col["time"]].endswith("+08:00") for r in body)
    # to stdout: no byte order mark (a pipe is read by programs); as lines: who and why
    piped = subprocess.run(
        [str(Path(sys.executable).parent / "zhengyin"), "audit", "--certificate", identifier,
         "--csv", "-"], capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert piped.returncode == 0 and piped.stdout.decode("utf-8") == raw.decode("utf-8-sig")
    lines = subprocess.run(
        [str(Path(sys.executable).parent / "zhengyin"), "audit", "--certificate", identifier,
         "--event", "suspended,reinstated"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert lines.returncode == 0, lines.stderr
    shown = lines.stdout.splitlines()
    assert len(shown) == 2 and "suspended" in shown[0] and "reinstated" in shown[1]
    assert "原因: 核查中 举报材料待核实" in shown[0] and "(issuer)" in shown[0]
    assert f"区块 {suspended['chain']['block']}#" in shown[0]


def test_events_are_filtered_and_scoped_by_role(world: World) -> None:
    c = world.client
    identifier = c.post("/v1/certificates", json=request("审计乙"),
                        headers=world.h("issuer_b")).json()["identifier"]
    now = dt.datetime.now(dt.UTC)
    beijing = now.astimezone(dt.timezone(dt.timedelta(hours=8)))
    # a period in 北京时间 without an offset is read as 北京时间
    since = (beijing - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    found = _all_pages(world, "/v1/events", "auditor", 50, issuer=AGENCY_B[0], event="issued",
                       **{"from": since})
    assert [e["identifier"] for e in found] == [identifier]
    later = (beijing + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert _all_pages(world, "/v1/events", "auditor", 50, issuer=AGENCY_B[0],
                      **{"from": later}) == []
    assert _all_pages(world, "/v1/events", "auditor", 50, issuer=AGENCY_B[0],
                      to=since + "+08:00", event="issued") == []
    # an agency sees its own agency's events only; a counter none
    own = _all_pages(world, "/v1/events", "issuer_b", 100)
    assert own and {e["issuer"] for e in own} == {AGENCY_B[0]}
    other = c.get("/v1/events", params={"issuer": AGENCY_A[0]}, headers=world.h("issuer_b"))
    assert other.status_code == 403 and other.json()["error"] == "wrong_agency"
    counter = c.get("/v1/events", headers=world.h("counter"))
    assert counter.status_code == 403 and counter.json()["error"] == "wrong_role"
    bad = c.get("/v1/events", params={"from": "yesterday"}, headers=world.h("auditor"))
    assert bad.status_code == 422 and bad.json()["error"] == "bad_time"
    # a redemption by a key that may not redeem is a refused one too
    wrong = c.post("/v1/presentations/redeem", json={"code": "ABCDE-FGHJK"},
                   headers=world.h("issuer_b"))
    assert wrong.status_code == 403
    refusals = _all_pages(world, "/v1/events", "auditor", 100, event="redeem_refused",
                          role="issuer")
    assert [(e["actor"], e["detail"]["error"], e["identifier"]) for e in refusals] == [
        (f"issuer:{AGENCY_B[0]}", "wrong_role", None)]
    by_actor = _all_pages(world, "/v1/events", "admin", 100, actor="counter:一号窗口",
                          role="counter")
    assert by_actor and {e["actor"] for e in by_actor} == {"counter:一号窗口"}
    # an agency's certificates, paged
    listed: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = c.get("/v1/certificates", headers=world.h("auditor"), params={
            "issuer": AGENCY_A[0], "limit": 1, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        listed += page.json()["certificates"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(listed) >= 1 and {x["issuer"] for x in listed} == {AGENCY_A[0]}
    assert [x["identifier"] for x in listed] == sorted(x["identifier"] for x in listed)
    mine = c.get("/v1/certificates", headers=world.h("issuer_b")).json()["certificates"]
    assert identifier in [x["identifier"] for x in mine]
    assert {x["issuer"] for x in mine} == {AGENCY_B[0]}
    assert c.get("/v1/certificates", params={"issuer": AGENCY_A[0]},
                 headers=world.h("issuer_b")).status_code == 403
