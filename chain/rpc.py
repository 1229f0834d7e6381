"""JSON-RPC transport: plain JSON-RPC 2.0 over HTTP, one pooled session per endpoint.

Every failure to reach the node becomes :class:`ChainUnavailable`; a node's JSON-RPC error
becomes :class:`RpcError`, or :class:`ContractRevert` when it carries revert data.

An endpoint URL often carries a provider's token (in the user part, the path or the query):
no message, log line or answer shows more of it than :func:`redact_url` does (scheme, host
and port), and the transport's own exception texts, which quote the path and query, are
never passed on.
"""

from __future__ import annotations

import itertools
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from chain.contracts import error_selectors
from chain.errors import ChainUnavailable, ContractRevert, RpcError


def redact_url(url: str) -> str:
    """What may be shown of a URL: ``scheme://host[:port]``, never its user, password, path,
    query or fragment (where providers put access tokens). The one function every message,
    log line and health answer that names an endpoint goes through."""
    try:
        parts = urllib.parse.urlsplit(str(url).strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        return "<unparsable URL>"
    if not parts.scheme or not host:
        return "<unparsable URL>"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


def _why(exc: BaseException, timeout: float) -> str:
    """Why a request failed, in words that cannot quote the URL (``requests`` puts the path
    and query into its exception texts)."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or lost"
    return type(exc).__name__


class Rpc:
    """A JSON-RPC endpoint. Thread-safe: each thread has its own pooled HTTP session."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.shown_url = redact_url(url)
        """The endpoint as messages show it (:func:`redact_url`)."""
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Content-Type"] = "application/json"
            self._local.session = session
        return session

    def _post(self, payload: Any) -> Any:
        try:
            response = self._session().post(self.url, json=payload, timeout=self.timeout)
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(
                f"the chain at {self.shown_url} did not answer: {_why(exc, self.timeout)}"
            ) from None  # the cause's text quotes the URL's path and query
        try:
            return response.json()
        except ValueError:
            raise ChainUnavailable(
                f"the chain at {self.shown_url} did not answer JSON-RPC "
                f"(HTTP {response.status_code})"
            ) from None

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Send one request and return its ``result``."""
        payload = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": method,
            "params": list(params),
        }
        return _result(method, self._post(payload))

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send many read requests in one JSON-RPC batch; results in request order."""
        if not requests_:
            return []
        ids = [next(self._ids) for _ in requests_]
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
            for i, (m, p) in zip(ids, requests_, strict=True)
        ]
        responses = self._post(payload)
        if not isinstance(responses, list):  # a node that refuses batches answers one error
            return [_result(requests_[0][0], responses)]
        by_id = {r.get("id"): r for r in responses if isinstance(r, dict)}
        return [_result(m, by_id.get(i)) for i, (m, _) in zip(ids, requests_, strict=True)]


def _result(method: str, response: Any) -> Any:
    if not isinstance(response, dict):
        raise ChainUnavailable(f"{method}: the endpoint did not answer JSON-RPC")
    error = response.get("error")
    if error is None:
        return response.get("result")
    if not isinstance(error, dict):
        raise RpcError(method, -1, str(error))
    data = error.get("data")
    if isinstance(data, dict):  # some nodes nest revert data
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        raise decode_revert(data)
    message = str(error.get("message", ""))
    if "revert" in message.lower():
        raise ContractRevert("unknown", {"message": message}, "0x")
    raise RpcError(method, int(error.get("code", -1)), message)


def decode_revert(data: str) -> ContractRevert:
    """Revert data (``0x`` + selector + ABI-encoded args) → a typed :class:`ContractRevert`."""
    raw = bytes.fromhex(data[2:])
    spec = error_selectors().get(raw[:4])
    if spec is None:
        return ContractRevert("unknown", {"data": data}, data)
    try:
        values = abi_decode(list(spec.arg_types), raw[4:])
    except Exception:  # malformed revert payload: still a revert, keep the raw data
        return ContractRevert(spec.name, {"data": data}, data)
    args = {
        name: to_checksum_address(value) if kind == "address" else value
        for name, kind, value in zip(spec.arg_names, spec.arg_types, values, strict=True)
    }
    return ContractRevert(spec.name, args, data)
