//! Access control: the token endpoint, callers, roles and what role assignments allow.

pub mod callers;
pub mod group_access;
pub mod permissions;
pub mod rbac;
pub mod roles;
pub mod token;
