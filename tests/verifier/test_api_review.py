"""What a security review of the API found, each held by a test against the real service
(a devnet, PostgreSQL behind a TCP relay the test can cut, ``uvicorn`` serving the app over
real HTTP): crafted pagination cursors are refused with ``bad_cursor``, never a 500; the
QR route reads UTF-8 only, whatever the body's shape; a 5xx answer names no host, port,
database user or query (the detail goes to the log); and each error class has the status
it deliberately maps to."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import uvicorn

from certs import qr
from certs.canonical import CertificateDocument
from certs.store import StoreError
from devnet.anvil import Devnet
from tests.conftest import free_port
from tests.postgres import postgres_server
from verifier.api.app import create_app
from verifier.app.agency import add_issuer, hash_api_key, new_api_key, open_store
from verifier.app.catalogue import authorize_everywhere
from verifier.app.context import registry
from verifier.cli.devnet import deploy_and_report
from verifier.settings import Settings

AGENCY = ("91110000101623741K", "示例市市场监督管理局")


# ---- a TCP relay in front of PostgreSQL: cut it, and the database does not answer ----


@dataclass
class Relay:
    """Forwards TCP connections from ``port`` to ``upstream``; :meth:`cut` closes every
    connection and refuses new ones (the database unreachable), :meth:`mend` undoes it."""

    upstream: tuple[str, int]
    port: int = 0
    cut_off: bool = False
    sockets: list[socket.socket] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.cut_off:
                    client.close()
                    continue
                try:
                    server = socket.create_connection(self.upstream, timeout=5)
                except OSError:
                    client.close()
                    continue
                server.settimeout(None)
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self.lock:
            self.cut_off = True
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets.clear()

    def mend(self) -> None:
        with self.lock:
            self.cut_off = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


@dataclass
class Served:
    url: str
    settings: Settings
    keys: dict[str, str]
    relay: Relay
    database_port: int

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("review-home")
    with postgres_server() as database:
        parts = urlsplit(database)
        assert parts.hostname and parts.port
        relay = Relay((parts.hostname, parts.port))
        relay.start()
        through = database.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{relay.port}")
        settings = Settings(home=home, devnet_port=free_port(), database_url=through)
        Devnet(settings.home_dir).up(settings.devnet_port)
        server: uvicorn.Server | None = None
        thread: threading.Thread | None = None
        try:
            deploy_and_report(settings)
            keys = {"issuer": add_issuer(settings, *AGENCY).api_key}
            authorize_everywhere(registry(settings, write=True), AGENCY[0])
            store = open_store(settings)
            for role, name in (("counter", "一号窗口"), ("auditor", "审计员"), ("admin", "管理员")):
                keys[role] = new_api_key()
                store.add_api_key(role, name, hash_api_key(keys[role]))
            store.engine.dispose()
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(
                create_app(settings), host="127.0.0.1", port=port, log_level="warning",
            ))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "the service did not come up"
                time.sleep(0.2)
            yield Served(url, settings, keys, relay, relay.port)
        finally:
            if server is not None and thread is not None:
                server.should_exit = True
                thread.join(30)
            Devnet(settings.home_dir).down()
            relay.close()


def _request(name: str) -> dict[str, Any]:
    return {"type": "11100000000013338W032",
            "holder": {"name": name, "code": "11010519491231002X", "code_type": "111"},
            "jurisdiction": "360100"}


def _anchored(served: Served, name: str) -> dict[str, Any]:
    created = requests.post(f"{served.url}/v1/certificates", json=_request(name),
                            headers=served.h("issuer"), timeout=30)
    assert created.status_code == 201, created.text
    identifier = created.json()["identifier"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = requests.get(f"{served.url}/v1/certificates/{identifier}",
                            headers=served.h("issuer"), timeout=10).json()
        if body.get("status") == "active":
            return dict(body)
        time.sleep(0.2)
    raise AssertionError(f"{identifier} was not anchored in time")


def _cursor(kind: Any, position: Any) -> str:
    text = json.dumps([kind, position], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


TIME = "2024-01-01T00:00:00.000000+00:00"
CRAFTED_HISTORY = [
    ["garbage", 1, 0, 0],
    [TIME, 1, 0, 0],  # the timeline's positions before #21 (a clock string first)
    [10**300, 1, 0, 0],  # beyond SQLite's integers: OverflowError (500)
    [2**63, 1, 0, 0],
    [2**31, 1, 0, 0],  # beyond a service event's id column (PostgreSQL: integer)
    [2**31, 2, 0, 0],
    [0, 2, 2**63, 0],
    [-1, 1, 0, 0],
    [0, 0, 0, 0],  # neither a service (1) nor a chain (2) entry
    [0, 3, 0, 0],
    [0, 2, 0, 2**64],
    [0, True, 0, 0],
    [True, 1, 0, 0],
    [1.5, 1, 0, 0],
    ["1", 1, 0, 0],
    [0, 1, 0],
    [0, 1, 0, 0, 0],
    [None, 1, 0, 0],
    [[0], 1, 0, 0],
    {"a": 1},
]
CRAFTED_EVENTS = [[2**31], [-1], [1.5], ["1"], [True], [None], [], [1, 2], {"a": 1}, [TIME]]
CRAFTED_TEXT = [[1], [None], [["x"]], [{"a": 1}], [], ["a", "b"], [True], "x", 5]


def test_every_crafted_cursor_is_refused_on_every_paged_route(served: Served) -> None:
    """Each member of a position is checked in full before any query sees it: a time that
    is no time, an integer out of 0..2**63-1, a wrong type or length is ``bad_cursor`` (422),
    never a 500."""
    document = _anchored(served, "周九")
    identifier = document["identifier"]
    history = f"{served.url}/v1/certificates/{identifier}/history"
    auth = f"{served.url}/v1/issuers/{AGENCY[0]}/authorizations"
    types = f"{served.url}/v1/types"
    # the cursors the service gives still work (and a crafted one that is well-formed)
    first = requests.get(history, params={"limit": 1}, headers=served.h("auditor"), timeout=30)
    assert first.status_code == 200 and first.json()["next_cursor"], first.text
    for cursor in (first.json()["next_cursor"], _cursor("history", [2**31 - 1, 1, 0, 0]),
                   _cursor("history", [2**31 - 1, 2, 2**63 - 1, 2**63 - 1])):
        page = requests.get(history, params={"cursor": cursor}, headers=served.h("auditor"),
                            timeout=30)
        assert page.status_code == 200, page.text
    events = f"{served.url}/v1/events"
    assert requests.get(events, params={"cursor": _cursor("events", [2**31 - 1])},
                        headers=served.h("auditor"), timeout=30).status_code == 200
    crafted = [(history, "auditor", _cursor("history", p)) for p in CRAFTED_HISTORY]
    crafted += [(history, "auditor", _cursor(k, [0, 1, 0, 0])) for k in (None, 1, ["h"])]
    crafted += [(events, "auditor", _cursor("events", p)) for p in CRAFTED_EVENTS]
    crafted += [(events, "auditor", _cursor("history", [0, 1, 0, 0]))]
    for url, kind in ((types, "types"), (auth, "authorizations")):
        assert requests.get(url, params={"cursor": _cursor(kind, ["A"])},
                            headers=served.h("admin"), timeout=30).status_code == 200
        crafted += [(url, "admin", _cursor(kind, p)) for p in CRAFTED_TEXT]
        crafted += [(url, "admin", _cursor(kind, CRAFTED_HISTORY[0]))]
    for url, who, cursor in crafted:
        answer = requests.get(url, params={"cursor": cursor}, headers=served.h(who), timeout=30)
        shown = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        assert answer.status_code == 422, (url, shown, answer.text)
        assert answer.json()["error"] == "bad_cursor" and answer.json()["message"], answer.text


def test_a_qr_body_in_utf16_is_refused_as_the_route_refuses_it(served: Served) -> None:
    """``POST /v1/verify`` reads UTF-8 only: a UTF-16 or UTF-32 body of a
    genuine QR payload is ``bad_json`` (400), as the route answers, never a verdict."""
    document = _anchored(served, "吴十")
    payload = qr.payload_for(CertificateDocument.from_json(json.dumps(document["document"])))
    body = json.dumps({"qr": payload.encode()})
    headers = {**served.h("counter"), "Content-Type": "application/json"}
    plain = requests.post(f"{served.url}/v1/verify", data=body.encode("utf-8"),
                          headers=headers, timeout=30)
    assert plain.status_code == 200 and plain.json()["verdict"] == "valid", plain.text
    for encoding in ("utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32"):
        answer = requests.post(f"{served.url}/v1/verify", data=body.encode(encoding),
                               headers=headers, timeout=30)
        assert answer.status_code == 400, (encoding, answer.text)
        assert answer.json()["error"] == "bad_json", (encoding, answer.text)


def test_stored_data_the_service_cannot_use_is_its_fault_not_the_clients(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch's stored Merkle tree gone: reading the certificate is 500
    ``batch_tree_missing`` (the service's fault; retrying does not help), not a 422 that
    blames the request; the answer says so without the query, the log line has the batch."""
    import sqlalchemy as sa

    from certs.store import batches, certificates

    document = _anchored(served, "冯十三")
    identifier = document["identifier"]
    store = open_store(served.settings)
    try:
        with store.engine.begin() as connection:
            batch_id = connection.execute(sa.select(certificates.c.batch_id).where(
                certificates.c.identifier == identifier)).scalar_one()
            connection.execute(sa.update(batches).where(batches.c.id == batch_id).values(
                tree=None))
    finally:
        store.engine.dispose()
    with caplog.at_level(logging.WARNING, logger="verifier.api.app"):
        answer = requests.get(f"{served.url}/v1/certificates/{identifier}",
                              headers=served.h("issuer"), timeout=30)
    assert answer.status_code == 500, answer.text
    assert answer.json()["error"] == "batch_tree_missing"
    assert "retrying does not help" in answer.json()["message"]
    _no_internals(answer.text, served.database_port)
    lines = [r.getMessage() for r in caplog.records
             if r.name == "verifier.api.app" and "batch_tree_missing" in r.getMessage()]
    assert len(lines) == 1 and f"batch {batch_id}" in lines[0], lines


