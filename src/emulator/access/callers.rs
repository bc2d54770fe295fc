//! Who the emulator's callers are: `--caller TOKEN=ROLE[@SCOPE]` grants, the
//! `Principal` a request's token stands for, and where its roles apply: subscriptions,
//! resource groups, and management groups (whose roles reach the subscriptions below them once
//! the request's tree is known). The emulator's own token is Owner of every known subscription
//! and of the root group; a `--caller` token, or a managed identity named by client id, holds
//! what was granted to it.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::emulator::access::roles::Role;
use crate::emulator::store::key_of;
use crate::model::Permission;

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
                "'{s}' is not a scope: write /subscriptions/ID, /subscriptions/ID/resourceGroups/NAME \
                 or /providers/Microsoft.Management/managementGroups/NAME"
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
/// scope, at every subscription the emulator knows (and the root management group). SCOPE may
/// also be a management group, whose role applies to every subscription below it. Repeat it to
/// give one caller several roles.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    /// The bearer token, or a client id.
    pub token: String,
    /// The role granted.
    pub role: Role,
    /// Where; `None` for every known subscription (or for `management_group`).
    pub scope: Option<Scope>,
    /// The management group (its id) the role is granted at, instead of `scope`.
    pub management_group: Option<String>,
}

/// The path before a management group's id in a scope.
const GROUP_SCOPE_PREFIX: &str = "/providers/Microsoft.Management/managementGroups/";

/// The group key of a grant that stands for the root without naming it (a caller granted
/// "everywhere"): it matches every chain of groups.
const EVERYWHERE: &str = "";

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
            .field("management_group", &self.management_group)
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
        let (role, scope, management_group) = match rest.split_once('@') {
            Some((role, scope)) => match group_of_scope(scope) {
                Some(group) => (role, None, Some(group?)),
                None => (role, Some(scope.parse::<Scope>()?), None),
            },
            None => (rest, None, None),
        };
        Ok(Caller {
            token: token.to_string(),
            role: role.parse()?,
            scope,
            management_group,
        })
    }
}

/// The management group a `/providers/Microsoft.Management/managementGroups/{id}` scope names;
/// `None` when the scope is not of that form.
fn group_of_scope(scope: &str) -> Option<Result<String, String>> {
    let prefix = scope.get(..GROUP_SCOPE_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(GROUP_SCOPE_PREFIX) {
        return None;
    }
    let name = scope[GROUP_SCOPE_PREFIX.len()..].trim_end_matches('/');
    Some(
        crate::emulator::resources::hierarchy::check_name(name)
            .map(|()| name.to_string())
            .map_err(|e| format!("'{scope}': {e}")),
    )
}

/// The caller of one request: who it is (for messages) and the roles it holds where.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Client (application) id, as ARM's messages name it.
    pub client_id: String,
    /// Object id (also the throttling actor).
    pub object_id: String,
    grants: Vec<(Role, Scope)>,
    /// Roles at management groups (keys; [`EVERYWHERE`] for the root of a caller granted everywhere).
    groups: Vec<(Role, String)>,
}

impl Principal {
    /// Whether some role at a group of `chain` (a group and its ancestors, keys) grants `action`.
    pub fn can_at_group(&self, action: &str, chain: &[String]) -> bool {
        self.groups.iter().any(|(role, group)| {
            (group == EVERYWHERE || chain.contains(group)) && role.allows(action)
        })
    }

    /// Whether some role applies at or above a group of `chain`.
    pub fn has_role_at_group(&self, chain: &[String]) -> bool {
        self.groups
            .iter()
            .any(|(_, group)| group == EVERYWHERE || chain.contains(group))
    }

    /// Whether the caller holds roles at named management groups, which reach the
    /// subscriptions below them only once [`Principal::inherit`] has run.
    pub fn inherits(&self) -> bool {
        self.groups.iter().any(|(_, g)| g != EVERYWHERE)
    }

