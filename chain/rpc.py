"""JSON-RPC transport: plain JSON-RPC 2.0 over HTTP, one pooled session per endpoint.

Every failure to reach the node becomes :class:`ChainUnavailable`; a node's JSON-RPC error
becomes :class:`RpcError`, or :class:`ContractRevert` when it carries revert data.

Transient failures are retried a bounded number of times with a doubling back-off
(``retries``, ``backoff``): a refused, reset or timed-out connection, and HTTP 429, 502, 503
and 504 (a ``Retry-After`` of a 429 or 503 is honoured up to :data:`MAX_RETRY_AFTER`). Every
JSON-RPC method the project sends may be repeated: reads are idempotent, and a raw
transaction sent twice is the same signed bytes, the same hash (the sender treats the node's
"already known" or "nonce too low" for a transaction it does hold as success).

An endpoint URL often carries a provider's token (in the user part, the path or the query):
no message, log line or answer shows more of it than :func:`redact_url` does (scheme, host
and port), and the transport's own exception texts, which quote the path and query, are
never passed on.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

import requests
import urllib3
from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from chain.contracts import error_selectors
from chain.errors import ChainUnavailable, ContractRevert, RpcError

_log = logging.getLogger(__name__)
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
"""HTTP statuses of a gateway or provider that may answer the same request a moment later."""
MAX_RETRY_AFTER = 5.0
"""The longest ``Retry-After`` waited for; a longer one ends the retries."""


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


_MALFORMED_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    urllib3.exceptions.LocationValueError,  # raised through requests as it is (a ValueError)
)
"""What sending to a URL that cannot be one raises."""


def _malformed(exc: BaseException) -> str:
    """What is wrong with the URL, in words that cannot quote it."""
    if isinstance(exc, requests.exceptions.MissingSchema):
        return "no http:// or https:// scheme"
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return "not an http:// or https:// URL"
    return "its host or port is malformed"


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

    def __init__(
        self, url: str, *, timeout: float = 10.0, retries: int = 2, backoff: float = 0.1
    ) -> None:
        self.url = url
        self.shown_url = redact_url(url)
        """The endpoint as messages show it (:func:`redact_url`)."""
        self.timeout = timeout
        self.retries = max(0, retries)
        """How many times a transiently failed request is sent again."""
        self.backoff = backoff
        """The first wait before a retry (seconds; doubled each time, with jitter)."""
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
        """POST ``payload``; the decoded JSON answer. Transient failures are retried
        ``retries`` times with back-off, then :class:`ChainUnavailable`. No retry starts
        later than twice ``timeout`` after the first attempt (a node that times out is
        asked once more, not ``retries`` more times)."""
        attempt = 0
        started = time.monotonic()
        while True:
            why, wait = self._post_once(payload, attempt)
            if why is None:
                return wait
            if (
                attempt >= self.retries
                or wait is None
                or time.monotonic() - started + wait > 2 * self.timeout
            ):
                raise ChainUnavailable(f"the chain at {self.shown_url} did not answer: {why}")
            attempt += 1
            _log.debug("chain request retried endpoint=%s attempt=%d/%d why=%r wait=%.2fs",
                      self.shown_url, attempt, self.retries, why, wait)
            time.sleep(wait)

    def _post_once(self, payload: Any, attempt: int) -> tuple[str | None, Any]:
        """``(None, answer)``, or ``(why, seconds to wait before retrying)`` for a transient
        failure (``None`` seconds: not worth retrying). Raises :class:`ChainUnavailable`
        for an answer that is not JSON-RPC and not transient."""
        backoff = self.backoff * (1 + random.random()) * 2 ** attempt
        try:
            response = self._session().post(self.url, json=payload, timeout=self.timeout)
        except _MALFORMED_URL as exc:  # not transient: the same URL fails the same way
            raise ChainUnavailable(
                f"the chain's URL {self.shown_url} cannot be used ({_malformed(exc)}): "
                "correct the node URL in the configuration",
                code="bad_rpc_url",
            ) from None
        except (requests.RequestException, OSError) as exc:
            # the cause's text quotes the URL's path and query: never passed on
            return _why(exc, self.timeout), backoff
        if response.status_code in TRANSIENT_STATUSES:
            after = _retry_after(response.headers.get("Retry-After"))
            if after is not None and after > MAX_RETRY_AFTER:
                return f"HTTP {response.status_code}, retry after {after:g} s", None
            return f"HTTP {response.status_code}", max(backoff, after or 0.0)
        try:
            return None, response.json()
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


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header given in seconds (a date: ignored)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


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
