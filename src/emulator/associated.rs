//! `POST .../userAssignedIdentities/{name}/listAssociatedResources`
//! (UserAssignedIdentities_ListAssociatedResources, api-versions 2021-09-30-preview and
//! 2022-01-31-preview), which `az identity list-resources` calls. The emulator holds no
//! resource that can carry an identity, so the answer is always an empty page; the checks
//! before it (api-version, group, identity) are the ones Azure makes.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::identities::{IDENTITY_TYPE, existing_group};
use super::state::{AppState, Ctx, json};
use super::store::key_of;
use super::validate::{self, LIST_ASSOCIATED_API_VERSIONS};

/// Lists the resources an identity is assigned to: none, once the identity is found.
pub fn list(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Response, ApiError> {
    if ctx.method != Method::POST {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::msi_version_of(
        ctx.api_version(),
        "userAssignedIdentities/listAssociatedResources",
        LIST_ASSOCIATED_API_VERSIONS,
    )?;
    let sub_key = state.subscription(sub)?;
    state.store.read(|tx| {
        existing_group(tx, &sub_key, rg)?;
        tx.identity(&sub_key, &key_of(rg), &key_of(name))
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::resource_not_found(IDENTITY_TYPE, name, rg))
            .map(|_| ())
    })?;
    // AssociatedResourcesListResult: `totalCount` is a number and `nextLink` is absent on the last page.
    json(StatusCode::OK, &json!({ "totalCount": 0, "value": [] }))
}
