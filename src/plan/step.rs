//! One step of a plan file: what it does (`Op`, with everything needed to send it), the
//! resource it targets, and the fingerprint of what the plan relied on about that resource.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a step sends. Each variant carries the whole request, so that apply needs nothing
/// but the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// PUT an identity (create, or replace its tags and isolation scope).
    IdentityPut {
        /// Region; `None` takes the group's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
        /// The tags it will have.
        tags: BTreeMap<String, String>,
        /// `None` or `Regional`, when given.
        #[serde(
            default,
            rename = "isolationScope",
            skip_serializing_if = "Option::is_none"
        )]
        isolation_scope: Option<String>,
    },
    /// PATCH an identity's tags to exactly these.
    IdentityTags {
        /// The tags it will have.
        tags: BTreeMap<String, String>,
    },
    /// Revoke the tokens issued to an identity.
    IdentityRevoke,
    /// DELETE an identity.
    IdentityDelete,
    /// Remove `identity` from the target resource's identity block.
    Detach {
        /// The identity's resource id.
        identity: String,
    },
    /// DELETE the target role assignment (prepares the delete of `identity`).
    Unassign {
        /// The identity whose assignment it is.
        identity: String,
    },
    /// Assign a role to an identity's principal at a scope (the target names it).
    RoleAssign {
        /// The identity.
        identity: String,
        /// The role definition id.
        #[serde(rename = "roleDefinitionId")]
        role_definition_id: String,
        /// Where.
        scope: String,
    },
    /// PUT a federated credential (the target is its id).
    CredentialPut {
        /// Token issuer.
        issuer: String,
        /// Subject.
        subject: String,
        /// Audiences.
        audiences: Vec<String>,
    },
    /// DELETE a federated credential.
    CredentialDelete,
    /// PUT a resource group.
    GroupPut {
        /// Region.
        location: String,
        /// Tags.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        tags: BTreeMap<String, String>,
    },
    /// DELETE a resource group (and everything in it).
    GroupDelete,
    /// Goes away with the delete of `group`; sends nothing of its own.
    WithGroup {
        /// The group's id.
        group: String,
    },
}

impl Op {
    /// The identity whose delete this step prepares, if any.
    pub fn prepares(&self) -> Option<&str> {
        match self {
            Op::Detach { identity } | Op::Unassign { identity } => Some(identity),
            _ => None,
        }
    }

    /// The wave a step runs in: groups first, then identities and what hangs on them, then
    /// what prepares deletes, the deletes, and group deletes last.
    pub fn wave(&self) -> u8 {
        match self {
            Op::GroupPut { .. } => 0,
            Op::IdentityPut { .. } | Op::IdentityTags { .. } | Op::IdentityRevoke => 1,
            Op::CredentialPut { .. } | Op::RoleAssign { .. } => 2,
            Op::Detach { .. } | Op::Unassign { .. } | Op::CredentialDelete => 3,
            Op::IdentityDelete => 4,
            Op::GroupDelete | Op::WithGroup { .. } => 5,
        }
    }
}

/// What the plan relied on about the target when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fingerprint {
    /// It did not exist.
    Absent,
    /// It existed; nothing more was relied on.
    Exists,
    /// An identity as it was.
    Identity {
        /// Its principal (object) id: a new one means it was deleted and recreated.
        #[serde(rename = "principalId")]
        principal_id: String,
        /// Its client (application) id.
        #[serde(rename = "clientId")]
        client_id: String,
        /// Its tags.
        tags: BTreeMap<String, String>,
        /// The resources it was attached to, when the plan checked (a delete).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attached: Option<Vec<String>>,
    },
    /// A resource's identity block as it was (what a detach changes).
    IdentityBlock {
        /// `type`: SystemAssigned, UserAssigned, both, or None.
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
        /// The user-assigned identities, lower-cased and sorted.
        #[serde(rename = "userAssigned")]
        user_assigned: Vec<String>,
    },
    /// A federated credential as it was.
    Credential {
        /// Issuer.
        issuer: String,
        /// Subject.
        subject: String,
        /// Audiences.
        audiences: Vec<String>,
    },
}

impl Fingerprint {
    /// The fingerprint of an identity read from ARM.
    pub fn of_identity(identity: &crate::model::Identity, attached: Option<Vec<String>>) -> Self {
        Fingerprint::Identity {
            principal_id: identity.properties.principal_id.clone(),
            client_id: identity.properties.client_id.clone(),
            tags: identity.tags.clone(),
            attached: attached.map(|mut a| {
                a.iter_mut().for_each(|r| *r = r.to_lowercase());
                a.sort();
                a
            }),
        }
    }

    /// The fingerprint of a resource's identity block.
    pub fn of_block(identity: Option<&crate::model::ResourceIdentity>) -> Self {
        let mut user_assigned: Vec<String> = identity
            .and_then(|i| i.user_assigned.as_ref())
            .map(|m| m.keys().map(|k| k.to_lowercase()).collect())
            .unwrap_or_default();
        user_assigned.sort();
        Fingerprint::IdentityBlock {
            kind: identity.and_then(|i| i.kind.clone()),
            user_assigned,
        }
    }
}

/// Why a step is expected to fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WouldFail {
    /// The ARM error code it would get (AuthorizationFailed, ScopeLocked).
    pub code: String,
    /// What the plan found.
    pub message: String,
}

/// What would happen to one resource: `+`, `~` or `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new resource.
    Create,
    /// An existing resource changes.
    Update,
    /// A resource goes away.
    Delete,
}

impl Change {
    /// The mark and verb of a plan line.
    pub fn mark(self) -> (char, &'static str) {
        match self {
            Change::Create => ('+', "create"),
            Change::Update => ('~', "update"),
            Change::Delete => ('-', "delete"),
        }
    }
}

/// One step of a plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Its position in the file, from 0.
    pub index: usize,
    /// `create`, `update` or `delete`.
    pub change: Change,
    /// The resource id.
    pub target: String,
    /// What is sent.
    #[serde(flatten)]
    pub op: Op,
    /// What the plan relied on about the target.
    pub fingerprint: Fingerprint,
    /// The lines shown under it (tag diff, detached identity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// Set when the plan found it would be refused.
    #[serde(default, rename = "wouldFail", skip_serializing_if = "Option::is_none")]
    pub would_fail: Option<WouldFail>,
    /// The index of the delete this step prepares (a detach or an unassign).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepares: Option<usize>,
}
