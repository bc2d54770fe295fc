//! Access control: the token endpoint, callers, roles, what role assignments allow and what
//! management locks stop.

pub mod callers;
pub mod group_access;
pub mod locked;
pub mod permissions;
pub mod rbac;
pub mod roles;
pub mod token;
