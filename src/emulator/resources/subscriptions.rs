//! `GET /subscriptions` and `GET /subscriptions/{id}`: the subscriptions the emulator knows.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate::{self, SUBSCRIPTIONS_API_VERSIONS};
use crate::emulator::state::{AppState, Ctx, json};
use crate::model::{Subscription, SubscriptionPolicies};

/// `GET /subscriptions`: the ones where the caller holds some role.
pub fn list(state: &Arc<AppState>, ctx: &Ctx) -> Result<Response, ApiError> {
    check(ctx)?;
    let value: Vec<Subscription> = state
        .subscriptions
        .iter()
        .filter(|s| ctx.caller.as_ref().is_none_or(|c| c.has_role_in(s)))
        .map(|s| render(state, s))
        .collect();
    let count = value.len();
    json(
        StatusCode::OK,
        &json!({ "value": value, "count": { "type": "Total", "value": count } }),
    )
}

/// `GET /subscriptions/{id}`.
pub fn get(state: &Arc<AppState>, ctx: &Ctx, sub: &str) -> Result<Response, ApiError> {
    check(ctx)?;
    let key = state.subscription(sub)?;
    json(
        StatusCode::OK,
        &render(state, state.subscription_display(&key)),
    )
}

fn check(ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::api_version(ctx.api_version(), SUBSCRIPTIONS_API_VERSIONS)
}

/// The display name of a known subscription, as `GET /subscriptions` shows it.
pub fn display_name(sub: &str) -> String {
    format!("azid emulator {}", &sub[..8.min(sub.len())])
}

fn render(state: &AppState, sub: &str) -> Subscription {
    Subscription {
        id: format!("/subscriptions/{sub}"),
        subscription_id: sub.to_string(),
        tenant_id: state.tenant_id.clone(),
        display_name: display_name(sub),
        state: "Enabled".into(),
        authorization_source: "RoleBased".into(),
        managed_by_tenants: Vec::new(),
        subscription_policies: SubscriptionPolicies {
            location_placement_id: "Public_2014-09-01".into(),
            quota_id: "PayAsYouGo_2014-09-01".into(),
            spending_limit: "Off".into(),
        },
    }
}
