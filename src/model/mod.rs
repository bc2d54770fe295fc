//! Serde-only JSON shapes shared by the emulator and the client: the wire contract.
//! No behaviour lives here; validation and rendering rules belong to their users.

mod error;
mod group;
mod identity;
mod lock;
mod page;
mod permission;
mod relations;
mod subscription;

pub use error::{ErrorBody, ErrorResponse};
pub use group::{ResourceGroup, ResourceGroupProperties};
pub use identity::{AssignmentRestrictions, Identity, IdentityProperties};
pub use lock::{LockOwner, LockProperties, ManagementLock};
pub use page::Page;
pub use permission::Permission;
pub use relations::{
    AssociatedResource, AssociatedResources, FederatedCredential, FederatedCredentialProperties,
    GenericResource, ResourceIdentity, RoleAssignment, RoleAssignmentProperties,
};
pub use subscription::{Subscription, SubscriptionPolicies};
