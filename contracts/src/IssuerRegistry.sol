// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Roles} from "./Roles.sol";

/// @title IssuerRegistry: who may issue what, where, from which accounts, with which SM2 keys.
/// @notice An issuer is an organisation named by its 18-character USCC (统一社会信用代码),
/// stored as its ASCII bytes left-aligned in a bytes32. A key is named by the SM3 digest of
/// its SM2 public key. Times are Unix seconds; 0 means "not set".
///
/// The certificate catalogue (证照目录, GB/T 36902): each type is named by its 21-character
/// code (left-aligned ASCII in a bytes32) and carries the SM3 digest of its field schema; its
/// names live in the events. Authorizations: an issuer may issue a type from `validFrom` until
/// `validUntil` (0: open), within a jurisdiction prefix (行政区划 code, at most 6 ASCII digits,
/// left-aligned; 0: anywhere). A grant starts no earlier than the block that makes it (so no
/// admin can bless what was anchored unauthorized). Withdrawing one ends it now: certificates
/// anchored before stay valid. Jurisdictions: an issuer is registered with its jurisdiction
/// code; an admin may be limited to a prefix (a regional admin), and then registers (only
/// organisations whose USCC division code is inside it), governs and authorizes only issuers
/// inside it and cannot touch the catalogue or the roles (the national admin, with no scope,
/// can).
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

    struct TypeRecord {
        uint32 version; // 0: not in the catalogue
        uint64 withdrawnAt; // 0: not withdrawn
        bytes32 schemaDigest;
    }

    struct Grant {
        uint64 validFrom;
        uint64 validUntil; // 0: open-ended
        bytes32 jurisdiction; // 0: anywhere
    }

    /// @notice The latest time accepted anywhere: 9999-12-31T23:59:59Z. Later values would
    /// not fit a signed 64-bit integer (SQL databases) or a calendar date (readers).
    uint64 public constant MAX_TIME = 253402300799;

    mapping(bytes32 issuer => IssuerStatus) private _status;
    mapping(bytes32 issuer => bytes32 jurisdiction) private _jurisdictionOf;
    mapping(address admin => bytes32 prefix) private _adminScope;
    mapping(bytes32 typeCode => TypeRecord) private _types;
    mapping(bytes32 issuer => mapping(bytes32 typeCode => Grant[])) private _grants;
    mapping(address account => bytes32 issuer) private _issuerOf;
    mapping(bytes32 issuer => mapping(bytes32 keyId => KeyRecord)) private _keys;
    mapping(bytes32 issuer => bytes32[]) private _keyIds;

    event IssuerRegistered(bytes32 indexed issuer, string name, bytes32 jurisdiction);
    event AdminScopeSet(address indexed admin, bytes32 prefix);
    event TypeAdded(
        bytes32 indexed typeCode, uint32 version, string name, string definingBody, bytes32 schemaDigest
    );
    event TypeRevised(
        bytes32 indexed typeCode, uint32 version, string name, string definingBody, bytes32 schemaDigest
    );
    event TypeWithdrawn(bytes32 indexed typeCode, uint64 withdrawnAt);
    event IssuerAuthorized(
        bytes32 indexed issuer,
        bytes32 indexed typeCode,
        uint256 grant,
        uint64 validFrom,
        uint64 validUntil,
        bytes32 jurisdiction
    );
    event IssuerDeauthorized(bytes32 indexed issuer, bytes32 indexed typeCode, uint64 validUntil);
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
    error OutsideScope(address admin, bytes32 scope, bytes32 jurisdiction);
    error NationalAdminOnly(address admin);
    error TypeExists(bytes32 typeCode);
    error UnknownType(bytes32 typeCode);
    error TypeIsWithdrawn(bytes32 typeCode);
    error NotAuthorized(bytes32 issuer, bytes32 typeCode);
    error InvalidPlace(bytes32 place);

    constructor(address admin) Roles(admin) {}

    // ---- governance (admin) ----

    /// @notice Register an issuer in `jurisdiction` (its 行政区划 code; 0 for a national body,
    /// which only the national admin may register).
    function registerIssuer(bytes32 issuer, string calldata name, bytes32 jurisdiction)
        external
        onlyRole(ADMIN_ROLE)
    {
        _requirePlace(jurisdiction);
        _requireScope(jurisdiction);
        // a regional admin registers only organisations registered in its region: the
        // USCC's characters 3-8 are the division code of the authority that registered it
        _requireScope(bytes32(uint256(issuer) << 16) & bytes32(uint256(type(uint48).max) << 208));
        if (_status[issuer] != IssuerStatus.None) revert IssuerAlreadyRegistered(issuer);
        _status[issuer] = IssuerStatus.Active;
        _jurisdictionOf[issuer] = jurisdiction;
        emit IssuerRegistered(issuer, name, jurisdiction);
    }

    function suspendIssuer(bytes32 issuer, string calldata reason) external onlyRole(ADMIN_ROLE) {
        _requireScope(_jurisdictionOf[issuer]);
        if (_status[issuer] != IssuerStatus.Active) revert IssuerNotActive(issuer);
        _status[issuer] = IssuerStatus.Suspended;
        emit IssuerSuspended(issuer, reason);
    }

    function reinstateIssuer(bytes32 issuer) external onlyRole(ADMIN_ROLE) {
        _requireScope(_jurisdictionOf[issuer]);
        if (_status[issuer] != IssuerStatus.Suspended) revert IssuerNotSuspended(issuer);
        _status[issuer] = IssuerStatus.Active;
        emit IssuerReinstated(issuer);
    }

    /// @notice Limit an admin to a jurisdiction prefix (0: national, unlimited).
    function setAdminScope(address admin, bytes32 prefix) external onlyRole(ADMIN_ROLE) {
        _requireNational();
        _requirePlace(prefix);
        _adminScope[admin] = prefix;
        emit AdminScopeSet(admin, prefix);
    }

    function addAccount(bytes32 issuer, address account) external onlyRole(ADMIN_ROLE) {
        _requireRegistered(issuer);
        _requireScope(_jurisdictionOf[issuer]);
        if (account == address(0)) revert ZeroAddress();
        bytes32 current = _issuerOf[account];
        if (current != bytes32(0)) revert AccountTaken(account, current);
        _issuerOf[account] = issuer;
        emit AccountAdded(issuer, account);
    }

    function removeAccount(bytes32 issuer, address account) external onlyRole(ADMIN_ROLE) {
        if (_issuerOf[account] != issuer || issuer == bytes32(0)) revert NotIssuerAccount(issuer, account);
        _requireScope(_jurisdictionOf[issuer]);
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
        _requireWindow(validFrom, validUntil);
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
        if (
            validUntil <= key.validFrom || validUntil > MAX_TIME
                || (key.validUntil != 0 && validUntil > key.validUntil)
        ) {
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
        // 0 means "never reported": a report for all time is made with 1
        if (compromisedAt == 0 || compromisedAt > MAX_TIME) revert InvalidValidity(compromisedAt, 0);
        key.compromisedAt = compromisedAt;
        emit KeyCompromised(issuer, keyId, compromisedAt);
    }

    // ---- the catalogue (national admin) ----

    function addType(
        bytes32 typeCode,
        string calldata name,
        string calldata definingBody,
        bytes32 schemaDigest
    )
        external
        onlyRole(ADMIN_ROLE)
    {
        _requireNational();
        if (_types[typeCode].version != 0) revert TypeExists(typeCode);
        _types[typeCode] = TypeRecord(1, 0, schemaDigest);
        emit TypeAdded(typeCode, 1, name, definingBody, schemaDigest);
    }

    /// @notice A new version of a type's names or schema; certificates keep their type code.
    function reviseType(
        bytes32 typeCode,
        string calldata name,
        string calldata definingBody,
        bytes32 schemaDigest
    )
        external
        onlyRole(ADMIN_ROLE)
    {
        _requireNational();
        TypeRecord storage t = _currentType(typeCode);
        t.version += 1;
        t.schemaDigest = schemaDigest;
        emit TypeRevised(typeCode, t.version, name, definingBody, schemaDigest);
    }

    /// @notice No certificate of this type anchored from now on is valid.
    function withdrawType(bytes32 typeCode) external onlyRole(ADMIN_ROLE) {
        _requireNational();
        TypeRecord storage t = _currentType(typeCode);
        t.withdrawnAt = uint64(block.timestamp);
        emit TypeWithdrawn(typeCode, t.withdrawnAt);
    }

    // ---- authorizations (admin, within its scope) ----

    function authorize(
        bytes32 issuer,
        bytes32 typeCode,
        uint64 validFrom,
        uint64 validUntil,
        bytes32 jurisdiction
    )
        external
        onlyRole(ADMIN_ROLE)
    {
        _requireRegistered(issuer);
        _requireScope(_jurisdictionOf[issuer]);
        _requirePlace(jurisdiction);
        _requireScope(jurisdiction);
        _currentType(typeCode);
        // a grant never reaches back before it was made: what was anchored without
        // authorization stays unauthorized, whoever grants later
        if (validFrom < block.timestamp) validFrom = uint64(block.timestamp);
        _requireWindow(validFrom, validUntil);
        Grant[] storage list = _grants[issuer][typeCode];
        list.push(Grant(validFrom, validUntil, jurisdiction));
        emit IssuerAuthorized(issuer, typeCode, list.length - 1, validFrom, validUntil, jurisdiction);
    }

    /// @notice End every authorization of `issuer` for `typeCode` now; certificates anchored
    /// before stay valid.
    function deauthorize(bytes32 issuer, bytes32 typeCode) external onlyRole(ADMIN_ROLE) {
        _requireScope(_jurisdictionOf[issuer]);
        Grant[] storage list = _grants[issuer][typeCode];
        uint64 nowTime = uint64(block.timestamp);
        bool ended = false;
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i].validUntil == 0 || list[i].validUntil > nowTime) {
                // it ends now; one not yet begun becomes empty ([now, now) covers no time)
                if (list[i].validFrom > nowTime) list[i].validFrom = nowTime;
                list[i].validUntil = nowTime;
                ended = true;
            }
        }
        if (!ended) revert NotAuthorized(issuer, typeCode);
        emit IssuerDeauthorized(issuer, typeCode, nowTime);
    }

    // ---- views ----

    /// @notice Is `admin` an admin whose scope covers `issuer`'s jurisdiction?
    function mayGovern(address admin, bytes32 issuer) public view returns (bool) {
        if (!hasRole(ADMIN_ROLE, admin)) return false;
        bytes32 scope = _adminScope[admin];
        bytes32 place = _jurisdictionOf[issuer];
        return scope == bytes32(0) || (place != bytes32(0) && _hasPrefix(place, scope));
    }

    function jurisdictionOf(bytes32 issuer) external view returns (bytes32) {
        return _jurisdictionOf[issuer];
    }

    function adminScope(address admin) external view returns (bytes32) {
        return _adminScope[admin];
    }

    function typeRecord(bytes32 typeCode) external view returns (TypeRecord memory) {
        return _types[typeCode];
    }

    function grants(bytes32 issuer, bytes32 typeCode) external view returns (Grant[] memory) {
        return _grants[issuer][typeCode];
    }

    /// @notice Could `issuer` issue a certificate of `typeCode` for `jurisdiction` at `time`:
    /// the type in the catalogue and not yet withdrawn, and a grant covering the time whose
    /// jurisdiction prefix covers the certificate's?
    function authorizedAt(bytes32 issuer, bytes32 typeCode, uint64 time, bytes32 jurisdiction)
        external
        view
        returns (bool)
    {
        TypeRecord memory t = _types[typeCode];
        if (t.version == 0 || (t.withdrawnAt != 0 && time >= t.withdrawnAt)) return false;
        Grant[] storage list = _grants[issuer][typeCode];
        for (uint256 i = 0; i < list.length; i++) {
            Grant memory g = list[i];
            if (time < g.validFrom || (g.validUntil != 0 && time >= g.validUntil)) continue;
            if (_hasPrefix(jurisdiction, g.jurisdiction)) return true;
        }
        return false;
    }

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
        if (!isIssuerAccount(issuer, msg.sender) && !mayGovern(msg.sender, issuer)) {
            revert NotIssuerAccount(issuer, msg.sender);
        }
        _;
    }

    /// @dev Only the national admin grants and revokes roles (a regional admin could
    /// otherwise make an unlimited one).
    function _authorizeRoleChange() internal view override {
        _requireNational();
    }

    /// @dev The caller's scope covers `jurisdiction` (a national admin covers everything; a
    /// regional one only codes under its prefix, never 0).
    function _requireScope(bytes32 jurisdiction) private view {
        bytes32 scope = _adminScope[msg.sender];
        if (scope == bytes32(0)) return;
        if (jurisdiction == bytes32(0) || !_hasPrefix(jurisdiction, scope)) {
            revert OutsideScope(msg.sender, scope, jurisdiction);
        }
    }

    function _requireNational() private view {
        if (_adminScope[msg.sender] != bytes32(0)) revert NationalAdminOnly(msg.sender);
    }

    /// @dev `[validFrom, validUntil)` is a window of real times (`validUntil` 0: open).
    function _requireWindow(uint64 validFrom, uint64 validUntil) private pure {
        if (validFrom > MAX_TIME || validUntil > MAX_TIME || (validUntil != 0 && validUntil <= validFrom)) {
            revert InvalidValidity(validFrom, validUntil);
        }
    }

    function _currentType(bytes32 typeCode) private view returns (TypeRecord storage) {
        TypeRecord storage t = _types[typeCode];
        if (t.version == 0) revert UnknownType(typeCode);
        if (t.withdrawnAt != 0) revert TypeIsWithdrawn(typeCode);
        return t;
    }

    /// @dev Does `value` start with `prefix` (both ASCII, left-aligned, zero-padded)?
    /// @dev A division code or prefix: at most 6 ASCII digits, left-aligned, zero after.
    function _requirePlace(bytes32 place) private pure {
        bool ended = false;
        for (uint256 i = 0; i < 32; i++) {
            bytes1 c = place[i];
            if (c == 0) {
                ended = true;
            } else if (ended || i >= 6 || c < 0x30 || c > 0x39) {
                revert InvalidPlace(place);
            }
        }
    }

    function _hasPrefix(bytes32 value, bytes32 prefix) private pure returns (bool) {
        for (uint256 i = 0; i < 32; i++) {
            if (prefix[i] == 0) return true;
            if (value[i] != prefix[i]) return false;
        }
        return true;
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
