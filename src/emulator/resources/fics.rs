//! Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials:
//! the spec operations FederatedIdentityCredentials_CreateOrUpdate / _Get / _Delete / _List,
//! with the rules Azure documents: the name pattern, issuer + subject + one audience required,
//! issuer+subject unique per identity, at most 20 per identity, and 409 for a write that
//! arrives while another write to the same identity is still being processed (`FicWrites`,
//! which `state.rs` applies before the handler runs). All are synchronous, as in Azure.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::emulator::resources::identities::{IDENTITY_TYPE, existing_group, writable_group};
use crate::emulator::server::error::ApiError;
use crate::emulator::server::routes::Route;
use crate::emulator::server::validate::{self, FIC_API_VERSIONS};
use crate::emulator::state::{AppState, Ctx, empty, json, located, next_link_with_top, skip_after};
use crate::emulator::store::{FicRecord, IdentityRecord, Tx, key_of};
use crate::model::{FederatedCredential, FederatedCredentialProperties, Page};

/// The resource type, as ARM spells it.
pub const FIC_TYPE: &str =
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials";

/// Azure's limit of federated credentials on one identity.
pub const MAX_PER_IDENTITY: usize = 20;

/// Api-versions whose credentials have `claimsMatchingExpression`.
const CLAIMS_API_VERSIONS: &[&str] = &["2025-01-31-preview", "2025-05-31-preview"];

/// Longest subject and audience Entra accepts.
const MAX_CLAIM_LEN: usize = 600;

/// The identities whose credentials are being written right now.
pub struct FicWrites {
    /// How long a write is processed (`EmulatorOptions::fic_write_delay`).
    delay: Duration,
    busy: Mutex<HashSet<String>>,
}

/// An identity marked busy; the mark goes when this drops.
pub struct Held<'a> {
    busy: &'a Mutex<HashSet<String>>,
    key: String,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl FicWrites {
    /// Writes take `delay` each.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            busy: Mutex::new(HashSet::new()),
        }
    }

    /// Before a PUT or DELETE of a credential: marks its identity busy and waits out the
    /// processing time, or answers 409 when a write to the same identity is in flight. The
    /// handler runs while the returned guard lives; if the client hangs up during the wait,
    /// the guard drops with the request and the mark goes too. Other routes pass untouched.
    pub async fn hold(&self, ctx: &Ctx, route: &Route) -> Result<Option<Held<'_>>, ApiError> {
        let Route::FederatedCredential { sub, rg, name, .. } = route else {
            return Ok(None);
        };
        if ctx.method != Method::PUT && ctx.method != Method::DELETE {
            return Ok(None);
        }
        let key = format!("{}/{}/{}", key_of(sub), key_of(rg), key_of(name));
        if !self
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone())
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                format!(
                    "Too many Federated Identity Credentials are written concurrently for the managed identity \
                     '/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.managedidentity/\
                     userassignedidentities/{name}'. Concurrent Federated Identity Credentials writes under the \
                     same managed identity are not supported."
                ),
            ));
        }
        let held = Held {
            busy: &self.busy,
            key,
        };
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        Ok(Some(held))
    }
}

/// `.../federatedIdentityCredentials`: GET is FederatedIdentityCredentials_List (`$top`, `$skiptoken`).
pub fn collection(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    let claims = version(ctx)?;
    let sub_key = state.subscription(sub)?;
    let top = validate::top(ctx.query.get("$top").map(String::as_str))?;
    let limit = top.map_or(state.page_size, |t| t.min(state.page_size));
    let after = skip_after(ctx)?;
    let (identity, listing) = state.store.read(|tx| {
        let identity = parent(tx, &sub_key, rg, name)?;
        let listing = tx.fics(&sub_key, &key_of(rg), &key_of(name), &after, limit)?;
        Ok::<_, ApiError>((identity, listing))
    })?;
    let sub_display = state.subscription_display(&sub_key);
    let page = Page {
        value: listing
            .items
            .iter()
            .map(|r| render(&identity, sub_display, r, claims))
            .collect(),
        next_link: listing
            .next_after
            .map(|after| next_link_with_top(ctx, &after, top)),
    };
    json(StatusCode::OK, &page)
}

