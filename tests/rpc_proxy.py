"""A real HTTP proxy in front of a real node, failing on purpose or sending a request to
another node: what the chain client meets between it and the chain (a load balancer, a
gateway, a network that drops answers). Every request — a JSON-RPC batch is one — goes whole
to the node, as an HTTP load balancer sends it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


def methods(body: Any) -> list[str]:
    """The methods of a request, or of each request of a batch."""
    calls = body if isinstance(body, list) else [body]
    return [str(c.get("method", "")) for c in calls if isinstance(c, dict)]


def calls(seen: list[Any], method: str) -> list[Any]:
    """Every request of ``method`` among the bodies a proxy saw (batches opened)."""
    found = []
    for body in seen:
        for call in body if isinstance(body, list) else [body]:
            if isinstance(call, dict) and call.get("method") == method:
                found.append(call)
    return found


@dataclass
class Proxy:
    """Forwards JSON-RPC to ``upstream``; ``plan(n, body)`` (n counts from 1) answers
    ``None`` to forward, or ``("status", code, headers)``, ``("close",)`` (drop the
    connection unanswered), ``("lose",)`` (forward, then drop the node's answer),
    ``("error", code, message)`` (a JSON-RPC error), ``("reply", answer)`` (``answer``,
    any JSON, as the node's whole answer) or ``("to", url)`` (forward to that node instead:
    a load balancer's other node, or a gateway routing by method)."""

    upstream: str
    plan: Callable[[int, Any], tuple[Any, ...] | None] = lambda n, body: None
    seen: list[Any] = field(default_factory=list)
    url: str = ""


@contextmanager
def proxy(upstream: str) -> Iterator[Proxy]:
    state = Proxy(upstream)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            body = json.loads(raw)
            with lock:
                state.seen.append(body)
                action = state.plan(len(state.seen), body)
            if action is not None and action[0] == "close":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if action is not None and action[0] == "status":
                payload = b"busy"
                self.send_response(action[1])
                for name, value in action[2].items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if action is not None and action[0] == "reply":
                payload = json.dumps(action[1]).encode()
            elif action is not None and action[0] == "error":
                answer = json.dumps({"jsonrpc": "2.0", "id": body.get("id"),
                                     "error": {"code": action[1], "message": action[2]}})
                payload = answer.encode()
            else:
                node = action[1] if action is not None and action[0] == "to" else state.upstream
                payload = requests.post(node, data=raw, timeout=10,
                                        headers={"Content-Type": "application/json"}).content
            if action is not None and action[0] == "lose":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
