//! `POST .../userAssignedIdentities/{name}/listAssociatedResources`
//! (UserAssignedIdentities_ListAssociatedResources, api-versions 2021-09-30-preview and
//! 2022-01-31-preview), which `az identity list-resources` calls: the generic resources whose
//! `identity.userAssignedIdentities` names the identity, in any known subscription,
//! as Azure Resource Graph finds them. Paged with `$top` and `$skiptoken`; `$filter`,
//! `$orderby` and `$skip` are accepted and ignored (the order is by subscription, group, type
//! and name), which the spec allows a server to do with a page.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;

use crate::emulator::resources::generic::resource_id;
use crate::emulator::resources::identities::{IDENTITY_TYPE, existing_group};
use crate::emulator::resources::subscriptions;
use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate::{self, LIST_ASSOCIATED_API_VERSIONS};
use crate::emulator::state::{AppState, Ctx, json, next_link_with_top, skip_after};
use crate::emulator::store::{identity_scope_key, key_of};
use crate::model::{AssociatedResource, AssociatedResources};

/// Lists the resources an identity is assigned to, once the identity is found.
pub fn list(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Response, ApiError> {
    validate::post_action(
        &ctx.method,
        ctx.api_version(),
        "userAssignedIdentities/listAssociatedResources",
        LIST_ASSOCIATED_API_VERSIONS,
    )?;
    let sub_key = state.subscription(sub)?;
    let top = validate::top(ctx.query.get("$top").map(String::as_str))?;
    let limit = top.map_or(state.page_size, |t| t.min(state.page_size));
    let after = skip_after(ctx)?;
    let (total, listing) = state.store.read(|tx| {
        existing_group(tx, &sub_key, rg)?;
        tx.identity(&sub_key, &key_of(rg), &key_of(name))?
            .ok_or_else(|| ApiError::resource_not_found(IDENTITY_TYPE, name, rg))?;
        let identity = identity_scope_key(&sub_key, &key_of(rg), &key_of(name));
        Ok::<_, ApiError>(tx.resources_using(&identity, &after, limit)?)
    })?;
    let value = listing
        .items
        .iter()
        .map(|(sub, r)| {
            let sub = state.subscription_display(sub);
            AssociatedResource {
                id: resource_id(r, sub),
                name: r.name.clone(),
                kind: key_of(&format!("{}/{}", r.namespace, r.kind)),
                resource_group: r.resource_group.clone(),
                subscription_id: sub.to_string(),
                subscription_display_name: Some(subscriptions::display_name(sub)),
            }
        })
        .collect();
    // `totalCount` is a number and `nextLink` is absent on the last page.
    json(
        StatusCode::OK,
        &AssociatedResources {
            total_count: total,
            value,
            next_link: listing
                .next_after
                .map(|after| next_link_with_top(ctx, &after, top)),
        },
    )
}