/// `.../federatedIdentityCredentials/{fic}`: PUT (FederatedIdentityCredentials_CreateOrUpdate),
/// GET (_Get), DELETE (_Delete).
pub fn item(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    name: &str,
    fic: &str,
) -> Result<Response, ApiError> {
    let claims = version(ctx)?;
    let sub_key = state.subscription(sub)?;
    let sub_display = state.subscription_display(&sub_key).to_string();
    let (group, identity_key, key) = (key_of(rg), key_of(name), key_of(fic));
    match ctx.method {
        Method::GET => {
            let (identity, record) = state.store.read(|tx| {
                let identity = parent(tx, &sub_key, rg, name)?;
                let record = tx
                    .fic(&sub_key, &group, &identity_key, &key)?
                    .ok_or_else(|| not_found(name, fic, rg))?;
                Ok::<_, ApiError>((identity, record))
            })?;
            json(
                StatusCode::OK,
                &render(&identity, &sub_display, &record, claims),
            )
        }
        Method::PUT => {
            validate::fic_name(fic)?;
            let body = validate::json_object(&ctx.body, false)?;
            let props = Properties::read(&body, claims)?;
            let (identity, record, created) = state.store.transaction(|tx| {
                writable_group(tx, &sub_key, rg)?;
                let identity = parent(tx, &sub_key, rg, name)?;
                let others: Vec<FicRecord> = tx
                    .fics_of(&sub_key, &group, &identity_key)?
                    .into_iter()
                    .filter(|f| key_of(&f.name) != key)
                    .collect();
                let created = tx.fic(&sub_key, &group, &identity_key, &key)?.is_none();
                if created && others.len() >= MAX_PER_IDENTITY {
                    return Err(ApiError::bad_request(
                        "BadRequest",
                        format!(
                            "The managed identity '{name}' already has {MAX_PER_IDENTITY} federated identity \
                             credentials, the most one identity can have."
                        ),
                    ));
                }
                if props.subject.is_some()
                    && others
                        .iter()
                        .any(|f| f.issuer == props.issuer && f.subject == props.subject)
                {
                    // Status and text as Azure documents them; the code is the one users report.
                    return Err(ApiError::bad_request(
                        "Conflict",
                        "Issuer and subject combination already exists for this Managed Identity.",
                    ));
                }
                let record = FicRecord {
                    name: fic.to_string(),
                    issuer: props.issuer.clone(),
                    subject: props.subject.clone(),
                    audiences: props.audiences.clone(),
                    claims: props.claims.clone(),
                };
                tx.put_fic(&sub_key, &group, &identity_key, &record)?;
                Ok::<_, ApiError>((identity, record, created))
            })?;
            let rendered = render(&identity, &sub_display, &record, claims);
            if created {
                Ok(located(json(StatusCode::CREATED, &rendered)?, &rendered.id))
            } else {
                json(StatusCode::OK, &rendered)
            }
        }
        Method::DELETE => {
            let removed = state.store.transaction(|tx| {
                existing_group(tx, &sub_key, rg)?;
                parent(tx, &sub_key, rg, name)?;
                Ok::<_, ApiError>(tx.remove_fic(&sub_key, &group, &identity_key, &key)?)
            })?;
            Ok(empty(if removed {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            }))
        }
        ref other => Err(ApiError::method_not_allowed(other.as_str())),
    }
}

/// Checks the api-version; says whether it has `claimsMatchingExpression`.
fn version(ctx: &Ctx) -> Result<bool, ApiError> {
    validate::msi_version_of(
        ctx.api_version(),
        "userAssignedIdentities/federatedIdentityCredentials",
        FIC_API_VERSIONS,
    )?;
    Ok(ctx
        .api_version()
        .is_some_and(|v| CLAIMS_API_VERSIONS.contains(&v)))
}

/// The group and the identity must exist (ARM's answer for a nested resource without parent).
fn parent(tx: &Tx<'_>, sub: &str, rg: &str, name: &str) -> Result<IdentityRecord, ApiError> {
    existing_group(tx, sub, rg)?;
    tx.identity(sub, &key_of(rg), &key_of(name))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "ParentResourceNotFound",
                format!(
                    "Can not perform requested operation on nested resource. Parent resource '{name}' not found."
                ),
            )
        })
}

