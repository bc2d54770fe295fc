//! `POST .../userAssignedIdentities/{name}/revokeTokens` (UserAssignedIdentities_RevokeTokens,
//! api-version 2023-07-31-preview): 200 with an empty body once the identity is found. From
//! then on the tokens the token endpoint issued to the identity up to that second are refused.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;

use crate::emulator::resources::identities::{IDENTITY_TYPE, existing_group};
use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate::{self, REVOKE_TOKENS_API_VERSIONS};
use crate::emulator::state::{AppState, Ctx, empty};
use crate::emulator::store::key_of;

/// Answers a token revocation of an existing identity.
pub fn revoke_tokens(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Response, ApiError> {
    validate::post_action(
        &ctx.method,
        ctx.api_version(),
        "userAssignedIdentities/revokeTokens",
        REVOKE_TOKENS_API_VERSIONS,
    )?;
    let sub_key = state.subscription(sub)?;
    state.store.transaction(|tx| {
        existing_group(tx, &sub_key, rg)?;
        let identity = tx
            .identity(&sub_key, &key_of(rg), &key_of(name))
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::resource_not_found(IDENTITY_TYPE, name, rg))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        tx.set_meta(&revoked_key(&identity.client_id), &now.to_string())
            .map_err(ApiError::internal)
    })?;
    Ok(empty(StatusCode::OK))
}

/// The meta key holding when the tokens of a client id were last revoked (Unix seconds).
fn revoked_key(client_id: &str) -> String {
    format!("tokens_revoked:{}", client_id.to_ascii_lowercase())
}

/// Whether a token issued at `iat` (Unix seconds) to `client_id` has been revoked.
pub fn revoked(state: &AppState, client_id: &str, iat: i64) -> Result<bool, ApiError> {
    let at = state
        .store
        .read(|tx| tx.meta(&revoked_key(client_id)))
        .map_err(ApiError::internal)?;
    Ok(at
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|at| iat <= at))
}