    /// Adds, for each role at a named management group, the same role at every subscription
    /// below that group; `below(group)` lists those subscriptions' keys.
    pub fn inherit(&mut self, below: impl Fn(&str) -> Vec<String>) {
        let inherited: Vec<(Role, Scope)> = self
            .groups
            .iter()
            .filter(|(_, g)| g != EVERYWHERE)
            .flat_map(|(role, group)| {
                below(group).into_iter().map(|sub| {
                    (
                        *role,
                        Scope {
                            subscription: sub,
                            resource_group: None,
                        },
                    )
                })
            })
            .collect();
        self.grants.extend(inherited);
    }

    /// The management groups (keys) where the caller holds a role by name.
    pub fn named_groups(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .map(|(_, g)| g.as_str())
            .filter(|g| *g != EVERYWHERE)
    }

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
    clients: Vec<(String, Grants)>,
}

/// A caller's roles at subscriptions (and groups in them) and at management groups.
type Grants = (Vec<(Role, Scope)>, Vec<(Role, String)>);

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
        let mut clients: Vec<(String, Grants)> = Vec::new();
        for caller in callers {
            if caller.token == owner_token {
                return Err(
                    "a --caller token is the emulator's own token, which is already Owner".into(),
                );
            }
            let mut groups = Vec::new();
            let grants = match &caller.scope {
                None => {
                    let group = caller.management_group.as_deref().map(key_of);
                    groups.push((
                        caller.role,
                        group.clone().unwrap_or_else(|| EVERYWHERE.into()),
                    ));
                    if group.is_some() {
                        Vec::new()
                    } else {
                        everywhere(caller.role)
                    }
                }
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
                        Some((_, g)) => {
                            g.0.extend(grants);
                            g.1.extend(groups);
                        }
                        None => clients.push((client, (grants, groups))),
                    }
                }
                None => match bearers.iter_mut().find(|(t, _)| *t == caller.token) {
                    Some((_, p)) => {
                        p.grants.extend(grants);
                        p.groups.extend(groups);
                    }
                    None => bearers.push((
                        caller.token.clone(),
                        Principal {
                            client_id: derived_id("client", &caller.token),
                            object_id: derived_id("object", &caller.token),
                            grants,
                            groups,
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
                groups: vec![(Role::Owner, EVERYWHERE.into())],
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
    /// it has none, Owner of every known subscription (as before callers existed, so that setups
    /// without `--caller` keep working).
    pub fn issued(&self, client_id: &str, object_id: &str) -> Principal {
        let (grants, groups) = self
            .clients
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(client_id))
            .map_or_else(
                || (self.owner.grants.clone(), self.owner.groups.clone()),
                |(_, g)| g.clone(),
            );
        Principal {
            client_id: client_id.to_string(),
            object_id: object_id.to_string(),
            grants,
            groups,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::access::roles::GROUP_READ;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

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
    fn roles_at_a_management_group_reach_what_is_below_once_inherited() {
        let c: Caller = "t=reader@/providers/microsoft.management/managementGroups/Platform"
            .parse()
            .unwrap();
        assert_eq!(
            (c.scope.clone(), c.management_group.as_deref()),
            (None, Some("Platform"))
        );
        let e = "t=reader@/providers/Microsoft.Management/managementGroups/bad name"
            .parse::<Caller>()
            .unwrap_err();
        assert!(e.contains("not a management group id"), "{e}");
        let rbac = Rbac::new(&[c], "owner", "oid", &[SUB.to_string()]).unwrap();
        let mut t = rbac.bearer("t").unwrap();
        let read = "Microsoft.ManagedIdentity/userAssignedIdentities/read";
        assert!(!t.has_role_in(SUB), "nothing until the tree is known");
        assert!(t.inherits());
        let chain = ["platform".to_string(), "root".to_string()];
        assert!(t.can_at_group("Microsoft.Management/managementGroups/read", &chain));
        assert!(!t.can_at_group("Microsoft.Management/managementGroups/write", &chain));
        assert!(!t.can_at_group("Microsoft.Management/managementGroups/read", &chain[1..]));
        t.inherit(|group| {
            assert_eq!(group, "platform");
            vec![SUB.to_string()]
        });
        assert!(t.has_role_in(SUB) && t.can(read, SUB, Some("any")));
        let owner = rbac.owner();
        assert!(
            !owner.inherits(),
            "the owner holds the root without naming it"
        );
        assert!(owner.can_at_group("Microsoft.Management/managementGroups/delete", &chain[1..]));
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
}
