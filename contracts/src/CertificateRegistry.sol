// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IssuerRegistry} from "./IssuerRegistry.sol";

/// @title CertificateRegistry: batch roots, certificate status, supersede links, document anchors.
/// @notice Holds hashes only, never personal data. A batch root is the SM3 Merkle root of the
/// leaf digests of the certificates of one issuance batch. The status of a certificate is kept
/// per issuer and leaf digest: only that issuer's accounts (or an admin) can change it, so no
/// other party can touch the status that a verifier reads for the issuer's certificates.
/// Every change emits an indexed event, so history can be rebuilt from events alone.
contract CertificateRegistry {
    enum Status {
        Active,
        Revoked,
        Suspended,
        Superseded
    }

    struct Anchor {
        bytes32 issuer;
        address by;
        uint32 leafCount;
        uint64 timestamp;
        uint64 blockNumber;
    }

    struct LeafStatus {
        Status status;
        uint16 reason;
        uint64 blockNumber; // block of the last change; 0 if never changed
        uint64 timestamp;
        bytes32 supersededBy;
    }

    IssuerRegistry public immutable issuers;

    mapping(bytes32 root => Anchor) private _anchors;
    mapping(bytes32 issuer => mapping(bytes32 leaf => LeafStatus)) private _leaves;
    mapping(bytes32 digest => Anchor) private _documents;

    event RootAnchored(bytes32 indexed root, bytes32 indexed issuer, uint32 leafCount, address by);
    event StatusChanged(
        bytes32 indexed issuer, bytes32 indexed leaf, Status status, uint16 reason, address by
    );
    event Superseded(
        bytes32 indexed issuer, bytes32 indexed oldLeaf, bytes32 indexed newLeaf, uint16 reason, address by
    );
    event DocumentAnchored(bytes32 indexed digest, bytes32 indexed issuer, address by);

    error NotIssuerAccount(bytes32 issuer, address account);
    error IssuerNotActive(bytes32 issuer);
    error UnknownIssuer(bytes32 issuer);
    error RootAlreadyAnchored(bytes32 root);
    error EmptyBatch();
    error DocumentAlreadyAnchored(bytes32 digest);
    error AlreadyRevoked(bytes32 leaf);
    error AlreadySuperseded(bytes32 leaf);
    error AlreadySuspended(bytes32 leaf);
    error NotSuspended(bytes32 leaf);
    error SelfSupersede(bytes32 leaf);
    error ZeroDigest();
    error LengthMismatch();

    constructor(IssuerRegistry issuerRegistry) {
        issuers = issuerRegistry;
    }

    // ---- anchoring (an account of an active issuer) ----

    function anchor(bytes32 issuer, bytes32 root, uint32 leafCount) external {
        _requireActiveAccount(issuer);
        if (root == bytes32(0)) revert ZeroDigest();
        if (leafCount == 0) revert EmptyBatch();
        if (_anchors[root].blockNumber != 0) revert RootAlreadyAnchored(root);
        _anchors[root] = Anchor(issuer, msg.sender, leafCount, uint64(block.timestamp), uint64(block.number));
        emit RootAnchored(root, issuer, leafCount, msg.sender);
    }

    function anchorDocument(bytes32 issuer, bytes32 digest) external {
        _requireActiveAccount(issuer);
        if (digest == bytes32(0)) revert ZeroDigest();
        if (_documents[digest].blockNumber != 0) revert DocumentAlreadyAnchored(digest);
        _documents[digest] = Anchor(issuer, msg.sender, 1, uint64(block.timestamp), uint64(block.number));
        emit DocumentAnchored(digest, issuer, msg.sender);
    }

    // ---- status (an account of the issuer, or an admin) ----

    function revoke(bytes32 issuer, bytes32 leaf, uint16 reason) external {
        _requireStatusAuthority(issuer);
        _revoke(issuer, leaf, reason);
    }

    function suspend(bytes32 issuer, bytes32 leaf, uint16 reason) external {
        _requireStatusAuthority(issuer);
        _suspend(issuer, leaf, reason);
    }

    function reinstate(bytes32 issuer, bytes32 leaf, uint16 reason) external {
        _requireStatusAuthority(issuer);
        _reinstate(issuer, leaf, reason);
    }

    function revokeMany(bytes32 issuer, bytes32[] calldata leaves, uint16 reason) external {
        _requireStatusAuthority(issuer);
        for (uint256 i = 0; i < leaves.length; ++i) _revoke(issuer, leaves[i], reason);
    }

    function suspendMany(bytes32 issuer, bytes32[] calldata leaves, uint16 reason) external {
        _requireStatusAuthority(issuer);
        for (uint256 i = 0; i < leaves.length; ++i) _suspend(issuer, leaves[i], reason);
    }

    function reinstateMany(bytes32 issuer, bytes32[] calldata leaves, uint16 reason) external {
        _requireStatusAuthority(issuer);
        for (uint256 i = 0; i < leaves.length; ++i) _reinstate(issuer, leaves[i], reason);
    }

    /// @notice Record that certificate `newLeaf` replaces `oldLeaf` (re-issue). Final, like a revocation.
    function supersede(bytes32 issuer, bytes32 oldLeaf, bytes32 newLeaf, uint16 reason) external {
        _requireStatusAuthority(issuer);
        if (newLeaf == bytes32(0)) revert ZeroDigest();
        if (newLeaf == oldLeaf) revert SelfSupersede(oldLeaf);
        LeafStatus storage s = _final(issuer, oldLeaf);
        s.status = Status.Superseded;
        s.reason = reason;
        s.supersededBy = newLeaf;
        _stamp(s);
        emit Superseded(issuer, oldLeaf, newLeaf, reason, msg.sender);
    }

    // ---- views ----

    function anchorOf(bytes32 root) external view returns (Anchor memory) {
        return _anchors[root];
    }

    function documentOf(bytes32 digest) external view returns (Anchor memory) {
        return _documents[digest];
    }

    function statusOf(bytes32 issuer, bytes32 leaf) external view returns (LeafStatus memory) {
        return _leaves[issuer][leaf];
    }

    /// @notice Many statuses in one call (verifiers and indexers read thousands at a time).
    function statusesOf(bytes32[] calldata issuerOfLeaf, bytes32[] calldata leaves)
        external
        view
        returns (LeafStatus[] memory out)
    {
        if (issuerOfLeaf.length != leaves.length) revert LengthMismatch();
        out = new LeafStatus[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) out[i] = _leaves[issuerOfLeaf[i]][leaves[i]];
    }

    /// @notice Many anchors in one call.
    function anchorsOf(bytes32[] calldata roots) external view returns (Anchor[] memory out) {
        out = new Anchor[](roots.length);
        for (uint256 i = 0; i < roots.length; ++i) out[i] = _anchors[roots[i]];
    }

    // ---- internals ----

    function _revoke(bytes32 issuer, bytes32 leaf, uint16 reason) private {
        LeafStatus storage s = _final(issuer, leaf);
        s.status = Status.Revoked;
        s.reason = reason;
        _stamp(s);
        emit StatusChanged(issuer, leaf, Status.Revoked, reason, msg.sender);
    }

    function _suspend(bytes32 issuer, bytes32 leaf, uint16 reason) private {
        LeafStatus storage s = _final(issuer, leaf);
        if (s.status == Status.Suspended) revert AlreadySuspended(leaf);
        s.status = Status.Suspended;
        s.reason = reason;
        _stamp(s);
        emit StatusChanged(issuer, leaf, Status.Suspended, reason, msg.sender);
    }

    function _reinstate(bytes32 issuer, bytes32 leaf, uint16 reason) private {
        LeafStatus storage s = _leaves[issuer][leaf];
        if (s.status != Status.Suspended) revert NotSuspended(leaf);
        s.status = Status.Active;
        s.reason = reason;
        _stamp(s);
        emit StatusChanged(issuer, leaf, Status.Active, reason, msg.sender);
    }

    /// @dev The leaf's record, after checking that its status is not final.
    function _final(bytes32 issuer, bytes32 leaf) private view returns (LeafStatus storage s) {
        if (leaf == bytes32(0)) revert ZeroDigest();
        s = _leaves[issuer][leaf];
        if (s.status == Status.Revoked) revert AlreadyRevoked(leaf);
        if (s.status == Status.Superseded) revert AlreadySuperseded(leaf);
    }

    function _stamp(LeafStatus storage s) private {
        s.blockNumber = uint64(block.number);
        s.timestamp = uint64(block.timestamp);
    }

    function _requireActiveAccount(bytes32 issuer) private view {
        if (!issuers.isIssuerAccount(issuer, msg.sender)) revert NotIssuerAccount(issuer, msg.sender);
        if (!issuers.isActiveIssuer(issuer)) revert IssuerNotActive(issuer);
    }

    function _requireStatusAuthority(bytes32 issuer) private view {
        if (issuers.isIssuerAccount(issuer, msg.sender)) return;
        if (issuers.mayGovern(msg.sender, issuer)) {  // an admin whose scope covers the issuer
            if (!issuers.isRegistered(issuer)) revert UnknownIssuer(issuer);
            return;
        }
        revert NotIssuerAccount(issuer, msg.sender);
    }
}
