"""ABI encoding of calls and decoding of results and event logs, over the committed artefacts."""

from __future__ import annotations

import re
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
        types = tuple(_abi_type(p) for p in fn["inputs"])
        selector = _selector(name, types)
        encoded = _encode_digest_arrays(types, args)
        if encoded is None:
            encoded = abi_encode(list(types), list(args))
        return "0x" + (selector + encoded).hex()

    def encode_constructor(self, *args: Any) -> str:
        ctor = next((i for i in self.artefact.abi if i.get("type") == "constructor"), None)
        types = [_abi_type(p) for p in ctor["inputs"]] if ctor else []
        return self.artefact.bytecode + abi_encode(types, list(args)).hex()

    def decode_result(self, name: str, data: str) -> tuple[Any, ...]:
        fn = self._function(name)
        types = [_abi_type(p) for p in fn["outputs"]]
        try:
            raw = bytes.fromhex(data[2:])
            if len(types) == 1:
                fast = _decode_static_tuple_array(types[0], raw)
                if fast is not None:
                    return (fast,)
            return tuple(abi_decode(types, raw))
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


# ---- fast paths for the bulk views (statusesOf, anchorsOf). These handle only the exact
# shapes below and give exactly eth_abi's values (a test holds them equal); anything else, or
# any word eth_abi would refuse, goes to eth_abi, which decides.
# Why: bench/PERFORMANCE.md, "ABI fast paths for the bulk views"


@cache
def _selector(name: str, types: tuple[str, ...]) -> bytes:
    return bytes(keccak(text=f"{name}({','.join(types)})")[:4])


def _encode_digest_arrays(types: tuple[str, ...], args: Sequence[Any]) -> bytes | None:
    """``bytes32[]`` arguments only (every item 32 bytes), else None."""
    if not types or len(types) != len(args) or any(t != "bytes32[]" for t in types):
        return None
    head: list[bytes] = []
    tail: list[bytes] = []
    offset = 32 * len(types)
    for items in args:
        if not isinstance(items, list | tuple) or any(
            not isinstance(x, bytes) or len(x) != 32 for x in items
        ):
            return None
        head.append(offset.to_bytes(32, "big"))
        tail.append(len(items).to_bytes(32, "big"))
        tail.extend(items)
        offset += 32 * (1 + len(items))
    return b"".join(head) + b"".join(tail)


_UINT = re.compile(r"uint(8|16|32|64|128|256)")


@cache
def _word_decoders(array_type: str) -> tuple[Any, ...] | None:
    """One decoder per member of ``(T1,…,Tk)[]`` when every Ti is a one-word elementary
    type; each returns ``_BAD`` for a word eth_abi would refuse."""
    if not (array_type.startswith("(") and array_type.endswith(")[]")):
        return None
    decoders: list[Any] = []
    for member in array_type[1:-3].split(","):
        uint = _UINT.fullmatch(member)
        if member == "bytes32":
            decoders.append(bytes)
        elif member == "address":
            decoders.append(_address_word)
        elif member == "bool":
            decoders.append(_bool_word)
        elif uint is not None:
            decoders.append(_uint_word(int(uint.group(1))))
        else:
            return None
    return tuple(decoders)


_BAD = object()


def _address_word(word: bytes) -> Any:
    return "0x" + word[12:].hex() if not any(word[:12]) else _BAD


def _bool_word(word: bytes) -> Any:
    value = int.from_bytes(word, "big")
    return bool(value) if value <= 1 else _BAD


def _uint_word(bits: int) -> Any:
    def decode(word: bytes) -> Any:
        value = int.from_bytes(word, "big")
        return value if not value >> bits else _BAD

    return decode


def _decode_static_tuple_array(array_type: str, raw: bytes) -> tuple[tuple[Any, ...], ...] | None:
    decoders = _word_decoders(array_type)
    if decoders is None or len(raw) < 64 or int.from_bytes(raw[:32], "big") != 32:
        return None
    count, width = int.from_bytes(raw[32:64], "big"), 32 * len(decoders)
    if len(raw) != 64 + count * width:
        return None
    out: list[tuple[Any, ...]] = []
    for start in range(64, len(raw), width):
        element = tuple(
            decode(raw[start + 32 * i : start + 32 * i + 32]) for i, decode in enumerate(decoders)
        )
        if _BAD in element:
            return None
        out.append(element)
    return tuple(out)


def _normal(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return value


@cache
def contract_abi(name: str) -> ContractAbi:
    return ContractAbi(load_artefact(name))
