"""Errors of the ``chain`` package, each with a stable string ``code``.

Callers must be able to tell "could not check" (:class:`ChainUnavailable`) from "the chain
said no" (:class:`ContractRevert`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ChainError(Exception):
    """Root of every error raised by ``chain``."""

    code = "chain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ChainUnavailable(ChainError):
    """The JSON-RPC endpoint did not answer (refused, timed out, not a JSON-RPC server)."""

    code = "chain_unavailable"


class RpcError(ChainError):
    """The node answered with a JSON-RPC error that is not a contract revert."""

    code = "rpc_error"

    def __init__(self, method: str, rpc_code: int, message: str) -> None:
        super().__init__(f"{method}: node error {rpc_code}: {message}")
        self.method = method
        self.rpc_code = rpc_code
        self.rpc_message = message


class ContractRevert(ChainError):
    """A call or transaction reverted. ``error_name`` is the contract's custom error
    (``RootAlreadyAnchored``…), ``Error`` for ``require`` messages, ``Panic`` for panics,
    or ``unknown`` when the revert data matches nothing in the ABIs."""

    code = "contract_revert"

    def __init__(self, error_name: str, args: Mapping[str, Any], data: str = "0x") -> None:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        super().__init__(f"the contract refused: {error_name}({shown})")
        self.error_name = error_name
        self.args_by_name: Mapping[str, Any] = dict(args)
        self.data = data


class TransactionTimeout(ChainError):
    """No receipt (or not enough confirmations) in time. The transaction may still be mined:
    ``tx_hash`` says which one to look for."""

    code = "tx_timeout"

    def __init__(self, tx_hash: str, waited: float) -> None:
        super().__init__(f"transaction {tx_hash} not confirmed after {waited:.1f} s")
        self.tx_hash = tx_hash


class TransactionDropped(ChainError):
    """A transaction will never be mined as sent: the node no longer knows it (dropped, e.g.
    when the chain lost its last blocks) (``tx_dropped``), or its nonce is above the
    account's next one, so it waits behind a gap that nothing fills (``tx_nonce_gap``). The
    sender's nonce is resynced; send the transaction again."""

    code = "tx_dropped"

    def __init__(self, tx_hash: str, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.tx_hash = tx_hash


class TransactionFailed(ChainError):
    """A mined transaction has status 0 and its revert could not be decoded."""

    code = "tx_failed"


class ArtefactError(ChainError):
    """A contract artefact (ABI + bytecode) is missing or malformed."""

    code = "contract_artefact"


class InvalidArgument(ChainError):
    """A value given to the chain client is malformed (USCC, digest, address)."""

    code = "invalid_argument"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value) if isinstance(value, str) else str(value)
