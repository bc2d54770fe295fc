//! What clients read before they call anything: the Microsoft.ManagedIdentity operations
//! list and the cloud metadata (`/metadata/endpoints`) that `az cloud register` fetches.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate;
use crate::emulator::state::{Ctx, json};

/// The operations Microsoft.ManagedIdentity publishes (as recorded from Azure).
const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "identities/read",
        "Managed Service Identity",
        "Get System Assigned Identity",
        "Gets an existing system assigned identity",
    ),
    (
        "operations/read",
        "Operations",
        "Lists operations available on Microsoft.ManagedIdentity resource provider",
        "Lists operations available on Microsoft.ManagedIdentity resource provider",
    ),
    (
        "register/action",
        "Managed Service Identity",
        "Register Microsoft.ManagedIdentity resource provider",
        "Registers the subscription for the managed identity resource provider",
    ),
    (
        "userAssignedIdentities/read",
        "User Assigned Identities",
        "Get User Assigned Identity",
        "Gets an existing user assigned identity",
    ),
    (
        "userAssignedIdentities/write",
        "User Assigned Identities",
        "Create/Update User Assigned Identity",
        "Creates a new user assigned identity or updates the tags associated with an existing user assigned identity",
    ),
    (
        "userAssignedIdentities/delete",
        "User Assigned Identities",
        "Delete User Assigned Identity",
        "Deletes an existing user assigned identity",
    ),
    (
        "userAssignedIdentities/assign/action",
        "User Assigned Identities",
        "Assign User Assigned Identity",
        "RBAC action for assigning an existing user assigned identity to a resource",
    ),
    (
        "userAssignedIdentities/listAssociatedResources/action",
        "User Assigned Identities",
        "List Associated Resources",
        "Lists all associated resources for an existing user assigned identity",
    ),
    (
        "userAssignedIdentities/federatedIdentityCredentials/read",
        "Federated Identity Credentials",
        "Get Federated Identity Credential",
        "Gets an existing federated identity credential",
    ),
    (
        "userAssignedIdentities/federatedIdentityCredentials/write",
        "Federated Identity Credentials",
        "Create/Update Federated Identity Credential",
        "Add or update a federated identity credential",
    ),
    (
        "userAssignedIdentities/federatedIdentityCredentials/delete",
        "Federated Identity Credentials",
        "Delete Federated Identity Credential",
        "Deletes an existing federated identity credential",
    ),
];

/// The operation api-versions from 2023-07-31-preview on add to the list.
const REVOKE_TOKENS: (&str, &str, &str, &str) = (
    "userAssignedIdentities/revokeTokens/action",
    "User Assigned Identities",
    "Revoke Tokens",
    "Revokes the tokens issued to an existing user assigned identity",
);

/// `GET /providers/Microsoft.ManagedIdentity/operations` (Operations_List).
pub fn msi_operations(ctx: &Ctx) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::msi_version(ctx.api_version(), "operations")?;
    let revoke = ctx
        .api_version()
        .is_some_and(|v| v >= validate::REVOKE_TOKENS_SINCE);
    let value: Vec<Value> = OPERATIONS
        .iter()
        .chain(revoke.then_some(&REVOKE_TOKENS))
        .map(|(name, resource, operation, description)| {
            json!({
                "name": format!("Microsoft.ManagedIdentity/{name}"),
                "display": {
                    "provider": "Managed Service Identity",
                    "resource": resource,
                    "operation": operation,
                    "description": description,
                }
            })
        })
        .collect();
    json(StatusCode::OK, &json!({ "value": value }))
}

/// The first api-version of `/metadata/endpoints` that answers with the one cloud this ARM
/// serves as an object; earlier versions answer with an array of clouds. The Azure CLI
/// (`az cloud register`) asks for 2022-09-01 and indexes the answer as an object.
const SINGLE_CLOUD_VERSION: &str = "2022-09-01";

/// `GET /metadata/endpoints`. Azure answers in three shapes, by api-version: the legacy
/// flat one for 2015-01-01, an array of clouds for the versions in between (2019-05-01,
/// 2020-06-01), and the single cloud object from 2022-09-01 on.
pub fn metadata_endpoints(ctx: &Ctx) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    let base = format!("{}/", ctx.base_url);
    match ctx.api_version() {
        None => Err(ApiError::missing_api_version()),
        Some("2015-01-01") => json(
            StatusCode::OK,
            &json!({
                "galleryEndpoint": base,
                "graphEndpoint": base,
                "portalEndpoint": base,
                "authentication": { "loginEndpoint": base, "audiences": [base, "https://management.azure.com/"] }
            }),
        ),
        // Date-shaped versions compare correctly as strings.
        Some(v) if v >= SINGLE_CLOUD_VERSION => json(StatusCode::OK, &cloud(&base)),
        Some(_) => json(StatusCode::OK, &json!([cloud(&base)])),
    }
}

/// The emulator as a cloud: every endpoint is the emulator itself.
fn cloud(base: &str) -> Value {
    json!({
        "name": "AzidEmulator",
        "portal": base,
        "resourceManager": base,
        "gallery": base,
        "graph": base,
        "graphAudience": base,
        "microsoftGraphResourceId": base,
        "activeDirectoryDataLake": base,
        "batch": base,
        "media": base,
        "sqlManagement": base,
        "vmImageAliasDoc": base,
        "authentication": {
            "loginEndpoint": base,
            "audiences": [base, "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD"
        },
        "suffixes": {
            "acrLoginServer": "azurecr.io",
            "keyVaultDns": "vault.azure.net",
            "sqlServerHostname": "database.windows.net",
            "storage": "core.windows.net"
        }
    })
}
