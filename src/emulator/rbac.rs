//! Role-based access control (issue 8): the five built-in roles with the actions and
//! notActions Azure publishes for them, the `--caller TOKEN=ROLE[@SCOPE]` grants, the ARM
//! action each request needs, and 403 `AuthorizationFailed` when the caller's roles lack it.
//! Knows routes and methods, never handlers: a denied request does not reach one. The client
//! keeps its own action matcher (`arm::permissions`) on purpose, so each checks the other.

use std::fmt;
use std::str::FromStr;

use axum::http::Method;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::routes::Route;
use super::state::AppState;
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

impl Role {
    /// Every role, in the order the help lists them.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Contributor,
        Role::Reader,
        Role::ManagedIdentityContributor,
        Role::ManagedIdentityOperator,
    ];

    fn definition(self) -> &'static Definition {
        match self {
            Role::Owner => &OWNER,
            Role::Contributor => &CONTRIBUTOR,
            Role::Reader => &READER,
            Role::ManagedIdentityContributor => &MI_CONTRIBUTOR,
            Role::ManagedIdentityOperator => &MI_OPERATOR,
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

/// Where a grant applies: a subscription, or one resource group in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Subscription id, as written.
    pub subscription: String,
    /// Resource group name, as written; `None` for the whole subscription.
    pub resource_group: Option<String>,
}

impl Scope {
    /// Whether a request at `sub` (a key) and `rg` (a key, or `None` for the subscription itself)
    /// falls under this scope.
    fn covers(&self, sub: &str, rg: Option<&str>) -> bool {
        self.subscription.eq_ignore_ascii_case(sub)
            && match &self.resource_group {
                None => true,
                Some(own) => rg.is_some_and(|rg| own.to_lowercase() == rg),
            }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/subscriptions/{}", self.subscription)?;
        if let Some(rg) = &self.resource_group {
            write!(f, "/resourceGroups/{rg}")?;
        }
        Ok(())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "'{s}' is not a scope: write /subscriptions/ID or /subscriptions/ID/resourceGroups/NAME"
            )
        };
        let parts: Vec<&str> = s.trim_end_matches('/').split('/').collect();
        let is = |i: usize, word: &str| parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case(word));
        if !(parts.first() == Some(&"") && is(1, "subscriptions")) {
            return Err(bad());
        }
        let sub = parts.get(2).ok_or_else(bad)?;
        if sub.len() != 36 || uuid::Uuid::try_parse(sub).is_err() {
            return Err(format!(
                "'{sub}' in '{s}' is not a subscription id (a UUID)"
            ));
        }
        let resource_group = match parts.len() {
            3 => None,
            5 if is(3, "resourcegroups") && !parts[4].is_empty() => Some(parts[4].to_string()),
            _ => return Err(bad()),
        };
        Ok(Scope {
            subscription: sub.to_string(),
            resource_group,
        })
    }
}

/// `--caller TOKEN=ROLE[@SCOPE]`: a bearer token (or, when TOKEN is a UUID, the client id of a
/// managed identity whose endpoint-issued tokens are meant) gets a role at a scope; without a
/// scope, at every subscription the emulator knows. Repeat it to give one caller several roles.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    /// The bearer token, or a client id.
    pub token: String,
    /// The role granted.
    pub role: Role,
    /// Where; `None` for every known subscription.
    pub scope: Option<Scope>,
}

impl Caller {
    /// The client id this caller names, when TOKEN is a UUID.
    pub fn client_id(&self) -> Option<&str> {
        (self.token.len() == 36 && uuid::Uuid::try_parse(&self.token).is_ok())
            .then_some(self.token.as_str())
    }
}

// A bearer token is a secret: Debug shows only client ids.
impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("token", &self.client_id().unwrap_or("***"))
            .field("role", &self.role)
            .field("scope", &self.scope)
            .finish()
    }
}

impl FromStr for Caller {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((token, rest)) = s.split_once('=') else {
            return Err(format!("'{s}' is not TOKEN=ROLE[@SCOPE]"));
        };
        if token.is_empty() || token.chars().any(char::is_whitespace) {
            return Err(format!(
                "the token of '{s}' is empty or holds spaces (TOKEN=ROLE[@SCOPE])"
            ));
        }
        let (role, scope) = match rest.split_once('@') {
            Some((role, scope)) => (role, Some(scope.parse::<Scope>()?)),
            None => (rest, None),
        };
        Ok(Caller {
            token: token.to_string(),
            role: role.parse()?,
            scope,
        })
    }
}

