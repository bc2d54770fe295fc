//! ARM-style throttling: one token bucket per subscription and kind of request (reads,
//! writes, deletes), the `x-ms-ratelimit-remaining-subscription-*` headers and the 429
//! `SubscriptionRequestsThrottled` answer. The clock is injected so the refill maths is
//! tested without sleeping. This module knows nothing of routes or handlers.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::emulator::server::error::ApiError;

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// GET and HEAD (and any other method that changes nothing).
    Reads,
    /// PUT, PATCH and POST.
    Writes,
    /// DELETE.
    Deletes,
}

impl Kind {
    /// The bucket of a request method.
    pub fn of(method: &Method) -> Kind {
        match *method {
            Method::PUT | Method::PATCH | Method::POST => Kind::Writes,
            Method::DELETE => Kind::Deletes,
            _ => Kind::Reads,
        }
    }

    /// The header that reports what is left in this bucket.
    pub fn header(self) -> &'static str {
        match self {
            Kind::Reads => "x-ms-ratelimit-remaining-subscription-reads",
            Kind::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            Kind::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    /// The word ARM's throttling message uses: `read`, `write` or `delete`.
    fn singular(self) -> &'static str {
        match self {
            Kind::Reads => "read",
            Kind::Writes => "write",
            Kind::Deletes => "delete",
        }
    }

    /// The word of a profile: `reads`, `writes` or `deletes`.
    fn plural(self) -> &'static str {
        match self {
            Kind::Reads => "reads",
            Kind::Writes => "writes",
            Kind::Deletes => "deletes",
        }
    }
}

/// One bucket's shape: how many tokens it holds and how fast it refills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Bucket size: requests that may be made at once after a rest (at least 1).
    pub size: u32,
    /// Tokens added per second (positive; may be fractional, e.g. 0.5).
    pub refill_per_sec: f64,
}

/// Which kinds are limited, and how; a kind without a limit is never throttled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThrottleProfile {
    /// GET and HEAD.
    pub reads: Option<Limit>,
    /// PUT, PATCH and POST.
    pub writes: Option<Limit>,
    /// DELETE.
    pub deletes: Option<Limit>,
}

impl ThrottleProfile {
    /// No throttling at all (the default).
    pub fn off() -> Self {
        Self::default()
    }

    /// ARM's published per-subscription limits: reads 250/25, writes 200/10, deletes 200/10.
    pub fn arm() -> Self {
        Self {
            reads: Some(Limit {
                size: 250,
                refill_per_sec: 25.0,
            }),
            writes: Some(Limit {
                size: 200,
                refill_per_sec: 10.0,
            }),
            deletes: Some(Limit {
                size: 200,
                refill_per_sec: 10.0,
            }),
        }
    }

    /// The limit of one kind, if any.
    pub fn limit(&self, kind: Kind) -> Option<Limit> {
        match kind {
            Kind::Reads => self.reads,
            Kind::Writes => self.writes,
            Kind::Deletes => self.deletes,
        }
    }

    /// Whether no kind is limited.
    pub fn is_off(&self) -> bool {
        self.reads.is_none() && self.writes.is_none() && self.deletes.is_none()
    }

    fn slot(&mut self, kind: Kind) -> &mut Option<Limit> {
        match kind {
            Kind::Reads => &mut self.reads,
            Kind::Writes => &mut self.writes,
            Kind::Deletes => &mut self.deletes,
        }
    }
}

/// Why a `--throttle` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThrottleParseError {
    /// A part is not `KIND=SIZE/RATE`.
    #[error(
        "'{part}' is not a throttle limit: expected off, arm, or KIND=SIZE/RATE[,...] \
         (e.g. writes=200/10) with KIND one of reads, writes, deletes"
    )]
    Syntax {
        /// The offending part.
        part: String,
    },
    /// The kind is not reads, writes or deletes.
    #[error("'{kind}' is not a kind of request to throttle: expected reads, writes or deletes")]
    UnknownKind {
        /// The offending kind.
        kind: String,
    },
    /// A kind was named twice.
    #[error("'{kind}' is limited twice in the throttle profile")]
    Repeated {
        /// The repeated kind.
        kind: String,
    },
    /// The bucket size is not a whole number of at least 1.
    #[error("'{size}' is not a bucket size: expected a whole number of at least 1")]
    Size {
        /// The offending size.
        size: String,
    },
    /// The refill rate is not a positive number.
    #[error("'{rate}' is not a refill rate: expected a positive number of tokens per second")]
    Rate {
        /// The offending rate.
        rate: String,
    },
}

impl FromStr for ThrottleProfile {
    type Err = ThrottleParseError;