def _no_internals(text: str, *ports: int) -> None:
    assert "127.0.0.1" not in text and "localhost" not in text, text
    for port in ports:
        assert str(port) not in text, text
    for word in ("SELECT", "INSERT", "UPDATE ", "FROM ", "[SQL", "parameters", "zhengyin@",
                 "psycopg", "Traceback"):
        assert word not in text, text


def test_a_database_outage_is_answered_without_its_address_or_query(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """The database does not answer: 503 ``database_unavailable`` saying what to do; the
    answer names no host, port, user or SQL; one log line has the detail."""
    document = _anchored(served, "郑十一")
    identifier = document["identifier"]
    routes = [
        ("get", f"/v1/certificates/{identifier}", "issuer", None),
        ("get", f"/v1/certificates/{identifier}/history", "auditor", None),
        ("get", "/v1/events", "auditor", None),
        ("post", "/v1/verify", "counter", {"certificate": document["document"]}),
        ("post", "/v1/certificates", "issuer", _request("王十二")),
    ]
    logged: list[str] = []
    served.relay.cut()
    try:
        with caplog.at_level(logging.WARNING, logger="verifier.api.app"):
            for method, path, who, body in routes:
                caplog.clear()
                answer = requests.request(method, served.url + path, json=body,
                                          headers=served.h(who), timeout=60)
                assert answer.status_code == 503, (path, answer.text)
                assert answer.json()["error"] == "database_unavailable", (path, answer.text)
                assert "try again" in answer.json()["message"]
                _no_internals(answer.text, served.database_port)
                lines = [r.getMessage() for r in caplog.records if r.name == "verifier.api.app"
                         and "database_unavailable" in r.getMessage()]
                assert len(lines) == 1, (path, [r.getMessage() for r in caplog.records])
                assert path.split("/")[2] in lines[0] and "\n" not in lines[0]
                detail = lines[0].split("database_unavailable: ", 1)[1]
                assert "connection" in detail or "database" in detail, detail
                assert "zhengyin@" not in detail and "parameters:" not in detail, detail
                assert "SELECT" not in detail and "INSERT" not in detail, detail
                logged.append(detail)
    finally:
        served.relay.mend()
    # the detail the answers left out is in the log: where the database was not reached
    assert any(f"port {served.database_port}" in line for line in logged), logged
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        again = requests.get(f"{served.url}/v1/certificates/{identifier}",
                             headers=served.h("issuer"), timeout=30)
        if again.status_code == 200:
            break
        time.sleep(0.5)
    assert again.status_code == 200, again.text


def test_a_chain_outage_is_answered_without_the_nodes_address(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """Last in this module: it stops the chain. A change that needs the chain is 503 with a
    public message; the node's address and port are in the log line only."""
    Devnet(served.settings.home_dir).down()
    port = served.settings.devnet_port
    with caplog.at_level(logging.WARNING, logger="verifier.api.app"):
        answer = requests.post(f"{served.url}/v1/types/11100000000013338W032/revise",
                               headers=served.h("admin"), timeout=120)
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] in {"chain_unavailable", "devnet_not_running"}, body
    assert "try again" in body["message"] or "operator" in body["message"], body
    _no_internals(answer.text, port)
    lines = [r.getMessage() for r in caplog.records
             if r.name == "verifier.api.app" and body["error"] in r.getMessage()]
    assert len(lines) == 1 and str(port) in lines[0], [r.getMessage() for r in caplog.records]


# ---- the status of each kind of error (the mapping itself) ----


def test_each_error_class_answers_with_its_deliberate_status() -> None:
    from certs.errors import CertError
    from certs.store import StoreError
    from chain.errors import (
        ArtefactError,
        ChainError,
        ChainUnavailable,
        ContractRevert,
        InvalidArgument,
        RpcError,
        TransactionDropped,
        TransactionFailed,
    )
    from devnet.errors import DevnetError
    from seals.errors import SealError, Sm2BadKey, Sm2Unavailable
    from verifier.api.errors import ERRORS, kind_of, public_message
    from verifier.errors import VerifierError

    detail = "node 10.0.0.7:5432 as zhengyin@db"  # what no 5xx answer may say
    cases: list[tuple[BaseException, str, int]] = [
        (Sm2Unavailable(detail), "sm2_unavailable", 503),
        (Sm2BadKey("not a point"), "sm2_bad_key", 422),
        (CertError(detail, code="batch_tree_missing"), "batch_tree_missing", 500),
        (CertError(detail, code="batch_position_missing"), "batch_position_missing",
         500),
        (CertError(detail, code="stored_leaf_malformed"), "stored_leaf_malformed", 500),
        (CertError(detail, code="invalid_uscc"), "invalid_uscc", 422),
        (TransactionFailed(detail), "tx_failed", 409),
        (ContractRevert("RootAlreadyAnchored", {}), "contract_revert", 409),
        (TransactionDropped("0x1", detail), "tx_dropped", 503),
        (TransactionDropped("0x1", detail, code="tx_nonce_gap"), "tx_nonce_gap", 503),
        (ChainUnavailable(detail), "chain_unavailable", 503),
        (ChainUnavailable(detail, code="bad_rpc_url"), "bad_rpc_url", 503),
        (RpcError("eth_call", -32000, detail), "rpc_error", 503),
        (ChainError(detail, code="block_missing"), "block_missing", 503),
        (InvalidArgument("bad uscc"), "invalid_argument", 422),
        (ArtefactError(detail), "contract_artefact", 500),
        (StoreError(detail, code="database_unavailable"), "database_unavailable", 503),
        (StoreError(detail, code="store_error"), "store_error", 503),
        (VerifierError("bad", code="bad_cursor"), "bad_cursor", 422),
        (VerifierError("bad", code="something_new"), "something_new", 422),
        (SealError("bad", code="seal_bad_uscc"), "seal_bad_uscc", 422),
        (ValueError(detail), "internal_error", 500),
    ]
    # every DevnetError, whatever its code (one that looks like a family's too)
    for code in ("devnet_not_running", "deployment_record_corrupt", "state_corrupt",
                 "deployment_missing", "operator_key_invalid", "port_in_use",
                 "anvil_missing", "devnet_error", "key_file_gone", "pdf_like"):
        cases.append((DevnetError(detail, code=code), code, 503))
    for exc, code, status in cases:
        assert kind_of(exc) == (code, status), (exc, kind_of(exc))
        if status >= 500:  # what a 5xx says is public: never the error's own text
            message = public_message(code, exc)
            assert message and "10.0.0.7" not in message, (code, message)
    for code in ("sm2_unavailable", "batch_tree_missing", "batch_position_missing",
                 "stored_leaf_malformed", "tx_failed", "bad_rpc_url"):
        assert code in ERRORS, code


def test_a_malformed_rpc_url_is_a_coded_configuration_error(tmp_path: Path) -> None:
    """``ZHENGYIN_RPC_URL=http://a..b/x``: urllib3's own ValueError escaped as a raw
    exception (a 500 in the API, exit 70 in the CLI); the service now refuses to start with
    ``bad_rpc_url`` (could not check: a :class:`ChainUnavailable`), in words an operator can
    act on, showing no more of the URL than its host."""
    from chain.errors import ChainUnavailable
    from verifier.app.service import Service

    for url in ("http://a..b/x", "https://user:secret@a..b/v3/TOKEN"):
        settings = Settings(home=tmp_path, rpc_url=url,
                            database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
        started = time.monotonic()
        with pytest.raises(ChainUnavailable) as caught:
            Service(settings)
        assert time.monotonic() - started < 5
        assert caught.value.code == "bad_rpc_url"
        assert "correct the node URL" in str(caught.value)
        assert "secret" not in str(caught.value) and "TOKEN" not in str(caught.value)


def test_a_raw_read_whose_new_connection_is_refused_is_database_unavailable(
    served: Served,
) -> None:
    """The hot-path reader opens a pool connection through the driver itself; when the
    database refuses it, the driver's own error (psycopg's, not wrapped by SQLAlchemy) was
    raised as is and the API answered 500. It is the store's database_unavailable."""
    store = open_store(served.settings)
    with store.reader() as fetch:
        assert fetch("SELECT 1 AS one") == [(1,)]
    store.engine.dispose()  # no pooled connection left: the next read opens one
    served.relay.cut()
    try:
        with pytest.raises(StoreError) as refused, store.reader() as fetch:
            fetch("SELECT 1 AS one")
        assert refused.value.code == "database_unavailable"
    finally:
        served.relay.mend()
        store.engine.dispose()