/// The caller of one request: who it is (for messages) and the roles it holds where.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Client (application) id, as ARM's messages name it.
    pub client_id: String,
    /// Object id (also the throttling actor).
    pub object_id: String,
    grants: Vec<(Role, Scope)>,
}

impl Principal {
    /// Whether some role at or above (`sub`, `rg`) grants `action`; `sub` and `rg` are keys.
    pub fn can(&self, action: &str, sub: &str, rg: Option<&str>) -> bool {
        self.grants
            .iter()
            .any(|(role, scope)| scope.covers(sub, rg) && role.allows(action))
    }

    /// Whether the caller holds any role anywhere in the subscription `sub` (a key).
    pub fn has_role_in(&self, sub: &str) -> bool {
        self.grants
            .iter()
            .any(|(_, scope)| scope.subscription.eq_ignore_ascii_case(sub))
    }

    /// One entry per role that applies at (`sub`, `rg`), as the permissions API lists them.
    pub fn permissions_at(&self, sub: &str, rg: Option<&str>) -> Vec<Permission> {
        self.grants
            .iter()
            .filter(|(_, scope)| scope.covers(sub, rg))
            .map(|(role, _)| role.permission())
            .collect()
    }
}

/// Who may do what: the owner token, the `--caller` grants, and the rule for issued tokens.
pub struct Rbac {
    owner: Principal,
    bearers: Vec<(String, Principal)>,
    clients: Vec<(String, Vec<(Role, Scope)>)>,
}

impl Rbac {
    /// Resolves the grants; a scope must name a subscription the emulator knows.
    pub fn new(
        callers: &[Caller],
        owner_token: &str,
        owner_object_id: &str,
        subscriptions: &[String],
    ) -> Result<Rbac, String> {
        let everywhere = |role| -> Vec<(Role, Scope)> {
            subscriptions
                .iter()
                .map(|s| {
                    (
                        role,
                        Scope {
                            subscription: s.clone(),
                            resource_group: None,
                        },
                    )
                })
                .collect()
        };
        let mut bearers: Vec<(String, Principal)> = Vec::new();
        let mut clients: Vec<(String, Vec<(Role, Scope)>)> = Vec::new();
        for caller in callers {
            if caller.token == owner_token {
                return Err(
                    "a --caller token is the emulator's own token, which is already Owner".into(),
                );
            }
            let grants = match &caller.scope {
                None => everywhere(caller.role),
                Some(scope)
                    if subscriptions
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(&scope.subscription)) =>
                {
                    vec![(caller.role, scope.clone())]
                }
                Some(scope) => {
                    return Err(format!(
                        "the --caller scope {scope} names a subscription the emulator does not know"
                    ));
                }
            };
            match caller.client_id() {
                Some(client) => {
                    let client = client.to_ascii_lowercase();
                    match clients.iter_mut().find(|(c, _)| *c == client) {
                        Some((_, g)) => g.extend(grants),
                        None => clients.push((client, grants)),
                    }
                }
                None => match bearers.iter_mut().find(|(t, _)| *t == caller.token) {
                    Some((_, p)) => p.grants.extend(grants),
                    None => bearers.push((
                        caller.token.clone(),
                        Principal {
                            client_id: derived_id("client", &caller.token),
                            object_id: derived_id("object", &caller.token),
                            grants,
                        },
                    )),
                },
            }
        }
        Ok(Rbac {
            owner: Principal {
                client_id: owner_object_id.to_string(),
                object_id: owner_object_id.to_string(),
                grants: everywhere(Role::Owner),
            },
            bearers,
            clients,
        })
    }

    /// The holder of the emulator's own token: Owner of every known subscription.
    pub fn owner(&self) -> Principal {
        self.owner.clone()
    }

    /// The `--caller` whose bearer token this is.
    pub fn bearer(&self, token: &str) -> Option<Principal> {
        self.bearers
            .iter()
            .find(|(t, _)| bool::from(t.as_bytes().ct_eq(token.as_bytes())))
            .map(|(_, p)| p.clone())
    }

    /// A managed identity holding a token the endpoint issued: its `--caller` roles, or, when
    /// it has none, Owner of every known subscription (as before issue 8, so that setups
    /// without `--caller` keep working).
    pub fn issued(&self, client_id: &str, object_id: &str) -> Principal {
        let grants = self
            .clients
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(client_id))
            .map_or_else(|| self.owner.grants.clone(), |(_, g)| g.clone());
        Principal {
            client_id: client_id.to_string(),
            object_id: object_id.to_string(),
            grants,
        }
    }
}

