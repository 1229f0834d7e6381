"""SM3 Merkle trees over certificate leaf digests: batch roots and inclusion proofs.

Tree (specification):

- Inputs are the 32-byte leaf digests of a batch, in batch order (at least one).
- Level 0 nodes: ``SM3(0x00 || leaf)``. Inner nodes: ``SM3(0x01 || left || right)``. The
  one-byte prefixes separate the two domains, so an inner node can never be passed off as a
  leaf (second-preimage attack).
- Each level pairs nodes (0,1), (2,3), …; an odd last node is PROMOTED unchanged to the next
  level, never duplicated. So ``[a, b, c]`` and ``[a, b, c, c]`` have different roots (the
  duplicate-last-node ambiguity of CVE-2012-2459 cannot arise). The root is the single node
  of the top level; a one-leaf tree's root is ``SM3(0x00 || leaf)``.
- This is exactly the Merkle Tree Hash of RFC 6962 §2.1 with SM3 in place of SHA-256 (a test
  checks it against RFC 6962's recursive definition).

Proof: the siblings from the leaf's level-0 node up to the root, each with its side; promoted
levels contribute no step. JSON form: a list of ``"L:<hex>"`` (sibling on the left: node =
``SM3(0x01 || sibling || current)``) and ``"R:<hex>"`` (sibling on the right), lower-case hex,
at most 64 steps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from certs import formats
from certs._sm3 import sm3
from certs.errors import MerkleError, MerkleProofInvalid

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
MAX_PROOF_STEPS = 64
_STEP = re.compile(r"([LR]):([0-9a-f]{64})")

Step = tuple[bytes, bool]
"""One proof step: (sibling node, True when the sibling is on the left)."""


@dataclass(frozen=True, slots=True)
class MerkleProof:
    """Inclusion proof of one leaf: sibling nodes from the bottom up."""

    steps: tuple[Step, ...]

    def to_json(self) -> list[str]:
        """``["L:<hex>", "R:<hex>", …]`` (see the module docstring)."""
        return [("L:" if left else "R:") + sibling.hex() for sibling, left in self.steps]

    @classmethod
    def from_json(cls, obj: Any) -> MerkleProof:
        """Read the JSON form strictly; :class:`MerkleProofInvalid` if it is malformed."""
        if not isinstance(obj, list) or len(obj) > MAX_PROOF_STEPS:
            raise MerkleProofInvalid(
                f"a Merkle proof must be a list of at most {MAX_PROOF_STEPS} steps",
                code="merkle_proof_malformed",
            )
        steps: list[Step] = []
        for i, item in enumerate(obj):
            match = _STEP.fullmatch(item) if isinstance(item, str) else None
            if match is None:
                raise MerkleProofInvalid(
                    f"Merkle proof step {i} must be 'L:' or 'R:' and 64 lower-case hex digits",
                    code="merkle_proof_malformed",
                )
            steps.append((bytes.fromhex(match.group(2)), match.group(1) == "L"))
        return cls(tuple(steps))


def leaf_node(leaf: bytes) -> bytes:
    """A level-0 node: ``SM3(0x00 || leaf)``."""
    return sm3(LEAF_PREFIX + leaf)


def inner_node(left: bytes, right: bytes) -> bytes:
    """An inner node: ``SM3(0x01 || left || right)``."""
    return sm3(NODE_PREFIX + left + right)


@dataclass(frozen=True)
class MerkleTree:
    """A built tree: every level's nodes, level 0 first, the root level last."""

    levels: tuple[tuple[bytes, ...], ...]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build the tree of ``leaves`` (32-byte digests, at least one)."""
        if not leaves:
            raise MerkleError("a Merkle tree needs at least one leaf", code="merkle_empty")
        if any(not isinstance(leaf, bytes) or len(leaf) != 32 for leaf in leaves):
            bad = next(
                i for i, leaf in enumerate(leaves) if not isinstance(leaf, bytes) or len(leaf) != 32
            )
            raise MerkleError(f"leaf {bad} must be a 32-byte digest", code="merkle_bad_leaf")
        level = [leaf_node(leaf) for leaf in leaves]
        levels = [tuple(level)]
        while len(level) > 1:
            nxt = [inner_node(a, b) for a, b in zip(level[0::2], level[1::2], strict=False)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
            levels.append(tuple(level))
        return cls(tuple(levels))

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def proof(self, index: int) -> MerkleProof:
        """The inclusion proof of the leaf at ``index``."""
        if not 0 <= index < self.size:
            raise MerkleError(f"leaf index {index} is outside 0..{self.size - 1}")
        steps: list[Step] = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                steps.append((level[sibling], sibling < index))
            index >>= 1
        return MerkleProof(tuple(steps))

    def to_bytes(self) -> bytes:
        """Every node, level 0 first, 32 bytes each: what a batch stores (see
        :func:`proof_from_bytes`)."""
        return b"".join(b"".join(level) for level in self.levels)

    def proofs(self) -> list[MerkleProof]:
        """Every leaf's proof, in leaf order (built top-down, sharing the upper steps)."""
        above: list[tuple[Step, ...]] = [()]
        for level in reversed(self.levels[:-1]):
            n = len(level)
            current: list[tuple[Step, ...]] = []
            append = current.append
            for j in range(0, n - 1, 2):
                up = above[j >> 1]
                append(((level[j + 1], False),) + up)  # noqa: RUF005 (faster than *up)
                append(((level[j], True),) + up)  # noqa: RUF005
            if n % 2:
                append(above[(n - 1) >> 1])
            above = current
        return [MerkleProof(steps) for steps in above]