    /// `off`, `arm`, or `reads=B/R,writes=B/R,deletes=B/R` (any subset, any order).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(Self::off());
        }
        if value.eq_ignore_ascii_case("arm") {
            return Ok(Self::arm());
        }
        let mut profile = Self::off();
        for part in value.split(',').map(str::trim) {
            let syntax = || ThrottleParseError::Syntax { part: part.into() };
            let (name, limit) = part.split_once('=').ok_or_else(syntax)?;
            let (size, rate) = limit.split_once('/').ok_or_else(syntax)?;
            let name = name.trim();
            let kind = [Kind::Reads, Kind::Writes, Kind::Deletes]
                .into_iter()
                .find(|k| k.plural().eq_ignore_ascii_case(name))
                .ok_or_else(|| ThrottleParseError::UnknownKind { kind: name.into() })?;
            let size = size
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|s| *s >= 1)
                .ok_or_else(|| ThrottleParseError::Size { size: size.into() })?;
            let refill_per_sec = rate
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| ThrottleParseError::Rate { rate: rate.into() })?;
            let slot = profile.slot(kind);
            if slot.is_some() {
                return Err(ThrottleParseError::Repeated {
                    kind: kind.plural().into(),
                });
            }
            *slot = Some(Limit {
                size,
                refill_per_sec,
            });
        }
        Ok(profile)
    }
}

impl fmt::Display for ThrottleProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [Kind::Reads, Kind::Writes, Kind::Deletes]
            .into_iter()
            .filter_map(|k| {
                self.limit(k)
                    .map(|l| format!("{}={}/{}", k.plural(), l.size, l.refill_per_sec))
            })
            .collect();
        if parts.is_empty() {
            f.write_str("off")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// What time it is; the real monotonic clock in the emulator, a hand-moved one in tests.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The throttle's answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead; this many whole tokens are left.
    Allowed {
        /// Whole tokens left after this request.
        remaining: u64,
    },
    /// Refused; a token will be available after this many whole seconds (at least 1).
    Throttled {
        /// Seconds until a token is available, rounded up.
        retry_after: u64,
    },
}

/// A bucket's fill at a moment.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Every subscription's buckets, under one lock.
pub struct Throttle {
    profile: ThrottleProfile,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<(String, Kind), Bucket>>,
}

