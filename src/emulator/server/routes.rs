//! Maps a request path onto the operation it names. ARM matches every fixed segment
//! (`subscriptions`, `resourceGroups`, `providers`, namespaces, types) case-insensitively,
//! so this is a small hand-written matcher over decoded segments rather than axum's
//! case-sensitive router.

use percent_encoding::percent_decode_str;

/// The operation family a path names; the method is checked by its handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/subscriptions`
    Subscriptions,
    /// `/subscriptions/{sub}`
    Subscription { sub: String },
    /// `/subscriptions/{sub}/locations`
    Locations { sub: String },
    /// `/subscriptions/{sub}/resourcegroups`
    Groups { sub: String },
    /// `/subscriptions/{sub}/resourcegroups/{rg}`
    Group { sub: String, rg: String },
    /// `/subscriptions/{sub}/operationresults/{id}`
    OperationResult { sub: String, id: String },
    /// `/subscriptions/{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`
    IdentitiesInSubscription { sub: String },
    /// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`
    IdentitiesInGroup { sub: String, rg: String },
    /// `.../userAssignedIdentities/{name}`
    Identity {
        sub: String,
        rg: String,
        name: String,
    },
    /// `.../userAssignedIdentities/{name}/listAssociatedResources`
    AssociatedResources {
        sub: String,
        rg: String,
        name: String,
    },
    /// `.../userAssignedIdentities/{name}/revokeTokens`
    RevokeTokens {
        sub: String,
        rg: String,
        name: String,
    },
    /// `.../userAssignedIdentities/{name}/federatedIdentityCredentials`
    FederatedCredentials {
        sub: String,
        rg: String,
        name: String,
    },
    /// `.../userAssignedIdentities/{name}/federatedIdentityCredentials/{fic}`
    FederatedCredential {
        sub: String,
        rg: String,
        name: String,
        fic: String,
    },
    /// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/{type}` of any other
    /// namespace
    GenericResources {
        sub: String,
        rg: String,
        namespace: String,
        kind: String,
    },
    /// `.../providers/{namespace}/{type}/{name}` of any other namespace
    GenericResource {
        sub: String,
        rg: String,
        namespace: String,
        kind: String,
        name: String,
    },
    /// `/subscriptions/{sub}[/resourceGroups/{rg}]/resources`
    Resources { sub: String, rg: Option<String> },
    /// `/subscriptions/{sub}/providers/{namespace}`: a provider's types and api-versions
    Provider { sub: String, namespace: String },
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments`, the scope decoded
    RoleAssignments { sub: String, scope: Vec<String> },
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`
    RoleAssignment {
        sub: String,
        scope: Vec<String>,
        name: String,
    },
    /// `{scope}/providers/Microsoft.Authorization/locks`, the scope decoded
    Locks { sub: String, scope: Vec<String> },
    /// `{scope}/providers/Microsoft.Authorization/locks/{name}`
    Lock {
        sub: String,
        scope: Vec<String>,
        name: String,
    },
    /// `{scope}/providers/Microsoft.Authorization/permissions` at a subscription, a resource
    /// group or an identity.
    Permissions { sub: String, rg: Option<String> },
    /// `/providers/Microsoft.ManagedIdentity/operations`
    MsiOperations,
    /// `/providers/Microsoft.ResourceGraph/resources`: a Resource Graph query.
    ResourceGraph,
    /// `/providers/Microsoft.Management/managementGroups`
    ManagementGroups,
    /// `/providers/Microsoft.Management/managementGroups/{group}`
    ManagementGroup { group: String },
    /// `.../managementGroups/{group}/descendants`
    ManagementGroupDescendants { group: String },
    /// `.../managementGroups/{group}/subscriptions`
    ManagementGroupSubscriptions { group: String },
    /// `.../managementGroups/{group}/subscriptions/{sub}`
    ManagementGroupSubscription { group: String, sub: String },
    /// `.../managementGroups/{group}/providers/Microsoft.Authorization/roleAssignments`
    GroupRoleAssignments { group: String },
    /// `.../managementGroups/{group}/providers/Microsoft.Authorization/roleAssignments/{name}`
    GroupRoleAssignment { group: String, name: String },
    /// `/providers/Microsoft.Management/operationResults/{kind}/managementGroups/{group}`
    ManagementGroupOperation { kind: String, group: String },
    /// `/metadata/endpoints`
    MetadataEndpoints,
    /// The App-Service-style managed identity token endpoint.
    ManagedIdentityToken,
    /// A provider namespace the emulator does not serve.
    UnknownNamespace { namespace: String },
    /// A resource type of Microsoft.ManagedIdentity the emulator does not serve.
    UnknownMsiType { kind: String },
    /// Anything else.
    NotFound,
}

