//! `--request-log FILE`: one JSON line per request answered, appended as it is answered —
//! `{"time", "method", "path", "status", "caller"}`, the path without its query and never a
//! token. A connection dropped by fault injection is logged with status 0.

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use serde_json::json;

/// An open request log.
#[derive(Debug)]
pub struct RequestLog {
    file: Mutex<std::fs::File>,
}

impl RequestLog {
    /// Opens `path` for appending (created if missing).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Appends one request's line with a single write; a failing disk never fails the request.
    pub fn record(&self, method: &str, path: &str, status: u16, caller: Option<&str>) {
        let time = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut line = json!({
            "time": time, "method": method, "path": path, "status": status, "caller": caller,
        })
        .to_string();
        line.push('\n');
        if let Ok(mut file) = self.file.lock() {
            let _ = file.write_all(line.as_bytes());
        }
    }
}
