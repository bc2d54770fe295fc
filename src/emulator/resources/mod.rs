//! One module per ARM resource provider or type the emulator serves.

pub mod assignment_input;
pub mod assignments;
pub mod associated;
pub mod discovery;
pub mod fics;
pub mod generic;
pub mod generic_identity;
pub mod groups;
pub mod identities;
pub mod locations;
pub mod locks;
pub mod revoke;
pub mod subscriptions;