/// The path of the managed identity token endpoint.
pub const TOKEN_PATH: &str = "/msi/token";

/// The provider namespace served here.
pub const MSI_NAMESPACE: &str = "Microsoft.ManagedIdentity";

/// The namespace of the permissions API.
const AUTHORIZATION_NAMESPACE: &str = "Microsoft.Authorization";

impl Route {
    /// Parses a raw (still percent-encoded) request path.
    pub fn parse(path: &str) -> Route {
        if path.eq_ignore_ascii_case(TOKEN_PATH) {
            return Route::ManagedIdentityToken;
        }
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let is = |i: usize, word: &str| s.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
        let own = |i: usize| s[i].to_string();

        if is(0, "metadata") && is(1, "endpoints") && s.len() == 2 {
            return Route::MetadataEndpoints;
        }
        let n = s.len();
        if n >= 5
            && is(n - 3, "providers")
            && is(n - 2, AUTHORIZATION_NAMESPACE)
            && is(n - 1, "permissions")
        {
            return permissions_route(&s[..n - 3]);
        }
        if is(0, "providers") && is(1, MANAGEMENT_NAMESPACE) {
            return management_route(&s[2..]);
        }
        if is(0, "providers") && is(1, "Microsoft.ResourceGraph") && is(2, "resources") && n == 3 {
            return Route::ResourceGraph;
        }
        if is(0, "providers") && s.len() >= 2 {
            return match s.len() {
                3 if is(1, MSI_NAMESPACE) && is(2, "operations") => Route::MsiOperations,
                _ if !is(1, MSI_NAMESPACE) => Route::UnknownNamespace { namespace: own(1) },
                _ => Route::UnknownMsiType {
                    kind: s.get(2).unwrap_or(&"").to_string(),
                },
            };
        }
        if !is(0, "subscriptions") {
            return Route::NotFound;
        }
        if let Some(route) = lock_route(&s) {
            return route;
        }
        if let Some(route) = role_assignment_route(&s) {
            return route;
        }
        match s.len() {
            1 => return Route::Subscriptions,
            2 => return Route::Subscription { sub: own(1) },
            _ => {}
        }
        let sub = own(1);
        if is(2, "resourcegroups") {
            match s.len() {
                3 => return Route::Groups { sub },
                4 => return Route::Group { sub, rg: own(3) },
                5 if is(4, "resources") => {
                    return Route::Resources {
                        sub,
                        rg: Some(own(3)),
                    };
                }
                _ => {}
            }
            if is(4, "providers") && s.len() >= 6 {
                let rg = own(3);
                return provider_route(&s[5..], sub, Some(rg));
            }
            return Route::NotFound;
        }
        if is(2, "locations") && s.len() == 3 {
            return Route::Locations { sub };
        }
        if is(2, "resources") && s.len() == 3 {
            return Route::Resources { sub, rg: None };
        }
        if is(2, "providers") && s.len() == 4 {
            return Route::Provider {
                sub,
                namespace: own(3),
            };
        }
        if is(2, "operationresults") && s.len() == 4 {
            return Route::OperationResult { sub, id: own(3) };
        }
        if is(2, "providers") && s.len() >= 4 {
            return provider_route(&s[3..], sub, None);
        }
        Route::NotFound
    }

    /// The subscription a subscription-scoped route names, as written in the path.
    pub fn subscription(&self) -> Option<&str> {
        match self {
            Route::Subscription { sub }
            | Route::FederatedCredentials { sub, .. }
            | Route::FederatedCredential { sub, .. }
            | Route::GenericResources { sub, .. }
            | Route::GenericResource { sub, .. }
            | Route::Resources { sub, .. }
            | Route::Provider { sub, .. }
            | Route::RoleAssignments { sub, .. }
            | Route::RoleAssignment { sub, .. }
            | Route::Locks { sub, .. }
            | Route::Lock { sub, .. }
            | Route::Groups { sub }
            | Route::Locations { sub }
            | Route::Group { sub, .. }
            | Route::OperationResult { sub, .. }
            | Route::IdentitiesInSubscription { sub }
            | Route::IdentitiesInGroup { sub, .. }
            | Route::Identity { sub, .. }
            | Route::AssociatedResources { sub, .. }
            | Route::RevokeTokens { sub, .. }
            | Route::Permissions { sub, .. } => Some(sub),
            Route::Subscriptions
            | Route::MsiOperations
            | Route::ResourceGraph
            | Route::ManagementGroups
            | Route::ManagementGroup { .. }
            | Route::ManagementGroupDescendants { .. }
            | Route::ManagementGroupSubscriptions { .. }
            | Route::ManagementGroupSubscription { .. }
            | Route::GroupRoleAssignments { .. }
            | Route::GroupRoleAssignment { .. }
            | Route::ManagementGroupOperation { .. }
            | Route::MetadataEndpoints
            | Route::ManagedIdentityToken
            | Route::UnknownNamespace { .. }
            | Route::UnknownMsiType { .. }
            | Route::NotFound => None,
        }
    }
}

