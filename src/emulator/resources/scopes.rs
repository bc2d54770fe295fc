//! Scopes below a subscription that other resources hang from (role assignments, locks):
//! checked segment by segment against the store, so that a missing subscription, group or
//! resource answers 404 as ARM does.

use crate::emulator::resources::identities::existing_group;
use crate::emulator::server::error::ApiError;
use crate::emulator::server::routes::MSI_NAMESPACE;
use crate::emulator::state::AppState;
use crate::emulator::store::{Tx, key_of};

/// A scope that exists.
pub struct Existing {
    /// The subscription key.
    pub sub: String,
    /// The scope as shown, in the casing the store keeps.
    pub display: String,
    /// The keys of the scope and of every scope above it, the subscription first.
    pub at_or_above: Vec<String>,
}

/// Checks a subscription, resource-group or resource scope (path segments up to the
/// provider of what hangs from it) and that what it names exists; `what` names the things
/// that hang from it in the error for any other shape.
pub fn existing(
    state: &AppState,
    tx: &Tx<'_>,
    sub: &str,
    segs: &[String],
    what: &str,
) -> Result<Existing, ApiError> {
    let sub_key = state.subscription(sub)?;
    let is = |i: usize, word: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(word));
    let mut display = format!("/subscriptions/{}", state.subscription_display(&sub_key));
    let mut at_or_above = vec![key_of(&display)];
    match segs.len() {
        2 => {}
        4 | 8 if is(2, "resourceGroups") && (segs.len() == 4 || is(4, "providers")) => {
            let rg = &segs[3];
            existing_group(tx, &sub_key, rg)?;
            display.push_str(&format!("/resourceGroups/{rg}"));
            at_or_above.push(key_of(&display));
            if segs.len() == 8 {
                let (namespace, kind, name) = (&segs[5], &segs[6], &segs[7]);
                let (group, key) = (key_of(rg), key_of(name));
                let found = if namespace.eq_ignore_ascii_case(MSI_NAMESPACE)
                    && kind.eq_ignore_ascii_case("userAssignedIdentities")
                {
                    tx.identity(&sub_key, &group, &key)?.is_some()
                } else {
                    let kind_key = key_of(&format!("{namespace}/{kind}"));
                    tx.resource(&sub_key, &group, &kind_key, &key)?.is_some()
                };
                if !found {
                    return Err(ApiError::resource_not_found(
                        &format!("{namespace}/{kind}"),
                        name,
                        rg,
                    ));
                }
                display.push_str(&format!("/providers/{namespace}/{kind}/{name}"));
                at_or_above.push(key_of(&display));
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "InvalidScope",
                format!(
                    "The scope '/{}' is not valid for {what}: use a subscription, a resource group or a resource.",
                    segs.join("/")
                ),
            ));
        }
    }
    Ok(Existing {
        sub: sub_key,
        display,
        at_or_above,
    })
}
