"""SM3 Merkle trees: RFC 6962 shape, every proof verifies, tampering is caught."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import formats
from certs.errors import MerkleError, MerkleProofInvalid
from certs.merkle import (
    MerkleProof,
    MerkleTree,
    merkle_root,
    proof_from_bytes,
    tree_bytes,
    verify_proof,
)


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def rfc6962_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle Tree Hash with SM3: an independent, recursive definition."""
    if len(leaves) == 1:
        return sm3(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sm3(b"\x01" + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:]))


def leaves_of(n: int) -> list[bytes]:
    return [sm3(i.to_bytes(4, "big")) for i in range(n)]


def test_matches_rfc6962_for_every_size_up_to_70() -> None:
    for n in range(1, 71):
        leaves = leaves_of(n)
        tree = MerkleTree.build(leaves)
        assert tree.root == rfc6962_root(leaves) == merkle_root(leaves)
        assert tree.size == n
        proofs = tree.proofs()
        for i, leaf in enumerate(leaves):
            assert proofs[i] == tree.proof(i)
            verify_proof(leaf, proofs[i], tree.root)


def test_single_leaf_and_empty() -> None:
    leaf = leaves_of(1)[0]
    tree = MerkleTree.build([leaf])
    assert tree.root == sm3(b"\x00" + leaf)
    assert tree.proof(0).steps == ()
    verify_proof(leaf, tree.proof(0), tree.root)
    with pytest.raises(MerkleError) as err:
        MerkleTree.build([])
    assert err.value.code == "merkle_empty"
    with pytest.raises(MerkleError):
        MerkleTree.build([b"short"])
    with pytest.raises(MerkleError):
        tree.proof(1)


def test_no_duplicate_last_node_ambiguity() -> None:
    a, b, c = leaves_of(3)
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])
    assert merkle_root([a, b]) != merkle_root([a, b, b])


def test_inner_node_is_not_a_leaf() -> None:
    a, b, c, d = leaves_of(4)
    tree = MerkleTree.build([a, b, c, d])
    inner = tree.levels[1][0]  # SM3(0x01 || node(a) || node(b))
    with pytest.raises(MerkleProofInvalid):
        verify_proof(inner, MerkleProof(((tree.levels[1][1], False),)), tree.root)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_tampering_is_caught(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    tree = MerkleTree.build(leaves)
    i = data.draw(st.integers(0, n - 1))
    proof = tree.proofs()[i]
    verify_proof(leaves[i], proof, tree.root)
    flip = data.draw(st.integers(0, 255))
    with pytest.raises(MerkleProofInvalid):
        verify_proof(bytes([leaves[i][0] ^ 1]) + leaves[i][1:], proof, tree.root)
    with pytest.raises(MerkleProofInvalid):
        verify_proof(leaves[i], proof, tree.root[:31] + bytes([tree.root[31] ^ 0x80]))
    if proof.steps:
        k = data.draw(st.integers(0, len(proof.steps) - 1))
        sibling, left = proof.steps[k]
        flipped = bytes([sibling[flip % 32] ^ 1])
        bad_sibling = sibling[: flip % 32] + flipped + sibling[flip % 32 + 1 :]
        for bad in ((bad_sibling, left), (sibling, not left)):
            steps = list(proof.steps)
            steps[k] = bad
            with pytest.raises(MerkleProofInvalid):
                verify_proof(leaves[i], MerkleProof(tuple(steps)), tree.root)
        with pytest.raises(MerkleProofInvalid):
            verify_proof(leaves[i], MerkleProof(proof.steps[:-1]), tree.root)
    if n > 1:
        j = (i + 1) % n
        with pytest.raises(MerkleProofInvalid):
            verify_proof(leaves[j], proof, tree.root)


def test_proof_json() -> None:
    leaves = leaves_of(5)
    tree = MerkleTree.build(leaves)
    proof = tree.proof(2)
    encoded = proof.to_json()
    assert all(s[:2] in ("L:", "R:") and len(s) == 66 for s in encoded)
    assert MerkleProof.from_json(encoded) == proof
    for bad in ("x", ["l:" + "00" * 32], ["L:" + "0" * 63], ["L:" + "AB" * 32], [1], ["L:"] * 65):
        with pytest.raises(MerkleProofInvalid) as err:
            MerkleProof.from_json(bad)
        assert err.value.code == "merkle_proof_malformed"


def test_ten_thousand_leaves() -> None:
    leaves = leaves_of(10_000)
    tree = MerkleTree.build(leaves)
    proofs = tree.proofs()
    assert tree.root == rfc6962_root(leaves)
    for i in range(0, 10_000, 101):
        verify_proof(leaves[i], proofs[i], tree.root)
    assert max(len(p.steps) for p in proofs) == 14


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 65, 1000])
def test_proofs_from_the_stored_tree_equal_the_tree_s_own(n: int) -> None:
    """A batch stores its tree once (to_bytes); every proof read back from those bytes is the
    tree's own proof and verifies against the root."""
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(n)]
    tree = MerkleTree.build(leaves)
    stored = tree.to_bytes()
    assert len(stored) == 32 * sum(len(level) for level in tree.levels)
    own = tree.proofs()
    for index in range(n):
        proof = proof_from_bytes(stored, n, index)
        assert proof == own[index] == tree.proof(index)
        verify_proof(leaves[index], proof, tree.root)


def test_a_stored_tree_that_does_not_fit_is_refused() -> None:
    tree = MerkleTree.build([bytes([i]) * 32 for i in range(5)])
    with pytest.raises(MerkleError):
        proof_from_bytes(tree.to_bytes()[:-1], 5, 0)
    with pytest.raises(MerkleError):
        proof_from_bytes(tree.to_bytes(), 6, 0)
    with pytest.raises(MerkleError):
        proof_from_bytes(tree.to_bytes(), 5, 5)


@pytest.mark.parametrize("native", [True, False], ids=["C", "Python"])
def test_tree_bytes_is_the_stored_tree_of_every_size(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batcher's tree (one C call over the concatenated leaves, or the Python tree where
    the extension is not built) is MerkleTree.to_bytes(), node for node; its root is last."""
    if native:
        assert formats._native is not None  # built by make setup / pip install
    else:
        monkeypatch.setattr(formats, "_native", None)
    for n in [*range(1, 70), 1_000, 1_023, 1_025, 10_000]:
        leaves = leaves_of(n)
        stored = tree_bytes(b"".join(leaves))
        assert stored == MerkleTree.build(leaves).to_bytes()
        assert stored[-32:] == rfc6962_root(leaves)
        assert proof_from_bytes(stored, n, n - 1) == MerkleTree.build(leaves).proof(n - 1)
    for wrong in (b"", b"x" * 31, b"x" * 33, b"x" * 65):
        with pytest.raises(MerkleError, match="32-byte leaves"):
            tree_bytes(wrong)
