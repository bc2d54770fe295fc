//! Resource Graph reads packed many rows to a row. A page holds at most 1,000 rows and every
//! page costs one query of the caller's quota (15 per 5 s), so 20,000 rows read plainly wait
//! out a second window. Packed, the rows are grouped into buckets by a hash of their id
//! (Microsoft's paging advice, GRAPH-AND-LOCKS.md §3) and each bucket comes back as one row
//! holding the list of its rows (`summarize make_list(pack(...))`): a few pages, each sized
//! from the one before to stay far below ARG's 16 MB answer limit.

use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ArmClient;
use super::error::ArmError;
use super::graph::{GraphScope, MAX_PAGE, PageRequest, kql_string};

/// A page of a packed query: buckets, each the list of its rows.
#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<Bucket<T>>,
}

/// What a page says of the pages after it, read before its rows are decoded: the next page
/// is asked for while this one's rows are decoded on another thread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default)]
    total_records: u64,
    #[serde(rename = "$skipToken", default)]
    skip_token: Option<String>,
    #[serde(default = "Vec::new")]
    data: Vec<serde::de::IgnoredAny>,
}

/// One bucket.
#[derive(Deserialize)]
struct Bucket<T> {
    #[serde(rename = "azidRows", default = "Vec::new")]
    rows: Vec<T>,
}

/// The rows of a packed read.
#[derive(Debug)]
pub struct Packed<T> {
    /// Every row, sorted by the key asked for.
    pub rows: Vec<T>,
    /// Requests sent.
    pub requests: u64,
}

/// The buckets' modulus: `hash % 1000` makes at most 1,999 buckets (the hash is signed), a
/// few rows each in a small tenant, a few thousand in one of millions of rows; either way
/// far below ARG's 16 MB a bucket.
const BUCKETS: u64 = 1000;
/// The size of answer a page aims at (ARG refuses answers past 16 MiB).
const PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Buckets asked for in the first page, before their size is known (halved while ARG finds
/// the answer too large).
const FIRST_PAGE: u64 = 50;
/// The most pages one packed query follows.
const MAX_PAGES: usize = 100_000;

/// How each row is packed into its bucket's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// `pack(name, value, ...)`: an object, read by column name.
    Objects,
    /// `pack_array(value, ...)`: the values alone, in column order, for a row type whose
    /// fields are in that order; a third of the bytes, and no names to build or read.
    Arrays,
}

/// The packed form of `source`: its rows in `buckets` buckets, each `columns` (name, KQL
/// expression) packed as `packing` says.
fn packed_query(source: &str, columns: &[(&str, &str)], buckets: u64, packing: Packing) -> String {
    let row = match packing {
        Packing::Objects => {
            let fields: Vec<String> = columns
                .iter()
                .map(|(name, expr)| format!("{}, {expr}", kql_string(name)))
                .collect();
            format!("pack({})", fields.join(", "))
        }
        Packing::Arrays => {
            let values: Vec<&str> = columns.iter().map(|(_, expr)| *expr).collect();
            format!("pack_array({})", values.join(", "))
        }
    };
    format!(
        "{source} | extend azidBucket = hash(tolower(id)) % {buckets} \
         | summarize azidRows = make_list({row}) by azidBucket | order by azidBucket asc"
    )
}

/// The next page size: as many buckets as `PAGE_BYTES` holds at the size the last page showed.
fn next_top(bytes: usize, rows: usize) -> u64 {
    let per_row = (bytes / rows.max(1)).max(1);
    u64::try_from(PAGE_BYTES / per_row)
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE)
}

/// The `id` of a row read as an object: the sort key of most packed reads.
pub fn by_id(row: &serde_json::Map<String, Value>) -> &str {
    row.get("id").and_then(Value::as_str).unwrap_or("")
}

