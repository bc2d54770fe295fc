//! ARM's error envelope: `{"error":{"code","message"}}`.

use serde::{Deserialize, Serialize};

/// The body of every ARM error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error itself.
    pub error: ErrorBody,
}

/// Code and message of an ARM error; `target` and `details` are optional in the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// PascalCase error code, e.g. `ResourceNotFound`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// What the error is about, where ARM names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Nested errors, where ARM gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorBody>,
}
