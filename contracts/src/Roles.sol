// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles: minimal role-based access control.
/// @notice ADMIN_ROLE holders govern; each role can be granted and revoked by admins only.
abstract contract Roles {
    bytes32 public constant ADMIN_ROLE = keccak256("ADMIN_ROLE");

    mapping(bytes32 role => mapping(address account => bool)) private _members;

    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);

    error MissingRole(bytes32 role, address account);
    error ZeroAddress();
    error LastAdmin();

    uint256 private _adminCount;

    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grant(ADMIN_ROLE, admin);
    }

    modifier onlyRole(bytes32 role) {
        if (!_members[role][msg.sender]) revert MissingRole(role, msg.sender);
        _;
    }

    function hasRole(bytes32 role, address account) public view returns (bool) {
        return _members[role][account];
    }

    function grantRole(bytes32 role, address account) external onlyRole(ADMIN_ROLE) {
        _authorizeRoleChange();
        if (account == address(0)) revert ZeroAddress();
        _grant(role, account);
    }

    /// @notice Revoke a role. The last admin cannot be removed (governance would be lost).
    function revokeRole(bytes32 role, address account) external onlyRole(ADMIN_ROLE) {
        _authorizeRoleChange();
        if (!_members[role][account]) return;
        if (role == ADMIN_ROLE) {
            if (_adminCount == 1) revert LastAdmin();
            _adminCount -= 1;
        }
        _members[role][account] = false;
        emit RoleRevoked(role, account, msg.sender);
    }

    /// @dev A further condition on granting and revoking roles (none here).
    function _authorizeRoleChange() internal view virtual {}

    function _grant(bytes32 role, address account) private {
        if (_members[role][account]) return;
        _members[role][account] = true;
        if (role == ADMIN_ROLE) _adminCount += 1;
        emit RoleGranted(role, account, msg.sender);
    }
}
