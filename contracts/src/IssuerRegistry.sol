// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Roles} from "./Roles.sol";

/// @title IssuerRegistry: who may issue, from which accounts, with which SM2 keys.
/// @notice An issuer is an organisation named by its 18-character USCC (统一社会信用代码),
/// stored as its ASCII bytes left-aligned in a bytes32. A key is named by the SM3 digest of
/// its SM2 public key. Times are Unix seconds; 0 means "not set".
contract IssuerRegistry is Roles {
    enum IssuerStatus {
        None,
        Active,
        Suspended
    }

    struct KeyRecord {
        uint64 validFrom;
        uint64 validUntil; // 0: open-ended
        uint64 compromisedAt; // 0: never reported compromised
        bool exists;
    }

    mapping(bytes32 issuer => IssuerStatus) private _status;
    mapping(address account => bytes32 issuer) private _issuerOf;
    mapping(bytes32 issuer => mapping(bytes32 keyId => KeyRecord)) private _keys;
    mapping(bytes32 issuer => bytes32[]) private _keyIds;

    event IssuerRegistered(bytes32 indexed issuer, string name);
    event IssuerSuspended(bytes32 indexed issuer, string reason);
    event IssuerReinstated(bytes32 indexed issuer);
    event AccountAdded(bytes32 indexed issuer, address indexed account);
    event AccountRemoved(bytes32 indexed issuer, address indexed account);
    /// @dev `publicKey` (the SM2 point whose SM3 digest is `keyId`) is published in the event
    /// only, so anyone can check signatures from the chain alone without storage costs.
    event KeyAdded(
        bytes32 indexed issuer, bytes32 indexed keyId, uint64 validFrom, uint64 validUntil, bytes publicKey
    );
    event KeyRetired(bytes32 indexed issuer, bytes32 indexed keyId, uint64 validUntil);
    event KeyCompromised(bytes32 indexed issuer, bytes32 indexed keyId, uint64 compromisedAt);

    error IssuerAlreadyRegistered(bytes32 issuer);
    error UnknownIssuer(bytes32 issuer);
    error IssuerNotActive(bytes32 issuer);
    error IssuerNotSuspended(bytes32 issuer);
    error AccountTaken(address account, bytes32 issuer);
    error NotIssuerAccount(bytes32 issuer, address account);
    error KeyAlreadyRegistered(bytes32 issuer, bytes32 keyId);
    error UnknownKey(bytes32 issuer, bytes32 keyId);
    error InvalidValidity(uint64 validFrom, uint64 validUntil);
    error KeyAlreadyCompromised(bytes32 issuer, bytes32 keyId);

    constructor(address admin) Roles(admin) {}

    // ---- governance (admin) ----

    function registerIssuer(bytes32 issuer, string calldata name) external onlyRole(ADMIN_ROLE) {
        if (_status[issuer] != IssuerStatus.None) revert IssuerAlreadyRegistered(issuer);
        _status[issuer] = IssuerStatus.Active;
        emit IssuerRegistered(issuer, name);
    }

    function suspendIssuer(bytes32 issuer, string calldata reason) external onlyRole(ADMIN_ROLE) {
        if (_status[issuer] != IssuerStatus.Active) revert IssuerNotActive(issuer);
        _status[issuer] = IssuerStatus.Suspended;
        emit IssuerSuspended(issuer, reason);
    }

    function reinstateIssuer(bytes32 issuer) external onlyRole(ADMIN_ROLE) {
        if (_status[issuer] != IssuerStatus.Suspended) revert IssuerNotSuspended(issuer);
        _status[issuer] = IssuerStatus.Active;
        emit IssuerReinstated(issuer);
    }

    function addAccount(bytes32 issuer, address account) external onlyRole(ADMIN_ROLE) {
        _requireRegistered(issuer);
        if (account == address(0)) revert ZeroAddress();
        bytes32 current = _issuerOf[account];
        if (current != bytes32(0)) revert AccountTaken(account, current);
        _issuerOf[account] = issuer;
        emit AccountAdded(issuer, account);
    }

    function removeAccount(bytes32 issuer, address account) external onlyRole(ADMIN_ROLE) {
        if (_issuerOf[account] != issuer || issuer == bytes32(0)) revert NotIssuerAccount(issuer, account);
        delete _issuerOf[account];
        emit AccountRemoved(issuer, account);
    }

    // ---- keys (admin, or an account of the issuer) ----

    function addKey(
        bytes32 issuer,
        bytes32 keyId,
        uint64 validFrom,
        uint64 validUntil,
        bytes calldata publicKey
    )
        external
        onlyAdminOrAccount(issuer)
    {
        _requireRegistered(issuer);
        if (validUntil != 0 && validUntil <= validFrom) revert InvalidValidity(validFrom, validUntil);
        if (_keys[issuer][keyId].exists) revert KeyAlreadyRegistered(issuer, keyId);
        _keys[issuer][keyId] = KeyRecord(validFrom, validUntil, 0, true);
        _keyIds[issuer].push(keyId);
        emit KeyAdded(issuer, keyId, validFrom, validUntil, publicKey);
    }

    /// @notice End a key's validity (rotation). Signatures made before `validUntil` stay valid.
    function retireKey(bytes32 issuer, bytes32 keyId, uint64 validUntil)
        external
        onlyAdminOrAccount(issuer)
    {
        KeyRecord storage key = _existingKey(issuer, keyId);
        if (validUntil <= key.validFrom || (key.validUntil != 0 && validUntil > key.validUntil)) {
            revert InvalidValidity(key.validFrom, validUntil);
        }
        key.validUntil = validUntil;
        emit KeyRetired(issuer, keyId, validUntil);
    }

    /// @notice Report a key compromised: signatures dated at or after `compromisedAt` are invalid.
    function reportKeyCompromised(bytes32 issuer, bytes32 keyId, uint64 compromisedAt)
        external
        onlyAdminOrAccount(issuer)
    {
        KeyRecord storage key = _existingKey(issuer, keyId);
        if (key.compromisedAt != 0) revert KeyAlreadyCompromised(issuer, keyId);
        key.compromisedAt = compromisedAt;
        emit KeyCompromised(issuer, keyId, compromisedAt);
    }

    // ---- views ----

    function issuerStatus(bytes32 issuer) external view returns (IssuerStatus) {
        return _status[issuer];
    }

    function isActiveIssuer(bytes32 issuer) public view returns (bool) {
        return _status[issuer] == IssuerStatus.Active;
    }

    function isRegistered(bytes32 issuer) public view returns (bool) {
        return _status[issuer] != IssuerStatus.None;
    }

    function issuerOf(address account) public view returns (bytes32) {
        return _issuerOf[account];
    }

    function isIssuerAccount(bytes32 issuer, address account) public view returns (bool) {
        return issuer != bytes32(0) && _issuerOf[account] == issuer;
    }

    function keyRecord(bytes32 issuer, bytes32 keyId) external view returns (KeyRecord memory) {
        return _keys[issuer][keyId];
    }

    function keyIds(bytes32 issuer) external view returns (bytes32[] memory) {
        return _keyIds[issuer];
    }

    /// @notice Was key `keyId` of `issuer` valid for signing at `time`?
    function keyValidAt(bytes32 issuer, bytes32 keyId, uint64 time) external view returns (bool) {
        KeyRecord memory key = _keys[issuer][keyId];
        if (!key.exists || time < key.validFrom) return false;
        if (key.validUntil != 0 && time >= key.validUntil) return false;
        if (key.compromisedAt != 0 && time >= key.compromisedAt) return false;
        return true;
    }

    // ---- internals ----

    modifier onlyAdminOrAccount(bytes32 issuer) {
        if (!hasRole(ADMIN_ROLE, msg.sender) && !isIssuerAccount(issuer, msg.sender)) {
            revert NotIssuerAccount(issuer, msg.sender);
        }
        _;
    }

    function _requireRegistered(bytes32 issuer) private view {
        if (_status[issuer] == IssuerStatus.None) revert UnknownIssuer(issuer);
    }

    function _existingKey(bytes32 issuer, bytes32 keyId) private view returns (KeyRecord storage) {
        KeyRecord storage key = _keys[issuer][keyId];
        if (!key.exists) revert UnknownKey(issuer, keyId);
        return key;
    }
}
