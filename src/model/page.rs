//! One page of an ARM collection: `{"value":[...],"nextLink":"..."}`.

use serde::{Deserialize, Serialize};

/// A page of a list; `next_link` is absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub value: Vec<T>,
    /// Absolute URL of the next page, absent (or null) on the last one.
    #[serde(rename = "nextLink", default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}
