//! `GET {scope}/providers/Microsoft.Authorization/permissions` (Permissions_ListForResourceGroup
//! and _ListForResource, and the subscription form the portal uses): the caller's own
//! effective permissions, one entry per role that applies at or above the scope.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;

use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate;
use crate::emulator::state::{AppState, Ctx, json};
use crate::emulator::store::key_of;
use crate::model::Page;

/// Api-versions of Microsoft.Authorization's permissions API the emulator serves.
pub const PERMISSIONS_API_VERSIONS: &[&str] = &[
    "2015-07-01",
    "2018-01-01-preview",
    "2022-04-01",
    "2022-05-01-preview",
];

/// Lists what the caller may do at the subscription `sub`, or at the group `rg` in it (an
/// identity's permissions are its group's: the emulator grants no roles below a group).
pub fn list(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: Option<&str>,
) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::api_version(ctx.api_version(), PERMISSIONS_API_VERSIONS)?;
    let sub_key = state.subscription(sub)?;
    let caller = ctx
        .caller
        .as_ref()
        .ok_or_else(|| ApiError::internal("the permissions API was reached without a caller"))?;
    let rg = rg.map(key_of);
    let page = Page {
        value: caller.permissions_at(&sub_key, rg.as_deref()),
        next_link: None,
    };
    json(StatusCode::OK, &page)
}
