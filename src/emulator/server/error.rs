//! `ApiError`: every failure the emulator answers with, rendered as ARM's error envelope.
//! Internal faults (a broken store) are logged and answered with a generic 500; their
//! details never reach the wire.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::model::{ErrorBody, ErrorResponse};

/// An ARM error: HTTP status plus `{"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the response.
    pub status: StatusCode,
    /// ARM error code.
    pub code: &'static str,
    /// ARM error message.
    pub message: String,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with the given code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 AuthenticationFailed: no usable Authorization header.
    pub fn authentication_failed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AuthenticationFailed", message)
    }

    /// 401 InvalidAuthenticationToken: a token was given but is not ours.
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )
    }

    /// 403 AuthorizationFailed: the caller's roles do not grant `action` at `scope`.
    pub fn authorization_failed(
        client_id: &str,
        object_id: &str,
        action: &str,
        scope: &str,
    ) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client '{client_id}' with object id '{object_id}' does not have authorization to perform \
                 action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, \
                 please refresh your credentials."
            ),
        )
    }

    /// 400 MissingApiVersionParameter.
    pub fn missing_api_version() -> Self {
        Self::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    }

    /// 400 InvalidRequestContent: the body could not be read as the operation's JSON.
    pub fn invalid_content(detail: impl std::fmt::Display) -> Self {
        Self::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{detail}'."),
        )
    }

    /// 400 LocationRequired.
    pub fn location_required() -> Self {
        Self::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        )
    }

    /// 404 SubscriptionNotFound.
    pub fn subscription_not_found(sub: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{sub}' could not be found."),
        )
    }

    /// 404 ResourceGroupNotFound.
    pub fn group_not_found(rg: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        )
    }

    /// 409 ResourceGroupBeingDeleted.
    pub fn group_being_deleted(rg: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "ResourceGroupBeingDeleted",
            format!(
                "The resource group '{rg}' is in deprovisioning state and cannot perform this operation."
            ),
        )
    }

    /// 404 ResourceNotFound for a resource of `kind` (e.g. `Microsoft.ManagedIdentity/userAssignedIdentities`).
    pub fn resource_not_found(kind: &str, name: &str, rg: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource '{kind}/{name}' under resource group '{rg}' was not found. \
                 For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    /// 404 for a path the emulator does not serve.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("The requested path '{path}' was not found."),
        )
    }

    /// 405 for a known path and an unsupported method.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The requested resource does not support http method '{method}'."),
        )
    }

    /// 500 for a fault inside the emulator; the cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        eprintln!("azid emulator: internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Encountered internal server error. Please try again later.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            error: ErrorBody {
                code: self.code.to_string(),
                message: self.message,
                target: None,
                details: Vec::new(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", \
                     error_description=\"The authentication failed because of missing 'Authorization' header.\"",
                ),
            );
        }
        response
    }
}

impl From<crate::emulator::store::StoreError> for ApiError {
    fn from(e: crate::emulator::store::StoreError) -> Self {
        Self::internal(e)
    }
}
