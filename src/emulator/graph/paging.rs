//! Resource Graph's skip tokens: opaque base64 text holding the next offset, the page size
//! and a hash of the query and scope, so that a token only continues the query it came from.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::emulator::server::error::ApiError;

/// Where the next page starts, for which query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Rows already returned.
    #[serde(rename = "o")]
    pub offset: u64,
    /// Rows per page.
    #[serde(rename = "n")]
    pub size: u64,
    /// Hash of the query text and scope.
    #[serde(rename = "h")]
    pub hash: String,
}

/// The hash that ties a token to a query and its scope.
pub fn fingerprint(query: &str, scope: &[String]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(query.as_bytes());
    for s in scope {
        hasher.update([0u8]);
        hasher.update(s.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Cursor {
    /// The token text.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    /// Reads a token sent back with a query of this fingerprint; 400 when it is not one of
    /// ours or belongs to another query or scope.
    pub fn decode(token: &str, hash: &str) -> Result<Cursor, ApiError> {
        let bad = |why: &str| {
            ApiError::bad_request(
                "InvalidSkipToken",
                format!("The skip token '{token}' is invalid: {why}."),
            )
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .map_err(|_| bad("it is not base64"))?;
        let cursor: Cursor = serde_json::from_slice(&bytes)
            .map_err(|_| bad("it was not issued by this Resource Graph"))?;
        if cursor.hash != hash {
            return Err(bad(
                "it belongs to another query or scope; send it with the same query and scope as the page it came with",
            ));
        }
        if cursor.size == 0 || cursor.size > super::request::MAX_TOP {
            return Err(bad("its page size is out of range"));
        }
        Ok(cursor)
    }
}
