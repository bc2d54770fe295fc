//! The retry policy: which failures are retried, and how long to wait — the larger of an
//! exponential backoff with jitter and the server's Retry-After. The clock is injected so
//! the policy is tested without sleeping.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::error::ArmError;

/// The longest wait azid accepts from a server (Retry-After, polling intervals): past it the
/// call fails with the server's code and the wait it asked for.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// How many times to try and how long to wait between tries.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second try; doubled for each further one.
    pub base_delay: Duration,
    /// Cap of the backoff (Retry-After may ask for longer, and is honoured).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure (1-based); `jitter` in [0, 1) spreads
    /// clients apart; Retry-After, when given, is a floor.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let capped = exp.min(self.max_delay);
        let jittered = capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        jittered
            .max(retry_after.unwrap_or(Duration::ZERO))
            .min(MAX_WAIT)
    }
}

/// A failed try: the error, and the Retry-After the server sent with it.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: ArmError,
    /// The server's requested wait.
    pub retry_after: Option<Duration>,
}

/// Something that can wait; tokio's clock in production, a recorder in tests.
pub trait Clock: Send + Sync {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock.
#[derive(Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Runs `attempt(n)` (n from 1) until it succeeds, fails for good, or the tries run out.
/// Returns the outcome and how many tries were made. Only call this for idempotent requests.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    clock: &dyn Clock,
    mut attempt: F,
) -> (Result<T, ArmError>, u32)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut n = 1;
    loop {
        match attempt(n).await {
            Ok(value) => return (Ok(value), n),
            Err(failure) if failure.error.is_retryable() && n < policy.max_attempts.max(1) => {
                let wait = policy.delay(n, failure.retry_after, rand::random::<f64>());
                tracing::debug!(attempt = n, wait_ms = wait.as_millis() as u64, error = %failure.error, "retrying");
                clock.sleep(wait).await;
                n += 1;
            }
            Err(failure) => return (Err(failure.error), n),
        }
    }
}

/// Reads `Retry-After` (seconds or an HTTP date) or `x-ms-retry-after-ms`. The values are
/// the server's: a number too large for a `Duration` saturates instead of overflowing.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("x-ms-retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| whole_number(v.trim()))
    {
        return Some(Duration::from_millis(ms));
    }
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Some(secs) = whole_number(value) {
        return Some(Duration::from_secs(secs));
    }
    let when =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let ms = (when - time::OffsetDateTime::now_utc())
        .whole_milliseconds()
        .max(0);
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
}

/// A run of ASCII digits as a number, saturating at `u64::MAX`; anything else is `None`.
fn whole_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Duration>>);

    impl Clock for Recorder {
        fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            self.0.lock().unwrap().push(duration);
            Box::pin(async {})
        }
    }

    fn api(status: u16) -> ArmError {
        ArmError::Api {
            status,
            code: "X".into(),
            message: "m".into(),
            request_id: None,
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn backoff_doubles_is_capped_and_honours_retry_after() {
        let p = policy();
        assert_eq!(p.delay(1, None, 1.0), Duration::from_millis(100));
        assert_eq!(p.delay(2, None, 1.0), Duration::from_millis(200));
        assert_eq!(p.delay(3, None, 1.0), Duration::from_millis(400));
        assert_eq!(p.delay(9, None, 1.0), Duration::from_secs(1), "capped");
        assert_eq!(
            p.delay(1, None, 0.0),
            Duration::from_millis(50),
            "jitter takes off at most half"
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(7)), 0.3),
            Duration::from_secs(7),
            "Retry-After wins when longer"
        );
    }

    #[test]
    fn transient_failures_are_retried_until_success() {
        let clock = Recorder::default();
        let (out, tries) = block_on(retry(&policy(), &clock, |n| async move {
            match n {
                1 => Err(Failure {
                    error: api(503),
                    retry_after: None,
                }),
                2 => Err(Failure {
                    error: api(429),
                    retry_after: Some(Duration::from_secs(3)),
                }),
                _ => Ok(n),
            }
        }));
        assert_eq!((out.unwrap(), tries), (3, 3));
        let sleeps = clock.0.lock().unwrap().clone();
        assert_eq!(sleeps.len(), 2);
        assert!(sleeps[0] >= Duration::from_millis(50) && sleeps[0] <= Duration::from_millis(100));
        assert!(
            sleeps[1] >= Duration::from_secs(3),
            "waited out Retry-After"
        );
    }

    #[test]
    fn permanent_failures_are_not_retried_and_tries_are_bounded() {
        for status in [400, 401, 403, 404, 409] {
            let clock = Recorder::default();
            let (out, tries) = block_on(retry(&policy(), &clock, |_| async move {
                Err::<(), _>(Failure {
                    error: api(status),
                    retry_after: None,
                })
            }));
            assert_eq!((out.unwrap_err().status(), tries), (Some(status), 1));
            assert!(clock.0.lock().unwrap().is_empty());
        }
        let clock = Recorder::default();
        let (out, tries) = block_on(retry(&policy(), &clock, |_| async {
            Err::<(), _>(Failure {
                error: ArmError::Transport {
                    url: "u".into(),
                    message: "reset".into(),
                },
                retry_after: None,
            })
        }));
        assert!(out.is_err());
        assert_eq!(tries, 4);
        assert_eq!(clock.0.lock().unwrap().len(), 3);
    }

    #[test]
    fn authorization_failed_is_sent_once() {
        // A 403 will not turn into a 200 by asking again, however ARM words it.
        let denied = ArmError::Api {
            status: 403,
            code: "AuthorizationFailed".into(),
            message: "The client 'c' with object id 'o' does not have authorization ...".into(),
            request_id: Some("r".into()),
        };
        assert!(!denied.is_retryable());
        let clock = Recorder::default();
        let (out, tries) = block_on(retry(&policy(), &clock, |_| {
            let error = denied.clone();
            async move {
                Err::<(), _>(Failure {
                    error,
                    retry_after: Some(Duration::from_secs(1)),
                })
            }
        }));
        assert_eq!(out.unwrap_err().code(), "AuthorizationFailed");
        assert_eq!(tries, 1);
        assert!(clock.0.lock().unwrap().is_empty(), "no wait, no second try");
    }

    #[test]
    fn retry_after_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "12".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(12)));
        h.insert("x-ms-retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
    }

    #[test]
    fn hostile_retry_after_values_saturate_and_waits_are_bounded() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "18446744073709551615".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(u64::MAX)));
        h.insert(
            "retry-after",
            "999999999999999999999999999999".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(u64::MAX)));
        h.insert(
            "x-ms-retry-after-ms",
            "99999999999999999999".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_millis(u64::MAX)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "-5".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        let p = policy();
        assert_eq!(
            p.delay(1, Some(Duration::MAX), 0.5),
            MAX_WAIT,
            "no wait is longer than the bound"
        );
    }
}
