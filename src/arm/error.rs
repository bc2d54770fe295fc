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
    /// The endpoint answered with a redirect; ARM calls are never redirected, so it was not
    /// followed (and the token went nowhere else).
    #[error(
        "{url} answered {status} redirecting to {location}; azid does not follow redirects of ARM calls"
    )]
    Redirect {
        /// The URL that was called.
        url: String,
        /// The 3xx status.
        status: u16,
        /// The Location header, or `(none)`.
        location: String,
    },
    /// The server asked to wait before a retry for longer than azid waits.
    #[error(
        "({code}) the server asked to wait {wait_secs} s before trying again, more than the {bound_secs} s azid waits: {message}"
    )]
    WaitTooLong {
        /// HTTP status.
        status: u16,
        /// ARM error code.
        code: String,
        /// ARM error message.
        message: String,
        /// The wait the server asked for, in seconds (saturated at u64::MAX).
        wait_secs: u64,
        /// The longest wait azid accepts, in seconds.
        bound_secs: u64,
    },
    /// Ctrl-C or SIGTERM arrived while the call was waiting; a request already sent may or
    /// may not have taken effect.
    #[error("interrupted while waiting for {url}")]
    Interrupted {
        /// The URL that was being called.
        url: String,
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

    /// Whether an ARM answer with this status and code is worth asking again. Any other 409
    /// (a `ScopeLocked` from a management lock, say) stays until someone acts: never retried.
    pub fn retryable_status(status: u16, code: &str) -> bool {
        matches!(status, 429 | 500 | 502 | 503 | 504)
            // Another client's credential write to the same identity: try again shortly.
            || (status == 409
                && code == "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity")
    }

    /// Whether sending the same idempotent request again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => Self::retryable_status(*status, code),
            Self::Transport { .. } => true,
            _ => false,
        }
    }

    /// HTTP status, where ARM answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. }
            | Self::Decode { status, .. }
            | Self::Redirect { status, .. }
            | Self::WaitTooLong { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// ARM error code, or a code naming the local failure.
    pub fn code(&self) -> &str {
        match self {
            Self::Api { code, .. } | Self::WaitTooLong { code, .. } => code,
            Self::Redirect { .. } => "Redirected",
            Self::Interrupted { .. } => "Interrupted",
            Self::Invalid { .. } => "InvalidArgument",
            Self::Transport { .. } => "ConnectionFailed",
            Self::Tls { .. } => "TlsFailed",
            Self::Credential { .. } => "CredentialUnavailable",
            Self::ForeignLink { .. } => "ForeignLink",
            Self::Decode { .. } => "UnexpectedResponse",
        }
    }

    /// Whether Resource Graph refused the answer as larger than its limit (16 MiB), a detail
    /// of its `BadRequest`.
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::Api { status: 400, message, .. } if message.contains("(ResponsePayloadTooLarge)"))
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
