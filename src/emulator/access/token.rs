//! The App-Service-style managed identity token endpoint (`IDENTITY_ENDPOINT` +
//! `X-IDENTITY-HEADER`, api-version 2019-08-01) and the JWT-shaped tokens it issues.
//! Tokens are HMAC-signed with a key kept in the store, so they stay valid across restarts
//! of the same data file; the emulator accepts them as bearer tokens until they expire.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::emulator::server::error::ApiError;
use crate::emulator::state::{AppState, Ctx, json};

/// The only api-version of the App Service token protocol served.
const TOKEN_API_VERSION: &str = "2019-08-01";
/// How long an issued token lives (Azure's managed identity tokens last about a day).
const TOKEN_LIFETIME_SECS: i64 = 24 * 3600;

/// The claims of an issued token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Audience: the resource the token was asked for.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Tenant id.
    pub tid: String,
    /// Object (principal) id of the identity.
    pub oid: String,
    /// Client (application) id of the identity.
    pub appid: String,
    /// Subject: the principal id.
    pub sub: String,
    /// Identity type: always `app`.
    pub idtyp: String,
}

/// `GET /msi/token?api-version=2019-08-01&resource=...[&client_id=...]`.
pub fn endpoint(state: &Arc<AppState>, ctx: &Ctx) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    let header = ctx
        .headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if header.is_empty() || !bool::from(header.as_bytes().ct_eq(state.identity_header.as_bytes())) {
        return Ok(failure(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or wrong.",
        ));
    }
    if ctx.api_version() != Some(TOKEN_API_VERSION) {
        return Ok(failure(
            StatusCode::BAD_REQUEST,
            "The api-version must be 2019-08-01.",
        ));
    }
    let Some(resource) = ctx.query.get("resource").filter(|r| !r.is_empty()) else {
        return Ok(failure(
            StatusCode::BAD_REQUEST,
            "The 'resource' query parameter is required.",
        ));
    };
    // A user-assigned identity is chosen by client id, object (principal) id or resource id.
    let wanted = ["client_id", "object_id", "principal_id", "mi_res_id"]
        .iter()
        .find_map(|k| ctx.query.get(*k).map(|v| (*k, v.as_str())));
    let (client_id, principal_id) = match wanted {
        None => (
            state.host_client_id.clone(),
            state.host_principal_id.clone(),
        ),
        Some((kind, value)) => {
            let found = state.store.read(|tx| match kind {
                "client_id" => tx.identity_by_client_id(value),
                "mi_res_id" => {
                    let parts: Vec<&str> = value.split('/').collect();
                    match (parts.get(2), parts.get(4), parts.get(8)) {
                        (Some(sub), Some(rg), Some(name)) if parts.len() == 9 => tx.identity(
                            &sub.to_ascii_lowercase(),
                            &rg.to_lowercase(),
                            &name.to_lowercase(),
                        ),
                        _ => Ok(None),
                    }
                }
                _ => tx.identity_by_principal_id(value),
            })?;
            match found {
                Some(identity) => (identity.client_id, identity.principal_id),
                None => {
                    return Ok(failure(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "No user-assigned identity with {kind} '{value}' exists in the emulator."
                        ),
                    ));
                }
            }
        }
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        aud: resource.clone(),
        iss: format!("https://sts.windows.net/{}/", state.tenant_id),
        iat: now,
        nbf: now - 300,
        exp: now + TOKEN_LIFETIME_SECS,
        tid: state.tenant_id.clone(),
        oid: principal_id.clone(),
        appid: client_id.clone(),
        sub: principal_id,
        idtyp: "app".into(),
    };
    let token = sign(&state.signing_key, &claims).map_err(ApiError::internal)?;
    json(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "expires_on": claims.exp.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }),
    )
}

/// Checks a token the endpoint issued: signature, expiry and tenant.
pub fn verify(state: &AppState, token: &str) -> Result<Claims, ApiError> {
    let mut parts = token.split('.');
    let (Some(head), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ApiError::invalid_token());
    };
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| ApiError::invalid_token())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.signing_key).map_err(ApiError::internal)?;
    mac.update(head.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| ApiError::invalid_token())?;
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(ApiError::invalid_token)?;
    let now = time::OffsetDateTime::now_utc();
    if claims.exp <= now.unix_timestamp() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                time::OffsetDateTime::from_unix_timestamp(claims.exp)
                    .map_or_else(|_| claims.exp.to_string(), |t| t.to_string()),
                now
            ),
        ));
    }
    if claims.tid != state.tenant_id {
        return Err(ApiError::invalid_token());
    }
    if crate::emulator::resources::revoke::revoked(state, &claims.appid, claims.iat)? {
        return Err(ApiError::invalid_token());
    }
    Ok(claims)
}

fn sign(key: &[u8], claims: &Claims) -> Result<String, String> {
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(|e| e.to_string())?);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(head.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok(format!("{head}.{payload}.{sig}"))
}

/// The App Service error body: `{"statusCode", "message"}`.
fn failure(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "statusCode": status.as_u16(), "message": message })),
    )
        .into_response()
}