/// The namespace of management groups.
const MANAGEMENT_NAMESPACE: &str = "Microsoft.Management";

/// Routes what follows `/providers/Microsoft.Management/`: the groups, one group, its
/// descendants, its subscriptions, role assignments at it, and the long-running operations.
fn management_route(s: &[&str]) -> Route {
    let is = |i: usize, word: &str| s.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
    let own = |i: usize| s[i].to_string();
    if is(0, "operationResults") && is(2, "managementGroups") && s.len() == 4 {
        return Route::ManagementGroupOperation {
            kind: own(1),
            group: own(3),
        };
    }
    if !is(0, "managementGroups") {
        return Route::NotFound;
    }
    match s.len() {
        1 => Route::ManagementGroups,
        2 => Route::ManagementGroup { group: own(1) },
        3 if is(2, "descendants") => Route::ManagementGroupDescendants { group: own(1) },
        3 if is(2, "subscriptions") => Route::ManagementGroupSubscriptions { group: own(1) },
        4 if is(2, "subscriptions") => Route::ManagementGroupSubscription {
            group: own(1),
            sub: own(3),
        },
        5 if is(2, "providers") && is(3, AUTHORIZATION) && is(4, "roleAssignments") => {
            Route::GroupRoleAssignments { group: own(1) }
        }
        6 if is(2, "providers") && is(3, AUTHORIZATION) && is(4, "roleAssignments") => {
            Route::GroupRoleAssignment {
                group: own(1),
                name: own(5),
            }
        }
        _ => Route::NotFound,
    }
}

/// Routes the scope before `/providers/Microsoft.Authorization/permissions`: a subscription,
/// a resource group, or an identity (whose permissions are its group's).
fn permissions_route(scope: &[&str]) -> Route {
    let is = |i: usize, word: &str| scope.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
    let ok = is(0, "subscriptions")
        && match scope.len() {
            2 => true,
            4 => is(2, "resourcegroups"),
            8 => {
                is(2, "resourcegroups")
                    && is(4, "providers")
                    && is(5, MSI_NAMESPACE)
                    && is(6, "userAssignedIdentities")
            }
            _ => false,
        };
    if !ok {
        return Route::NotFound;
    }
    Route::Permissions {
        sub: scope[1].to_string(),
        rg: scope.get(3).map(|rg| rg.to_string()),
    }
}

/// Routes `{namespace}/{type}[/{name}]` below a subscription or a resource group.
fn provider_route(rest: &[&str], sub: String, rg: Option<String>) -> Route {
    if !rest[0].eq_ignore_ascii_case(MSI_NAMESPACE) {
        if let Some(rg) = rg.filter(|_| valid_namespace(rest[0])) {
            return generic_route(rest, sub, rg);
        }
        return Route::UnknownNamespace {
            namespace: rest[0].to_string(),
        };
    }
    let Some(kind) = rest.get(1) else {
        return Route::NotFound;
    };
    if !kind.eq_ignore_ascii_case("userAssignedIdentities") {
        return Route::UnknownMsiType {
            kind: kind.to_string(),
        };
    }
    match (rest.len(), rg) {
        (2, None) => Route::IdentitiesInSubscription { sub },
        (2, Some(rg)) => Route::IdentitiesInGroup { sub, rg },
        (3, Some(rg)) => Route::Identity {
            sub,
            rg,
            name: rest[2].to_string(),
        },
        (4, Some(rg)) if rest[3].eq_ignore_ascii_case("listAssociatedResources") => {
            Route::AssociatedResources {
                sub,
                rg,
                name: rest[2].to_string(),
            }
        }
        (4, Some(rg)) if rest[3].eq_ignore_ascii_case("revokeTokens") => Route::RevokeTokens {
            sub,
            rg,
            name: rest[2].to_string(),
        },
        (4, Some(rg)) if rest[3].eq_ignore_ascii_case(FIC_SEGMENT) => Route::FederatedCredentials {
            sub,
            rg,
            name: rest[2].to_string(),
        },
        (5, Some(rg)) if rest[3].eq_ignore_ascii_case(FIC_SEGMENT) => Route::FederatedCredential {
            sub,
            rg,
            name: rest[2].to_string(),
            fic: rest[4].to_string(),
        },
        _ => Route::NotFound,
    }
}