impl Throttle {
    /// Buckets of this shape, timed by `clock`; each starts full.
    pub fn new(profile: ThrottleProfile, clock: Arc<dyn Clock>) -> Self {
        Self {
            profile,
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for a request of `kind` on subscription `sub` (a store key); `None` when
    /// that kind is not limited.
    pub fn take(&self, sub: &str, kind: Kind) -> Option<Verdict> {
        let limit = self.profile.limit(kind)?;
        let now = self.clock.now();
        let size = f64::from(limit.size);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry((sub.to_string(), kind)).or_insert(Bucket {
            tokens: size,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.refill_per_sec).min(size);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Some(Verdict::Allowed {
                remaining: bucket.tokens.floor() as u64,
            })
        } else {
            let wait = (1.0 - bucket.tokens) / limit.refill_per_sec;
            Some(Verdict::Throttled {
                retry_after: (wait.ceil() as u64).max(1),
            })
        }
    }
}

/// Adds the remaining-tokens header of `kind` to a response.
pub fn stamp(response: &mut Response, kind: Kind, remaining: u64) {
    response
        .headers_mut()
        .insert(kind.header(), HeaderValue::from(remaining));
}

/// The 429 ARM answers when a bucket is empty, with `Retry-After` in whole seconds.
pub fn throttled(kind: Kind, sub: &str, actor: &str, retry_after: u64) -> Response {
    let error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "SubscriptionRequestsThrottled",
        format!(
            "Number of '{}' requests for subscription '{sub}' actor '{actor}' exceeded. \
             Please try again after '{retry_after}' seconds after additional tokens are available. \
             Refer to https://aka.ms/arm-throttling for additional information.",
            kind.singular()
        ),
    );
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    stamp(&mut response, kind, 0);
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A clock that moves only when told to.
    struct Manual(Mutex<Instant>);

    impl Manual {
        fn advance(&self, by: Duration) {
            let mut now = self.0.lock().unwrap();
            *now += by;
        }
    }

    impl Clock for Manual {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    fn throttle(profile: &str) -> (Throttle, Arc<Manual>) {
        let clock = Arc::new(Manual(Mutex::new(Instant::now())));
        let throttle = Throttle::new(profile.parse().unwrap(), clock.clone());
        (throttle, clock)
    }

    fn allowed(remaining: u64) -> Option<Verdict> {
        Some(Verdict::Allowed { remaining })
    }

    fn throttled_for(retry_after: u64) -> Option<Verdict> {
        Some(Verdict::Throttled { retry_after })
    }

    #[test]
    fn a_full_bucket_drains_then_refuses() {
        let (t, _clock) = throttle("writes=3/1");
        assert_eq!(t.take("s", Kind::Writes), allowed(2));
        assert_eq!(t.take("s", Kind::Writes), allowed(1));
        assert_eq!(t.take("s", Kind::Writes), allowed(0));
        assert_eq!(t.take("s", Kind::Writes), throttled_for(1));
        assert_eq!(
            t.take("s", Kind::Writes),
            throttled_for(1),
            "a refused request takes nothing"
        );
    }

    #[test]
    fn refill_is_proportional_to_time_and_capped_at_the_size() {
        let (t, clock) = throttle("writes=2/0.5");
        t.take("s", Kind::Writes);
        t.take("s", Kind::Writes);
        assert_eq!(t.take("s", Kind::Writes), throttled_for(2), "0.5/s: 2 s");
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            t.take("s", Kind::Writes),
            throttled_for(1),
            "half a token after 1 s"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(t.take("s", Kind::Writes), allowed(0));
        clock.advance(Duration::from_secs(3600));
        assert_eq!(
            t.take("s", Kind::Writes),
            allowed(1),
            "never more than the size"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let (t, clock) = throttle("deletes=1/0.3");
        assert_eq!(t.take("s", Kind::Deletes), allowed(0));
        assert_eq!(
            t.take("s", Kind::Deletes),
            throttled_for(4),
            "1/0.3 = 3.33 s"
        );
        clock.advance(Duration::from_millis(3300));
        assert_eq!(
            t.take("s", Kind::Deletes),
            throttled_for(1),
            "0.01 s left is still 1 s"
        );
        clock.advance(Duration::from_millis(40));
        assert_eq!(t.take("s", Kind::Deletes), allowed(0));
    }

    #[test]
    fn buckets_are_per_subscription_and_kind() {
        let (t, _clock) = throttle("reads=1/1,writes=1/1");
        assert_eq!(t.take("a", Kind::Writes), allowed(0));
        assert_eq!(t.take("a", Kind::Writes), throttled_for(1));
        assert_eq!(
            t.take("b", Kind::Writes),
            allowed(0),
            "another subscription"
        );
        assert_eq!(t.take("a", Kind::Reads), allowed(0), "another kind");
        assert_eq!(
            t.take("a", Kind::Deletes),
            None,
            "unnamed kinds are unlimited"
        );
    }

    #[test]
    fn methods_map_onto_kinds() {
        let cases = [
            (Method::GET, Kind::Reads),
            (Method::HEAD, Kind::Reads),
            (Method::OPTIONS, Kind::Reads),
            (Method::PUT, Kind::Writes),
            (Method::PATCH, Kind::Writes),
            (Method::POST, Kind::Writes),
            (Method::DELETE, Kind::Deletes),
        ];
        for (method, kind) in cases {
            assert_eq!(Kind::of(&method), kind, "{method}");
        }
    }

    #[test]
    fn profiles_parse() {
        let limit = |size, refill_per_sec| {
            Some(Limit {
                size,
                refill_per_sec,
            })
        };
        let cases = [
            ("off", ThrottleProfile::off()),
            ("OFF", ThrottleProfile::off()),
            ("arm", ThrottleProfile::arm()),
            (
                "writes=5/0.5",
                ThrottleProfile {
                    writes: limit(5, 0.5),
                    ..ThrottleProfile::off()
                },
            ),
            (
                "deletes=1/2, reads=10/1",
                ThrottleProfile {
                    reads: limit(10, 1.0),
                    deletes: limit(1, 2.0),
                    ..ThrottleProfile::off()
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<ThrottleProfile>(), Ok(want), "{text}");
        }
        assert_eq!(
            ThrottleProfile::arm().to_string(),
            "reads=250/25,writes=200/10,deletes=200/10"
        );
        assert_eq!(ThrottleProfile::off().to_string(), "off");
    }

    #[test]
    fn bad_profiles_name_the_bad_value() {
        let cases = [
            ("", "'' is not a throttle limit"),
            ("fast", "'fast' is not a throttle limit"),
            ("writes=5", "'writes=5' is not a throttle limit"),
            ("puts=5/1", "'puts' is not a kind of request"),
            ("writes=0/1", "'0' is not a bucket size"),
            ("writes=-1/1", "'-1' is not a bucket size"),
            ("writes=1.5/1", "'1.5' is not a bucket size"),
            ("writes=5/0", "'0' is not a refill rate"),
            ("writes=5/-1", "'-1' is not a refill rate"),
            ("writes=5/inf", "'inf' is not a refill rate"),
            ("writes=5/NaN", "'NaN' is not a refill rate"),
            ("writes=5/1,writes=6/1", "'writes' is limited twice"),
            ("writes=5/1,", "'' is not a throttle limit"),
        ];
        for (text, want) in cases {
            let err = text.parse::<ThrottleProfile>().unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