/// A stable UUID for a `--caller` token, so its 403 messages name the same client across runs.
fn derived_id(kind: &str, token: &str) -> String {
    let digest = Sha256::digest(format!("azid-caller-{kind}:{token}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// What a request needs of its caller.
#[derive(Debug, PartialEq, Eq)]
enum Need {
    /// Nothing beyond a valid token (discovery, the permissions API, errors-to-be).
    Nothing,
    /// Some role somewhere in the subscription (its own GET, listing its groups, polling).
    RoleIn { action: &'static str },
    /// This action at this place; `scope` is the id ARM's message names.
    Action {
        action: &'static str,
        rg: Option<String>,
        scope: String,
    },
}

const MSI: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

fn need(route: &Route, method: &Method) -> Need {
    let verb = match *method {
        Method::GET | Method::HEAD => "read",
        Method::PUT | Method::PATCH => "write",
        Method::DELETE => "delete",
        Method::POST => "action",
        // Anything else is refused by the handler with 405.
        _ => return Need::Nothing,
    };
    let group_scope = |sub: &str, rg: &str| format!("/subscriptions/{sub}/resourceGroups/{rg}");
    let action = |table: [&'static str; 3]| match verb {
        "read" => Some(table[0]),
        "write" => Some(table[1]),
        "delete" => Some(table[2]),
        _ => None,
    };
    match route {
        Route::Subscription { .. } | Route::OperationResult { .. } if verb == "read" => {
            Need::RoleIn {
                action: "Microsoft.Resources/subscriptions/read",
            }
        }
        Route::Groups { .. } if verb == "read" => Need::RoleIn { action: GROUP_READ },
        Route::Group { sub, rg } => match action([
            GROUP_READ,
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            "Microsoft.Resources/subscriptions/resourceGroups/delete",
        ]) {
            Some(action) => Need::Action {
                action,
                rg: Some(rg.clone()),
                scope: group_scope(sub, rg),
            },
            None => Need::Nothing,
        },
        Route::IdentitiesInSubscription { sub } if verb == "read" => Need::Action {
            action: "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            rg: None,
            scope: format!("/subscriptions/{sub}"),
        },
        Route::IdentitiesInGroup { sub, rg } if verb == "read" => Need::Action {
            action: "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            rg: Some(rg.clone()),
            scope: group_scope(sub, rg),
        },
        Route::Identity { sub, rg, name } => match action([
            "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
        ]) {
            Some(action) => Need::Action {
                action,
                rg: Some(rg.clone()),
                scope: format!("{}/providers/{MSI}/{name}", group_scope(sub, rg)),
            },
            None => Need::Nothing,
        },
        Route::AssociatedResources { sub, rg, name } if verb == "action" => Need::Action {
            action: "Microsoft.ManagedIdentity/userAssignedIdentities/listAssociatedResources/action",
            rg: Some(rg.clone()),
            scope: format!("{}/providers/{MSI}/{name}", group_scope(sub, rg)),
        },
        _ => Need::Nothing,
    }
}

/// Checks that `caller` may make this request; 403 `AuthorizationFailed` when not. A request
/// naming a malformed or unknown subscription passes, so its handler answers 400 or 404 as ARM.
pub fn authorize(
    state: &AppState,
    caller: &Principal,
    route: &Route,
    method: &Method,
) -> Result<(), ApiError> {
    let Some(sub) = route.subscription() else {
        return Ok(());
    };
    let Ok(sub_key) = state.subscription(sub) else {
        return Ok(());
    };
    let denied = |action: &str, scope: &str| {
        ApiError::authorization_failed(&caller.client_id, &caller.object_id, action, scope)
    };
    match need(route, method) {
        Need::Nothing => Ok(()),
        Need::RoleIn { action } if !caller.has_role_in(&sub_key) => {
            Err(denied(action, &format!("/subscriptions/{sub}")))
        }
        Need::RoleIn { .. } => Ok(()),
        Need::Action { action, rg, scope } => {
            let rg = rg.map(|rg| rg.to_lowercase());
            if caller.can(action, &sub_key, rg.as_deref()) {
                Ok(())
            } else {
                Err(denied(action, &scope))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

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

    #[test]
    fn callers_parse_and_name_what_is_wrong() {
        let c: Caller = "ci=managed-identity-operator".parse().unwrap();
        assert_eq!(
            (c.token.as_str(), c.role, c.scope),
            ("ci", Role::ManagedIdentityOperator, None)
        );
        let c: Caller = format!("t=Reader@/subscriptions/{SUB}/resourcegroups/rg-1/")
            .parse()
            .unwrap();
        assert_eq!(
            c.scope.map(|s| s.to_string()),
            Some(format!("/subscriptions/{SUB}/resourceGroups/rg-1"))
        );
        assert!(format!("{:?}", "t=owner".parse::<Caller>().unwrap()).contains("***"));
        let client = "11111111-2222-3333-4444-555555555555";
        let c: Caller = format!("{client}=reader").parse().unwrap();
        assert_eq!(c.client_id(), Some(client));
        for (bad, says) in [
            ("nothing", "'nothing' is not TOKEN=ROLE[@SCOPE]"),
            ("=reader", "the token of '=reader'"),
            ("t=admin", "unknown role 'admin'"),
            ("t=reader@rg", "'rg' is not a scope"),
            (
                "t=reader@/subscriptions/xyz",
                "'xyz' in '/subscriptions/xyz'",
            ),
            (
                "t=reader@/subscriptions/00000000-0000-0000-0000-000000000001/vms/x",
                "is not a scope",
            ),
        ] {
            let e = bad.parse::<Caller>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn grants_apply_at_and_below_their_scope() {
        let callers: Vec<Caller> = [
            format!("a=managed-identity-contributor@/subscriptions/{SUB}/resourceGroups/RG"),
            "a=reader".to_string(),
        ]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
        let rbac = Rbac::new(&callers, "owner", "oid", &[SUB.to_string()]).unwrap();
        let a = rbac.bearer("a").unwrap();
        let delete = "Microsoft.ManagedIdentity/userAssignedIdentities/delete";
        assert!(a.can(delete, SUB, Some("rg")));
        assert!(!a.can(delete, SUB, Some("other")));
        assert!(!a.can(delete, SUB, None));
        assert!(
            a.can(GROUP_READ, SUB, Some("other")),
            "reader at the subscription"
        );
        assert_eq!(a.permissions_at(SUB, Some("rg")).len(), 2);
        assert_eq!(a.permissions_at(SUB, None).len(), 1);
        assert!(rbac.bearer("b").is_none());
        assert_eq!(
            a.client_id,
            rbac.bearer("a").unwrap().client_id,
            "stable ids"
        );
        let other = "22222222-0000-0000-0000-000000000000";
        assert!(
            Rbac::new(
                &[format!("x=reader@/subscriptions/{other}").parse().unwrap()],
                "owner",
                "oid",
                &[SUB.to_string()]
            )
            .is_err()
        );
        assert!(
            Rbac::new(
                &["owner=reader".parse().unwrap()],
                "owner",
                "oid",
                &[SUB.to_string()]
            )
            .is_err()
        );
    }

    #[test]
    fn requests_map_to_arm_actions() {
        let sub = SUB.to_string();
        let id = Route::Identity {
            sub: sub.clone(),
            rg: "rg".into(),
            name: "app".into(),
        };
        assert_eq!(
            need(&id, &Method::DELETE),
            Need::Action {
                action: "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
                rg: Some("rg".into()),
                scope: format!(
                    "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app"
                ),
            }
        );
        let group = Route::Group {
            sub: sub.clone(),
            rg: "rg".into(),
        };
        assert!(matches!(
            need(&group, &Method::PUT),
            Need::Action {
                action: "Microsoft.Resources/subscriptions/resourceGroups/write",
                ..
            }
        ));
        assert!(matches!(
            need(
                &Route::IdentitiesInSubscription { sub: sub.clone() },
                &Method::GET
            ),
            Need::Action { rg: None, .. }
        ));
        assert_eq!(need(&Route::Subscriptions, &Method::GET), Need::Nothing);
        assert_eq!(need(&id, &Method::OPTIONS), Need::Nothing);
    }
}
