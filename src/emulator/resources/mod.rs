//! One module per ARM resource provider or type the emulator serves.

pub mod assignment_input;
pub mod assignments;
pub mod associated;
pub mod discovery;
pub mod fics;
pub mod generic;
pub mod generic_identity;
pub mod groups;
pub mod hierarchy;
pub mod identities;
pub mod locations;
pub mod locks;
pub mod management_group_children;
pub mod management_groups;
pub mod revoke;
pub mod scopes;
pub mod subscriptions;
pub mod tenant_options;
