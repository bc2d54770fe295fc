//! The built-in roles the emulator can grant, with the actions and notActions of
//! Azure's built-in roles reference, and ARM's matching of action strings with `*` wildcards.
//! The client keeps its own matcher (`arm::permissions`) on purpose, so each checks the other.

use std::str::FromStr;

use crate::model::Permission;

/// The action that reads resource groups (also what listing them needs).
pub const GROUP_READ: &str = "Microsoft.Resources/subscriptions/resourceGroups/read";

/// A built-in Azure role the emulator can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Owner (`*`).
    Owner,
    /// Contributor (`*` but role assignments and a few other operations).
    Contributor,
    /// Reader (`*/read`).
    Reader,
    /// Managed Identity Contributor: create, read, update and delete user-assigned identities.
    ManagedIdentityContributor,
    /// Managed Identity Operator: read and assign user-assigned identities.
    ManagedIdentityOperator,
    /// User Access Administrator: read everything, manage `Microsoft.Authorization` (role
    /// assignments and locks).
    UserAccessAdministrator,
}

/// A role's name, its `--caller` spelling, and its permissions.
struct Definition {
    name: &'static str,
    flag: &'static str,
    actions: &'static [&'static str],
    not_actions: &'static [&'static str],
}

// The definitions as Azure's built-in roles reference lists them (MicrosoftDocs/azure-docs,
// articles/role-based-access-control/built-in-roles/{privileged,general,identity}.md, 2026).
const OWNER: Definition = Definition {
    name: "Owner",
    flag: "owner",
    actions: &["*"],
    not_actions: &[],
};
const CONTRIBUTOR: Definition = Definition {
    name: "Contributor",
    flag: "contributor",
    actions: &["*"],
    not_actions: &[
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
        "Microsoft.Purview/consents/write",
        "Microsoft.Purview/consents/delete",
        "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
        "Microsoft.Subscription/cancel/action",
        "Microsoft.Subscription/enable/action",
    ],
};
const READER: Definition = Definition {
    name: "Reader",
    flag: "reader",
    actions: &["*/read"],
    not_actions: &[],
};
const MI_CONTRIBUTOR: Definition = Definition {
    name: "Managed Identity Contributor",
    flag: "managed-identity-contributor",
    actions: &[
        "Microsoft.ManagedIdentity/userAssignedIdentities/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/write",
        "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
        "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action",
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Support/*",
    ],
    not_actions: &[],
};
const MI_OPERATOR: Definition = Definition {
    name: "Managed Identity Operator",
    flag: "managed-identity-operator",
    actions: &[
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Support/*",
    ],
    not_actions: &[],
};

const USER_ACCESS_ADMINISTRATOR: Definition = Definition {
    name: "User Access Administrator",
    flag: "user-access-administrator",
    actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
    not_actions: &[],
};

impl Role {
    /// Every role, in the order the help lists them.
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Contributor,
        Role::Reader,
        Role::ManagedIdentityContributor,
        Role::ManagedIdentityOperator,
        Role::UserAccessAdministrator,
    ];

    fn definition(self) -> &'static Definition {
        match self {
            Role::Owner => &OWNER,
            Role::Contributor => &CONTRIBUTOR,
            Role::Reader => &READER,
            Role::ManagedIdentityContributor => &MI_CONTRIBUTOR,
            Role::ManagedIdentityOperator => &MI_OPERATOR,
            Role::UserAccessAdministrator => &USER_ACCESS_ADMINISTRATOR,
        }
    }

    /// Azure's name, e.g. `Managed Identity Operator`.
    pub fn name(self) -> &'static str {
        self.definition().name
    }

    /// The spelling `--caller` takes, e.g. `managed-identity-operator`.
    pub fn flag(self) -> &'static str {
        self.definition().flag
    }

    /// The role's permissions as the permissions API lists them.
    pub fn permission(self) -> Permission {
        let d = self.definition();
        Permission {
            actions: d.actions.iter().map(|a| a.to_string()).collect(),
            not_actions: d.not_actions.iter().map(|a| a.to_string()).collect(),
            data_actions: Vec::new(),
            not_data_actions: Vec::new(),
        }
    }

    /// Whether the role grants `action`: one of its actions matches and none of its notActions.
    pub fn allows(self, action: &str) -> bool {
        let d = self.definition();
        d.actions.iter().any(|p| action_matches(p, action))
            && !d.not_actions.iter().any(|p| action_matches(p, action))
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.flag().eq_ignore_ascii_case(s) || r.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.flag()).collect();
                format!("unknown role '{s}': the roles are {}", known.join(", "))
            })
    }
}

/// Whether an action pattern of a role (`*` wildcards) covers an action, case-insensitively.
/// `*` matches any run of characters, `/` included; a `*` that is a whole segment
/// (`.../*/read`) also matches no segment at all, which is how Managed Identity Operator's
/// `userAssignedIdentities/*/read` and `*/assign/action` cover `userAssignedIdentities/read`
/// and `userAssignedIdentities/assign/action` (the role exists to read and assign).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let a: Vec<char> = action.to_lowercase().chars().collect();
    glob(&p, &a)
}

fn glob(p: &[char], a: &[char]) -> bool {
    match p.first() {
        None => a.is_empty(),
        Some('/') if p.get(1) == Some(&'*') && p.get(2) == Some(&'/') && glob(&p[2..], a) => true,
        Some('*') => (0..=a.len()).any(|skip| glob(&p[1..], &a[skip..])),
        Some(c) => a.first() == Some(c) && glob(&p[1..], &a[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_in_arm_action_strings() {
        let cases = [
            (
                "*",
                "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
                true,
            ),
            (
                "*/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/read",
                true,
            ),
            (
                "*/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/write",
                false,
            ),
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                "microsoft.managedidentity/USERASSIGNEDIDENTITIES/read",
                true,
            ),
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
                true,
            ),
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
                false,
            ),
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
                true,
            ),
            (
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/roleAssignments/write",
                true,
            ),
            (
                "Microsoft.Support/*",
                "Microsoft.Support/tickets/write",
                true,
            ),
            (
                "Microsoft.Support/*",
                "Microsoft.SupportX/tickets/write",
                false,
            ),
            (
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                GROUP_READ,
                true,
            ),
        ];
        for (pattern, action, want) in cases {
            assert_eq!(
                action_matches(pattern, action),
                want,
                "{pattern} ~ {action}"
            );
        }
    }

    #[test]
    fn roles_grant_what_azure_defines() {
        let read = "Microsoft.ManagedIdentity/userAssignedIdentities/read";
        let write = "Microsoft.ManagedIdentity/userAssignedIdentities/write";
        let delete = "Microsoft.ManagedIdentity/userAssignedIdentities/delete";
        let assign = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action";
        let group_write = "Microsoft.Resources/subscriptions/resourceGroups/write";
        let role_write = "Microsoft.Authorization/roleAssignments/write";
        use Role::*;
        let table: [(Role, [bool; 7]); 5] = [
            // read, write, delete, assign, group read, group write, role assignment write
            (Owner, [true, true, true, true, true, true, true]),
            (Contributor, [true, true, true, true, true, true, false]),
            (Reader, [true, false, false, false, true, false, false]),
            (
                ManagedIdentityContributor,
                [true, true, true, false, true, false, false],
            ),
            (
                ManagedIdentityOperator,
                [true, false, false, true, true, false, false],
            ),
        ];
        for (role, want) in table {
            let got = [
                read,
                write,
                delete,
                assign,
                GROUP_READ,
                group_write,
                role_write,
            ]
            .map(|a| role.allows(a));
            assert_eq!(got, want, "{}", role.name());
        }
    }
}