/// The path segment of federated identity credentials below an identity.
const FIC_SEGMENT: &str = "federatedIdentityCredentials";

/// The namespace of role assignments; its other types are not served.
const AUTHORIZATION: &str = "Microsoft.Authorization";

/// A provider namespace as ARM accepts it: dot-separated words of letters and digits
/// (`Microsoft.Compute`, `Sendgrid.Email`); anything else stays `InvalidResourceNamespace`.
fn valid_namespace(namespace: &str) -> bool {
    let mut parts = namespace.split('.');
    namespace.contains('.')
        && parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `{namespace}/{type}[/{name}]` of any namespace but the two served here. Child
/// types (`.../{type}/{name}/{child}/...`) are not served.
fn generic_route(rest: &[&str], sub: String, rg: String) -> Route {
    if rest[0].eq_ignore_ascii_case(AUTHORIZATION) {
        return Route::NotFound;
    }
    let namespace = rest[0].to_string();
    match rest.len() {
        2 => Route::GenericResources {
            sub,
            rg,
            namespace,
            kind: rest[1].to_string(),
        },
        3 => Route::GenericResource {
            sub,
            rg,
            namespace,
            kind: rest[1].to_string(),
            name: rest[2].to_string(),
        },
        _ => Route::NotFound,
    }
}

/// `{scope}/providers/Microsoft.Authorization/locks[/{name}]` below a subscription; the
/// handler checks the scope itself.
fn lock_route(s: &[&str]) -> Option<Route> {
    let n = s.len();
    let is = |i: usize, word: &str| s[i].eq_ignore_ascii_case(word);
    let own = |range: std::ops::Range<usize>| s[range].iter().map(|x| x.to_string()).collect();
    if n >= 5 && is(n - 3, "providers") && is(n - 2, AUTHORIZATION) && is(n - 1, "locks") {
        return Some(Route::Locks {
            sub: s[1].to_string(),
            scope: own(0..n - 3),
        });
    }
    if n >= 6 && is(n - 4, "providers") && is(n - 3, AUTHORIZATION) && is(n - 2, "locks") {
        return Some(Route::Lock {
            sub: s[1].to_string(),
            scope: own(0..n - 4),
            name: s[n - 1].to_string(),
        });
    }
    None
}

/// `{scope}/providers/Microsoft.Authorization/roleAssignments[/{name}]` below a subscription;
/// the handler checks the scope itself.
fn role_assignment_route(s: &[&str]) -> Option<Route> {
    let n = s.len();
    let is = |i: usize, word: &str| s[i].eq_ignore_ascii_case(word);
    let own = |range: std::ops::Range<usize>| s[range].iter().map(|x| x.to_string()).collect();
    if n >= 5 && is(n - 3, "providers") && is(n - 2, AUTHORIZATION) && is(n - 1, "roleAssignments")
    {
        return Some(Route::RoleAssignments {
            sub: s[1].to_string(),
            scope: own(0..n - 3),
        });
    }
    if n >= 6 && is(n - 4, "providers") && is(n - 3, AUTHORIZATION) && is(n - 2, "roleAssignments")
    {
        return Some(Route::RoleAssignment {
            sub: s[1].to_string(),
            scope: own(0..n - 4),
            name: s[n - 1].to_string(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let sub = "00000000-0000-0000-0000-000000000001".to_string();
        let cases = [
            ("/subscriptions", Route::Subscriptions),
            (
                "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001",
                Route::Subscription { sub: sub.clone() },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups",
                Route::Groups { sub: sub.clone() },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/My%20RG",
                Route::Group {
                    sub: sub.clone(),
                    rg: "My RG".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/\
                 microsoft.managedidentity/USERASSIGNEDIDENTITIES/Id1",
                Route::Identity {
                    sub: sub.clone(),
                    rg: "rg".into(),
                    name: "Id1".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.ManagedIdentity/userAssignedIdentities/",
                Route::IdentitiesInSubscription { sub: sub.clone() },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/\
                 Microsoft.ManagedIdentity/userAssignedIdentities/id1/LISTASSOCIATEDRESOURCES",
                Route::AssociatedResources {
                    sub: sub.clone(),
                    rg: "rg".into(),
                    name: "id1".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/\
                 Microsoft.ManagedIdentity/userAssignedIdentities/id1/REVOKETOKENS",
                Route::RevokeTokens {
                    sub: sub.clone(),
                    rg: "rg".into(),
                    name: "id1".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/Locations",
                Route::Locations { sub: sub.clone() },
            ),
            (
                "/providers/Microsoft.ManagedIdentity/operations",
                Route::MsiOperations,
            ),
            ("/metadata/endpoints", Route::MetadataEndpoints),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/permissions",
                Route::Permissions {
                    sub: sub.clone(),
                    rg: None,
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/\
                 Microsoft.ManagedIdentity/userAssignedIdentities/id1/providers/microsoft.authorization/PERMISSIONS",
                Route::Permissions {
                    sub: sub.clone(),
                    rg: Some("rg".into()),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/\
                 vms/x/providers/Microsoft.Authorization/permissions",
                Route::NotFound,
            ),
            ("/msi/token", Route::ManagedIdentityToken),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.Compute/vms/x",
                Route::GenericResource {
                    sub: sub.clone(),
                    rg: "rg".into(),
                    namespace: "Microsoft.Compute".into(),
                    kind: "vms".into(),
                    name: "x".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.Web/sites",
                Route::GenericResources {
                    sub: sub.clone(),
                    rg: "rg".into(),
                    namespace: "Microsoft.Web".into(),
                    kind: "sites".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/NoDots/things",
                Route::UnknownNamespace {
                    namespace: "NoDots".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Compute/vms",
                Route::UnknownNamespace {
                    namespace: "Microsoft.Compute".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.Authorization/locks",
                Route::Locks {
                    sub: sub.clone(),
                    scope: vec![
                        "subscriptions".into(),
                        sub.clone(),
                        "resourcegroups".into(),
                        "rg".into(),
                    ],
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/LOCKS/l1",
                Route::Lock {
                    sub: sub.clone(),
                    scope: vec!["subscriptions".into(), sub.clone()],
                    name: "l1".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/\
                 Microsoft.ManagedIdentity/userAssignedIdentities/id1/FederatedIdentityCredentials",
                Route::FederatedCredentials {
                    sub: sub.clone(),
                    rg: "rg".into(),
                    name: "id1".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/\
                 Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/f1",
                Route::FederatedCredential {
                    sub: sub.clone(),
                    rg: "rg".into(),
                    name: "id1".into(),
                    fic: "f1".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Web",
                Route::Provider {
                    sub: sub.clone(),
                    namespace: "Microsoft.Web".into(),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resources",
                Route::Resources {
                    sub: sub.clone(),
                    rg: None,
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/resources",
                Route::Resources {
                    sub: sub.clone(),
                    rg: Some("rg".into()),
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/providers/microsoft.authorization/ROLEASSIGNMENTS",
                Route::RoleAssignments {
                    sub: sub.clone(),
                    scope: vec!["subscriptions".into(), sub.clone()],
                },
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Web/\
                 sites/app/providers/Microsoft.Authorization/roleAssignments/abc",
                Route::RoleAssignment {
                    sub: sub.clone(),
                    scope: [
                        "subscriptions",
                        &sub,
                        "resourceGroups",
                        "rg",
                        "providers",
                        "Microsoft.Web",
                        "sites",
                        "app",
                    ]
                    .iter()
                    .map(|x| x.to_string())
                    .collect(),
                    name: "abc".into(),
                },
            ),
            (
                "/providers/microsoft.management/MANAGEMENTGROUPS",
                Route::ManagementGroups,
            ),
            (
                "/providers/Microsoft.Management/managementGroups/G1/subscriptions/abc",
                Route::ManagementGroupSubscription {
                    group: "G1".into(),
                    sub: "abc".into(),
                },
            ),
            (
                "/providers/Microsoft.Management/managementGroups/G1/providers/Microsoft.Authorization/roleAssignments/x",
                Route::GroupRoleAssignment {
                    group: "G1".into(),
                    name: "x".into(),
                },
            ),
            (
                "/providers/Microsoft.Management/operationResults/delete/managementGroups/G1",
                Route::ManagementGroupOperation {
                    kind: "delete".into(),
                    group: "G1".into(),
                },
            ),
            (
                "/providers/Microsoft.Management/managementGroups/G1/settings",
                Route::NotFound,
            ),
            ("/nothing", Route::NotFound),
        ];
        for (path, want) in cases {
            assert_eq!(Route::parse(path), want, "{path}");
        }
    }
}
