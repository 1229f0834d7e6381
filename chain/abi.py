"""ABI encoding of calls and decoding of results and event logs, over the committed artefacts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from chain.contracts import Artefact, _abi_type, load_artefact
from chain.errors import ArtefactError, ChainError


@dataclass(frozen=True)
class _Event:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]
    """(name, type) of indexed params, in topic order."""
    plain: tuple[tuple[str, str], ...]
    """(name, type) of the params in ``data``."""


class ContractAbi:
    """Encode calls to one contract and decode what it returns."""

    def __init__(self, artefact: Artefact) -> None:
        self.artefact = artefact
        self._functions: dict[str, dict[str, Any]] = {}
        self.events: dict[bytes, _Event] = {}
        for item in artefact.abi:
            if item.get("type") == "function":
                self._functions[item["name"]] = item
            elif item.get("type") == "event":
                types = [_abi_type(p) for p in item["inputs"]]
                topic = keccak(text=f"{item['name']}({','.join(types)})")
                self.events[topic] = _Event(
                    artefact.name,
                    item["name"],
                    tuple((p["name"], _abi_type(p)) for p in item["inputs"] if p["indexed"]),
                    tuple((p["name"], _abi_type(p)) for p in item["inputs"] if not p["indexed"]),
                )

    def _function(self, name: str) -> dict[str, Any]:
        try:
            return self._functions[name]
        except KeyError as exc:
            raise ArtefactError(f"{self.artefact.name} has no function {name}") from exc

    def encode_call(self, name: str, *args: Any) -> str:
        fn = self._function(name)
        types = [_abi_type(p) for p in fn["inputs"]]
        selector = keccak(text=f"{name}({','.join(types)})")[:4]
        return "0x" + (selector + abi_encode(types, list(args))).hex()

    def encode_constructor(self, *args: Any) -> str:
        ctor = next((i for i in self.artefact.abi if i.get("type") == "constructor"), None)
        types = [_abi_type(p) for p in ctor["inputs"]] if ctor else []
        return self.artefact.bytecode + abi_encode(types, list(args)).hex()

    def decode_result(self, name: str, data: str) -> tuple[Any, ...]:
        fn = self._function(name)
        types = [_abi_type(p) for p in fn["outputs"]]
        try:
            return tuple(abi_decode(types, bytes.fromhex(data[2:])))
        except (DecodingError, ValueError, TypeError) as exc:
            # e.g. "0x" from an address without code (a wiped devnet, a wrong deployment
            # record): the chain cannot answer the question, which is not a bug here
            shown = data if isinstance(data, str) and len(data) <= 20 else f"{str(data)[:20]}…"
            raise ChainError(
                f"{self.artefact.name}.{name} returned {shown!r}, which does not decode: "
                "is the contract deployed at this address on this chain?",
                code="bad_call_result",
            ) from exc

    def topic(self, event_name: str) -> str:
        for topic, event in self.events.items():
            if event.name == event_name:
                return "0x" + topic.hex()
        raise ArtefactError(f"{self.artefact.name} has no event {event_name}")

    def decode_log(self, log: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """``(event name, args)`` of a raw log, or ``None`` if it is not one of ours."""
        topics: Sequence[str] = log.get("topics", ())
        if not topics:
            return None
        event = self.events.get(bytes.fromhex(topics[0][2:]))
        if event is None:
            return None
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(event.indexed, topics[1:], strict=True):
            (args[name],) = abi_decode([kind], bytes.fromhex(topic[2:]))
        values = abi_decode([k for _, k in event.plain], bytes.fromhex(log["data"][2:]))
        args.update({name: v for (name, _), v in zip(event.plain, values, strict=True)})
        return event.name, {k: _normal(v) for k, v in args.items()}


def _normal(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return value


@cache
def contract_abi(name: str) -> ContractAbi:
    return ContractAbi(load_artefact(name))
