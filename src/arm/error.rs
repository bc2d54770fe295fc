//! `ArmError`: every way an ARM call can fail, typed, with whether a retry is safe.
//! Rendering for users happens at the edge (`crate::error`); this only carries the facts.

/// A failed ARM call, or a call refused before it was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmError {
    /// Input broke a rule; nothing was sent.
    #[error("invalid {what} '{value}': {rule}")]
    Invalid {
        /// What the value is (e.g. "identity name").
        what: &'static str,
        /// The value as given.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// ARM answered with an error status.
    #[error("({code}) {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// ARM error code.
        code: String,
        /// ARM error message.
        message: String,
        /// `x-ms-request-id` of the response, if any.
        request_id: Option<String>,
    },
    /// The request did not get an answer (connection refused, reset, timed out).
    #[error("could not reach {url}: {message}")]
    Transport {
        /// The URL that was called.
        url: String,
        /// What failed.
        message: String,
    },
    /// The TLS handshake failed (an untrusted or invalid certificate); not retried.
    #[error("could not connect securely to {url}: {message}")]
    Tls {
        /// The URL that was called.
        url: String,
        /// What failed.
        message: String,
    },
    /// No token could be had.
    #[error("could not get a token from the {source_name} credential: {message}")]
    Credential {
        /// Which credential.
        source_name: String,
        /// Why it failed.
        message: String,
    },
    /// A nextLink or Location pointed away from the configured endpoint; it was not followed.
    #[error(
        "refusing to follow {link}: it does not point at the configured endpoint {endpoint}, and the token is only sent there"
    )]
    ForeignLink {
        /// The link.
        link: String,
        /// The configured endpoint.
        endpoint: String,
    },
    /// A success response could not be read.
    #[error("unexpected response from ARM ({status}): {message}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
    },
}

impl ArmError {
    /// A local validation failure.
    pub fn invalid(what: &'static str, value: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            value: value.into(),
            rule: rule.into(),
        }
    }

    /// Whether sending the same idempotent request again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => {
                matches!(status, 429 | 500 | 502 | 503 | 504)
                    // Another client's credential write to the same identity: try again shortly.
                    || (*status == 409 && code == "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity")
            }
            Self::Transport { .. } => true,
            _ => false,
        }
    }

    /// HTTP status, where ARM answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// ARM error code, or a code naming the local failure.
    pub fn code(&self) -> &str {
        match self {
            Self::Api { code, .. } => code,
            Self::Invalid { .. } => "InvalidArgument",
            Self::Transport { .. } => "ConnectionFailed",
            Self::Tls { .. } => "TlsFailed",
            Self::Credential { .. } => "CredentialUnavailable",
            Self::ForeignLink { .. } => "ForeignLink",
            Self::Decode { .. } => "UnexpectedResponse",
        }
    }

    /// The message without the code.
    pub fn message(&self) -> String {
        match self {
            Self::Api { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// The response's `x-ms-request-id`, where there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// A 404 for the resource itself or for its group.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }
}
