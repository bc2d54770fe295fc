//! Resource Graph's per-user quota: N queries per window of S seconds for each caller,
//! reported in `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (`hh:mm:ss`).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Queries allowed per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSpec {
    /// Queries per window (at least 1).
    pub queries: u32,
    /// Window length (at least one second).
    pub window: Duration,
}

impl Default for QuotaSpec {
    /// 15 queries per 5-second window, the documented example.
    fn default() -> Self {
        QuotaSpec {
            queries: 15,
            window: Duration::from_secs(5),
        }
    }
}

/// Why a quota text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a Resource Graph quota: expected N/SECONDS with N and SECONDS from 1 to 86400, e.g. 15/5"
)]
pub struct QuotaParseError(String);

impl FromStr for QuotaSpec {
    type Err = QuotaParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || QuotaParseError(text.to_string());
        let (n, s) = text.split_once('/').ok_or_else(bad)?;
        let queries: u32 = n.trim().parse().map_err(|_| bad())?;
        let seconds: u64 = s.trim().parse().map_err(|_| bad())?;
        if !(1..=86_400).contains(&queries) || !(1..=86_400).contains(&seconds) {
            return Err(bad());
        }
        Ok(QuotaSpec {
            queries,
            window: Duration::from_secs(seconds),
        })
    }
}

impl fmt::Display for QuotaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.queries, self.window.as_secs())
    }
}

/// The outcome of taking one query from a caller's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the query may run.
    pub allowed: bool,
    /// Queries left in the window after this one.
    pub remaining: u32,
    /// Time until the window resets.
    pub resets_after: Duration,
}

/// Each caller's current window.
#[derive(Debug)]
pub struct Quota {
    spec: QuotaSpec,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Quota {
    /// A quota of this size for every caller.
    pub fn new(spec: QuotaSpec) -> Quota {
        Quota {
            spec,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one query of `caller`'s window, opening a new window when the last one is over.
    pub fn take(&self, caller: &str) -> Verdict {
        let now = Instant::now();
        let mut windows = match self.windows.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = windows.entry(caller.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.spec.window {
            *entry = (now, 0);
        }
        let resets_after = self.spec.window.saturating_sub(now.duration_since(entry.0));
        if entry.1 >= self.spec.queries {
            return Verdict {
                allowed: false,
                remaining: 0,
                resets_after,
            };
        }
        entry.1 = entry.1.saturating_add(1);
        Verdict {
            allowed: true,
            remaining: self.spec.queries.saturating_sub(entry.1),
            resets_after,
        }
    }
}

/// `hh:mm:ss` of a duration, rounded up to whole seconds.
pub fn hh_mm_ss(d: Duration) -> String {
    let secs = ceil_secs(d);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Whole seconds, rounded up.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_texts() {
        assert_eq!("15/5".parse::<QuotaSpec>(), Ok(QuotaSpec::default()));
        for bad in ["15", "0/5", "5/0", "a/b", "-1/5", "15/5/1"] {
            assert!(bad.parse::<QuotaSpec>().is_err(), "{bad}");
        }
        assert_eq!(hh_mm_ss(Duration::from_millis(4_200)), "00:00:05");
        assert_eq!(hh_mm_ss(Duration::from_secs(3_725)), "01:02:05");
    }

    #[test]
    fn windows_are_per_caller() {
        let quota = Quota::new("2/60".parse().expect("valid"));
        assert_eq!(quota.take("a").remaining, 1);
        assert!(quota.take("a").allowed);
        assert!(!quota.take("a").allowed);
        assert!(quota.take("b").allowed);
    }
}