impl ArmClient {
    /// Every row of `source` (KQL whose rows have an `id`) as `T`, decoded from objects of
    /// `columns` (name, expression), read packed; sorted by `key`.
    pub async fn graph_rows_packed<T: DeserializeOwned + Send + 'static>(
        &self,
        source: &str,
        columns: &[(&str, &str)],
        packing: Packing,
        scope: &GraphScope,
        key: fn(&T) -> &str,
    ) -> Result<Packed<T>, ArmError> {
        let (sink, mut pages) = tokio::sync::mpsc::unbounded_channel();
        let requests = self
            .graph_pages_packed(source, columns, packing, scope, move |rows: Vec<T>| {
                // The receiver is read below, once every page is in.
                let _ = sink.send(rows);
            })
            .await?;
        let mut rows = Vec::new();
        while let Ok(page) = pages.try_recv() {
            rows.extend(page);
        }
        rows.sort_by(|a, b| key(a).cmp(key(b)));
        Ok(Packed { rows, requests })
    }

    /// The rows of [`ArmClient::graph_rows_packed`], unsorted, handed to `each` a page at a
    /// time as each page is decoded (on a blocking thread, while the next page is fetched,
    /// and not necessarily in page order); returns the requests sent. Every page has been
    /// handed over when this returns `Ok`.
    pub async fn graph_pages_packed<T, F>(
        &self,
        source: &str,
        columns: &[(&str, &str)],
        packing: Packing,
        scope: &GraphScope,
        each: F,
    ) -> Result<u64, ArmError>
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Vec<T>) + Send + Sync + 'static,
    {
        let each = Arc::new(each);
        let query = packed_query(source, columns, BUCKETS, packing);
        let mut requests = 0u64;
        for batch in scope.batches() {
            requests =
                requests.saturating_add(self.packed_batch(&query, &batch, each.clone()).await?);
        }
        Ok(requests)
    }

    async fn packed_batch<T, F>(
        &self,
        query: &str,
        scope: &GraphScope,
        each: Arc<F>,
    ) -> Result<u64, ArmError>
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Vec<T>) + Send + Sync + 'static,
    {
        let (mut top, mut token, mut fetched) = (FIRST_PAGE, None::<String>, 0u64);
        let mut requests = 0u64;
        // Below the size that was refused: every later page stays under it.
        let mut ceiling = MAX_PAGE;
        // The pages' rows, decoded on blocking threads while later pages are fetched.
        let mut decoding = Vec::new();
        for _ in 0..MAX_PAGES {
            let request = PageRequest {
                first: Some(top),
                // A server that pages without tokens is followed by offset.
                skip: token.is_none().then_some(fetched).filter(|f| *f > 0),
                skip_token: token.clone(),
            };
            let reply = match self.graph_page_reply(query, scope, &request).await {
                Ok(reply) => reply,
                Err(e) if e.is_too_large() && top > 1 => {
                    top /= 2;
                    ceiling = top;
                    continue;
                }
                Err(e) => return Err(e),
            };
            requests = requests.saturating_add(1);
            let head: Head = super::decode(&reply)?;
            let buckets = head.data.len();
            fetched = fetched.saturating_add(buckets as u64);
            top = next_top(reply.body.len(), buckets).min(ceiling);
            token = head.skip_token.filter(|t| !t.is_empty());
            let each = each.clone();
            decoding.push(tokio::task::spawn_blocking(move || {
                let page = super::decode::<Page<T>>(&reply)?;
                each(page.data.into_iter().flat_map(|b| b.rows).collect());
                Ok::<_, ArmError>(())
            }));
            if buckets == 0 || (token.is_none() && fetched >= head.total_records) {
                for page in decoding {
                    page.await.map_err(|e| ArmError::Decode {
                        status: 200,
                        message: format!("decoding a page stopped: {e}"),
                    })??;
                }
                return Ok(requests);
            }
        }
        Err(ArmError::Decode {
            status: 200,
            message: format!("the query did not end after {MAX_PAGES} pages"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_query_groups_rows_by_a_hash_of_their_id() {
        let columns = [("id", "id"), ("it's", "name")];
        let q = packed_query("resources", &columns, 3, Packing::Objects);
        assert_eq!(
            q,
            "resources | extend azidBucket = hash(tolower(id)) % 3 | summarize azidRows = \
             make_list(pack('id', id, 'it\\'s', name)) by azidBucket | order by azidBucket asc"
        );
        let q = packed_query("resources", &columns, 3, Packing::Arrays);
        assert!(
            q.contains("make_list(pack_array(id, name)) by azidBucket"),
            "{q}"
        );
    }

    #[test]
    fn pages_are_sized_from_the_last_answer() {
        assert_eq!(next_top(1000, 10), MAX_PAGE, "small rows: a full page");
        assert_eq!(next_top(PAGE_BYTES * 4, 8), 2);
        assert_eq!(next_top(usize::MAX, 1), 1, "never less than a row");
        assert_eq!(next_top(0, 0), MAX_PAGE);
    }
}