fn not_found(identity: &str, fic: &str, rg: &str) -> ApiError {
    ApiError::resource_not_found(
        &format!("{IDENTITY_TYPE}/{identity}/federatedIdentityCredentials"),
        fic,
        rg,
    )
}

/// The `properties` of a PUT.
struct Properties {
    issuer: String,
    subject: Option<String>,
    audiences: Vec<String>,
    claims: Option<Value>,
}

impl Properties {
    /// Reads and checks them; `claims_ok` when the api-version has `claimsMatchingExpression`
    /// (elsewhere it is not part of the schema and is ignored).
    fn read(body: &serde_json::Map<String, Value>, claims_ok: bool) -> Result<Self, ApiError> {
        let props = match body.get("properties") {
            Some(Value::Object(map)) if !map.is_empty() => map,
            _ => {
                return Err(bad(
                    "Federated Identity Credential from HTTP body has empty properties",
                ));
            }
        };
        let text = |key: &str| match props.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(other) => Err(bad(format!(
                "The federated identity credential property '{key}' must be a non-empty string, found {}.",
                validate::kind_of(other)
            ))),
        };
        let issuer = text("issuer")?.ok_or_else(|| required("issuer"))?;
        if reqwest::Url::parse(&issuer)
            .map_or(true, |u| u.scheme() != "https" || u.host().is_none())
        {
            return Err(bad(format!(
                "The issuer '{issuer}' is invalid: it must be an absolute https URL."
            )));
        }
        let claims = match props.get("claimsMatchingExpression") {
            Some(v @ Value::Object(map)) if claims_ok => {
                if !map.get("value").is_some_and(Value::is_string) {
                    return Err(bad(
                        "The claimsMatchingExpression must have a string 'value'.",
                    ));
                }
                Some(v.clone())
            }
            None | Some(Value::Null) => None,
            Some(_) if !claims_ok => None,
            Some(other) => {
                return Err(bad(format!(
                    "The claimsMatchingExpression must be an object, found {}.",
                    validate::kind_of(other)
                )));
            }
        };
        let subject = text("subject")?;
        match (&subject, &claims) {
            (None, None) => return Err(required("subject")),
            (Some(_), Some(_)) => {
                return Err(bad(
                    "A federated identity credential has either a subject or a claimsMatchingExpression, not both.",
                ));
            }
            (Some(s), None) if s.chars().count() > MAX_CLAIM_LEN => {
                return Err(bad(format!(
                    "The subject is longer than {MAX_CLAIM_LEN} characters."
                )));
            }
            _ => {}
        }
        let audiences = match props.get("audiences") {
            None | Some(Value::Null) => return Err(required("audiences")),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(bad(format!(
                    "The federated identity credential property 'audiences' must be an array, found {}.",
                    validate::kind_of(other)
                )));
            }
        };
        let audiences: Vec<String> = match audiences.as_slice() {
            [Value::String(a)] if !a.trim().is_empty() && a.chars().count() <= MAX_CLAIM_LEN => {
                vec![a.clone()]
            }
            _ => {
                return Err(bad(
                    "Federated identity credentials must have exactly 1 audience.",
                ));
            }
        };
        Ok(Self {
            issuer,
            subject,
            audiences,
            claims,
        })
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("BadRequest", message)
}

fn required(key: &str) -> ApiError {
    bad(format!(
        "The federated identity credential property '{key}' is required."
    ))
}

/// Renders a stored credential in the shape of the spec's examples.
pub fn render(
    identity: &IdentityRecord,
    sub: &str,
    record: &FicRecord,
    claims_ok: bool,
) -> FederatedCredential {
    FederatedCredential {
        id: format!(
            "/subscriptions/{sub}/resourcegroups/{}/providers/{IDENTITY_TYPE}/{}/federatedIdentityCredentials/{}",
            identity.resource_group, identity.name, record.name
        ),
        name: record.name.clone(),
        kind: FIC_TYPE.to_string(),
        properties: FederatedCredentialProperties {
            issuer: record.issuer.clone(),
            subject: record.subject.clone().unwrap_or_default(),
            audiences: record.audiences.clone(),
            claims_matching_expression: record.claims.clone().filter(|_| claims_ok),
        },
    }
}
