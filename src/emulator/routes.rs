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
    /// `{scope}/providers/Microsoft.Authorization/permissions` at a subscription, a resource
    /// group or an identity (issue 8).
    Permissions { sub: String, rg: Option<String> },
    /// `/providers/Microsoft.ManagedIdentity/operations`
    MsiOperations,
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
                _ => {}
            }
            if is(4, "providers") && s.len() >= 6 {
                let rg = own(3);
                return provider_route(&s[5..], sub, Some(rg));
            }
            return Route::NotFound;
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
            | Route::Groups { sub }
            | Route::Group { sub, .. }
            | Route::OperationResult { sub, .. }
            | Route::IdentitiesInSubscription { sub }
            | Route::IdentitiesInGroup { sub, .. }
            | Route::Identity { sub, .. }
            | Route::AssociatedResources { sub, .. }
            | Route::Permissions { sub, .. } => Some(sub),
            Route::Subscriptions
            | Route::MsiOperations
            | Route::MetadataEndpoints
            | Route::ManagedIdentityToken
            | Route::UnknownNamespace { .. }
            | Route::UnknownMsiType { .. }
            | Route::NotFound => None,
        }
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
        _ => Route::NotFound,
    }
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
                Route::UnknownNamespace {
                    namespace: "Microsoft.Compute".into(),
                },
            ),
            ("/nothing", Route::NotFound),
        ];
        for (path, want) in cases {
            assert_eq!(Route::parse(path), want, "{path}");
        }
    }
}