def _level_sizes(leaf_count: int) -> list[int]:
    sizes = [leaf_count]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def stored_tree_size(leaf_count: int) -> int:
    """Length of :meth:`MerkleTree.to_bytes` of a ``leaf_count``-leaf tree."""
    return 32 * sum(_level_sizes(leaf_count))


def proof_offsets(leaf_count: int, index: int) -> list[tuple[int, bool]]:
    """Where the proof of leaf ``index`` lies in :meth:`MerkleTree.to_bytes` of a
    ``leaf_count``-leaf tree: (byte offset of the 32-byte sibling, sibling on the left),
    from the bottom up (promoted levels have no sibling). :class:`MerkleError` if ``index``
    is outside the tree."""
    if leaf_count < 1 or not 0 <= index < leaf_count:
        raise MerkleError(f"leaf index {index} is outside 0..{leaf_count - 1}")
    offsets: list[tuple[int, bool]] = []
    offset = 0
    for size in _level_sizes(leaf_count)[:-1]:
        sibling = index ^ 1
        if sibling < size:
            offsets.append((offset + 32 * sibling, sibling < index))
        offset += 32 * size
        index >>= 1
    return offsets


def proof_from_bytes(tree: bytes, leaf_count: int, index: int) -> MerkleProof:
    """The proof of leaf ``index`` from :meth:`MerkleTree.to_bytes` of a ``leaf_count``-leaf
    tree, reading only the sibling nodes; :class:`MerkleError` if the bytes do not fit."""
    offsets = proof_offsets(leaf_count, index)
    if len(tree) != stored_tree_size(leaf_count):
        raise MerkleError(
            f"a stored tree of {leaf_count} leaves has {stored_tree_size(leaf_count)} bytes, "
            f"not {len(tree)}",
            code="merkle_bad_tree",
        )
    return MerkleProof(tuple((tree[at : at + 32], left) for at, left in offsets))


def tree_bytes(leaves: bytes) -> bytes:
    """:meth:`MerkleTree.to_bytes` of the tree of ``leaves``, given as one or more 32-byte
    leaf digests concatenated; its root is the last 32 bytes. The fast path
    :func:`certs.formats.merkle_tree` where :mod:`certs.formats` selects one, the reference
    :class:`MerkleTree` otherwise (a test holds the two equal)."""
    if not leaves or len(leaves) % 32:
        raise MerkleError(
            f"a Merkle tree needs one or more 32-byte leaves, not {len(leaves)} bytes",
            code="merkle_bad_leaf",
        )
    fast = formats.merkle_tree(leaves)
    if fast is not None:
        return fast
    return MerkleTree.build([leaves[i : i + 32] for i in range(0, len(leaves), 32)]).to_bytes()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The root of the tree of ``leaves`` (see :class:`MerkleTree`)."""
    return MerkleTree.build(leaves).root


def verify_proof(leaf: bytes, proof: MerkleProof, root: bytes) -> None:
    """Check that ``proof`` leads from ``leaf`` to ``root``; raise :class:`MerkleProofInvalid`."""
    if not isinstance(leaf, bytes) or len(leaf) != 32:
        raise MerkleProofInvalid("the leaf must be a 32-byte digest")
    if not isinstance(root, bytes) or len(root) != 32:
        raise MerkleProofInvalid("the root must be a 32-byte digest")
    if len(proof.steps) > MAX_PROOF_STEPS:
        raise MerkleProofInvalid(f"a Merkle proof has at most {MAX_PROOF_STEPS} steps")
    node = leaf_node(leaf)
    for sibling, left in proof.steps:
        if len(sibling) != 32:
            raise MerkleProofInvalid("every sibling in a Merkle proof must be 32 bytes")
        node = inner_node(sibling, node) if left else inner_node(node, sibling)
    if node != root:
        raise MerkleProofInvalid(
            "the Merkle proof does not lead from this certificate's leaf to the anchored root"
        )
