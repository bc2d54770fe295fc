//! What management locks stop, checked once on the request path after authorisation: a
//! `CanNotDelete` or `ReadOnly` lock at or above the target blocks its DELETE (a group's DELETE
//! also by any lock inside the group: the whole delete fails), and a `ReadOnly` one also blocks
//! PUT, PATCH and POST. A blocked request answers 409 `ScopeLocked` naming the locked scopes and
//! changes nothing. Locks themselves are never blocked by locks, so they can be removed.

use axum::http::{Method, StatusCode};

use crate::emulator::server::error::ApiError;
use crate::emulator::server::routes::{MSI_NAMESPACE, Route};
use crate::emulator::state::AppState;
use crate::emulator::store::{key_of, scope_within};

/// What a request does to its target, as locks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Write,
    Delete,
}

impl Operation {
    fn word(self) -> &'static str {
        match self {
            Operation::Write => "write",
            Operation::Delete => "delete",
        }
    }

    /// Whether a lock of `level` stops this operation.
    fn stopped_by(self, level: &str) -> bool {
        level.eq_ignore_ascii_case("ReadOnly")
            || (self == Operation::Delete && level.eq_ignore_ascii_case("CanNotDelete"))
    }
}

/// What a request changes: the id it names (as written in the path), whether locks inside it
/// count too (a group's delete), and the subscription.
struct Target {
    sub: String,
    id: String,
    whole_group: bool,
}

/// Answers 409 `ScopeLocked` when a lock stops this request; `Ok` when none does.
pub fn check(state: &AppState, route: &Route, method: &Method) -> Result<(), ApiError> {
    let operation = match *method {
        Method::DELETE => Operation::Delete,
        Method::PUT | Method::PATCH | Method::POST => Operation::Write,
        _ => return Ok(()),
    };
    let Some(target) = target(route, operation) else {
        return Ok(());
    };
    // An unknown subscription is its handler's to answer.
    let Ok(sub) = state.subscription(&target.sub) else {
        return Ok(());
    };
    let key = key_of(&target.id);
    let locks = state.store.locks_in(&sub).map_err(ApiError::internal)?;
    let mut scopes: Vec<&str> = Vec::new();
    for lock in &locks {
        let over = scope_within(&key, &lock.scope);
        let inside = target.whole_group && scope_within(&lock.scope, &key);
        if (over || inside)
            && operation.stopped_by(&lock.record.level)
            && !scopes.contains(&lock.record.scope.as_str())
        {
            scopes.push(&lock.record.scope);
        }
    }
    if scopes.is_empty() {
        return Ok(());
    }
    // Outer scopes first.
    scopes.sort_by_key(|s| s.len());
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "ScopeLocked",
        format!(
            "The scope '{}' cannot perform {} operation because following scope(s) are locked: '{}'. Please \
             remove the lock and try again.",
            target.id,
            operation.word(),
            scopes.join(",")
        ),
    ))
}

/// The target of a route that changes something, `None` for the rest (lists, discovery,
/// Resource Graph, and locks themselves).
fn target(route: &Route, operation: Operation) -> Option<Target> {
    let group = |sub: &str, rg: &str| format!("/subscriptions/{sub}/resourceGroups/{rg}");
    let identity = |sub: &str, rg: &str, name: &str| {
        format!(
            "{}/providers/{MSI_NAMESPACE}/userAssignedIdentities/{name}",
            group(sub, rg)
        )
    };
    let (sub, id, whole_group) = match route {
        Route::Group { sub, rg } => (sub, group(sub, rg), operation == Operation::Delete),
        Route::Identity { sub, rg, name }
        | Route::AssociatedResources { sub, rg, name }
        | Route::RevokeTokens { sub, rg, name } => (sub, identity(sub, rg, name), false),
        Route::FederatedCredential { sub, rg, name, fic } => (
            sub,
            format!(
                "{}/federatedIdentityCredentials/{fic}",
                identity(sub, rg, name)
            ),
            false,
        ),
        Route::GenericResource {
            sub,
            rg,
            namespace,
            kind,
            name,
        } => (
            sub,
            format!("{}/providers/{namespace}/{kind}/{name}", group(sub, rg)),
            false,
        ),
        // An assignment is an extension resource: it has the locks of the scope it extends.
        Route::RoleAssignment { sub, scope, .. } => (sub, format!("/{}", scope.join("/")), false),
        _ => return None,
    };
    Some(Target {
        sub: sub.clone(),
        id,
        whole_group,
    })
}
