//! Latency and fault injection, seeded so that a test or a user can replay a run: the same
//! seed gives the same latencies and the same fault decisions for the same sequence of
//! requests. A fault is a 500, a 503 or a dropped connection, before the handler runs or
//! after its write was applied. This module decides and renders; `state.rs` decides where.

use std::convert::Infallible;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::emulator::server::alarm::Alarm;
use crate::emulator::server::error::ApiError;

/// How long each request waits before it is handled: uniform between `min` and `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Shortest delay.
    pub min: Duration,
    /// Longest delay (at least `min`).
    pub max: Duration,
}

/// Why a `--latency` or `--fault-rate` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultsParseError {
    /// Not `MS` or `MS..MS`.
    #[error("'{value}' is not a latency: expected milliseconds, MS or MS..MS (e.g. 20..80)")]
    Latency {
        /// The offending value.
        value: String,
    },
    /// A range whose end is before its start.
    #[error("'{value}' is not a latency range: the first bound must not exceed the second")]
    LatencyOrder {
        /// The offending value.
        value: String,
    },
    /// Not a number from 0 to 1.
    #[error("'{value}' is not a fault rate: expected a number from 0 to 1 (e.g. 0.05)")]
    Rate {
        /// The offending value.
        value: String,
    },
}

impl FromStr for Latency {
    type Err = FaultsParseError;

    /// `MS` (fixed) or `MS..MS` (uniform between the two, inclusive).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let ms = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| FaultsParseError::Latency {
                    value: value.into(),
                })
        };
        let (min, max) = match value.split_once("..") {
            Some((lo, hi)) => (ms(lo)?, ms(hi)?),
            None => (ms(value)?, ms(value)?),
        };
        if min > max {
            return Err(FaultsParseError::LatencyOrder {
                value: value.into(),
            });
        }
        Ok(Latency { min, max })
    }
}

/// Reads a fault rate: a share of requests from 0 to 1.
pub fn parse_fault_rate(value: &str) -> Result<f64, FaultsParseError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|p| valid_rate(*p))
        .ok_or_else(|| FaultsParseError::Rate {
            value: value.into(),
        })
}

/// Whether a rate is a share from 0 to 1 (NaN is not).
pub fn valid_rate(rate: f64) -> bool {
    (0.0..=1.0).contains(&rate)
}

/// How an injected fault fails the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 InternalServerError.
    Internal,
    /// 503 ServiceUnavailable with `Retry-After: 1`.
    Unavailable,
    /// The TCP connection is closed without any HTTP response.
    Drop,
}

/// When an injected fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the handler: nothing was done.
    Before,
    /// After the handler: its write was applied, but the client does not learn of it.
    After,
}

/// One request's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// How it fails.
    pub fault: Fault,
    /// When.
    pub phase: Phase,
}

/// When one request is handled and answered under `--latency`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// When the handler runs: halfway through the delay.
    pub handled: std::time::Instant,
    /// When the answer leaves: the end of the delay.
    pub answered: std::time::Instant,
}

/// The seeded dice; latency and faults roll separately, so that requests which get
/// latency but no faults (the token endpoint) do not shift the fault sequence.
pub struct Faults {
    rate: f64,
    latency: Option<Latency>,
    fault_rng: Mutex<StdRng>,
    latency_rng: Mutex<StdRng>,
    /// What keeps the latency's deadlines (started only when there is latency).
    alarm: Option<Alarm>,
}

impl Faults {
    /// Faults at `rate` (0..=1) and the given latency, from `seed`.
    pub fn new(rate: f64, latency: Option<Latency>, seed: u64) -> Self {
        Self {
            rate,
            latency,
            fault_rng: Mutex::new(StdRng::seed_from_u64(seed)),
            // A different stream of the same seed.
            latency_rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15)),
            alarm: latency.and_then(|_| Alarm::start()),
        }
    }

    /// How long this request should wait, if latency is on.
    pub fn delay(&self) -> Option<Duration> {
        let Latency { min, max } = self.latency?;
        if min == max {
            return Some(min);
        }
        let mut rng = self
            .latency_rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(rng.random_range(min..=max))
    }

    /// When a request arriving now is handled and when its answer may leave, if latency is
    /// on: halfway through its delay, and at its end. The delay is the round trip the client
    /// sees, so the handling happens within it, as a server's does within a real round trip.
    pub fn schedule(&self) -> Option<Schedule> {
        let delay = self.delay()?;
        let arrived = std::time::Instant::now();
        Some(Schedule {
            handled: arrived + delay / 2,
            answered: arrived + delay,
        })
    }

    /// Waits until `at` (never less).
    pub async fn wait_until(&self, at: std::time::Instant) {
        match &self.alarm {
            Some(alarm) => alarm.until(at).await,
            None => tokio::time::sleep_until(at.into()).await,
        }
    }

    /// Whether this request fails, and how; every call rolls the same dice, so the
    /// sequence of decisions depends only on the seed and the number of calls.
    pub fn decide(&self) -> Option<Decision> {
        if self.rate <= 0.0 {
            return None;
        }
        let (roll, which, after) = {
            let mut rng = self
                .fault_rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (
                rng.random::<f64>(),
                rng.random_range(0..3u8),
                rng.random_bool(0.5),
            )
        };
        if roll >= self.rate {
            return None;
        }
        let fault = match which {
            0 => Fault::Internal,
            1 => Fault::Unavailable,
            _ => Fault::Drop,
        };
        let phase = if after { Phase::After } else { Phase::Before };
        Some(Decision { fault, phase })
    }
}

/// Marks a response whose connection must be dropped instead of answered.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// The error that makes hyper abort a connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub struct ConnectionDropped;

/// The router never fails; tower's `map_result` needs this to pass `poll_ready` through.
impl From<Infallible> for ConnectionDropped {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

/// What the client receives for a fault.
pub fn respond(fault: Fault) -> Response {
    match fault {
        Fault::Internal => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Encountered internal server error. Please try again later.",
        )
        .into_response(),
        Fault::Unavailable => {
            let mut response = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is currently unavailable. Please try again later.",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Fault::Drop => {
            let mut response = Response::new(Body::empty());
            response.extensions_mut().insert(DropConnection);
            response
        }
    }
}

/// Wraps the router's result for hyper: a marked response becomes an error, on which hyper
/// closes the connection without writing anything (HTTP/2 resets the stream instead).
pub fn drop_marked(result: Result<Response, Infallible>) -> Result<Response, ConnectionDropped> {
    match result {
        Ok(response) if response.extensions().get::<DropConnection>().is_some() => {
            Err(ConnectionDropped)
        }
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisions(faults: &Faults, n: usize) -> Vec<Option<Decision>> {
        (0..n).map(|_| faults.decide()).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions() {
        let a = decisions(&Faults::new(0.3, None, 42), 200);
        let b = decisions(&Faults::new(0.3, None, 42), 200);
        let c = decisions(&Faults::new(0.3, None, 43), 200);
        assert_eq!(a, b);
        assert_ne!(a, c, "another seed, another sequence");
    }

    #[test]
    fn latency_does_not_shift_the_fault_sequence() {
        let latency = Some(Latency {
            min: Duration::from_millis(1),
            max: Duration::from_millis(9),
        });
        let quiet = Faults::new(0.5, latency, 7);
        let busy = Faults::new(0.5, latency, 7);
        let mut with_delays = Vec::new();
        for _ in 0..50 {
            busy.delay();
            busy.delay();
            with_delays.push(busy.decide());
        }
        assert_eq!(decisions(&quiet, 50), with_delays);
    }

    #[test]
    fn every_kind_and_phase_occurs_at_rate_one() {
        let all = decisions(&Faults::new(1.0, None, 1), 300);
        assert!(
            all.iter().all(Option::is_some),
            "rate 1 fails every request"
        );
        for fault in [Fault::Internal, Fault::Unavailable, Fault::Drop] {
            for phase in [Phase::Before, Phase::After] {
                assert!(
                    all.contains(&Some(Decision { fault, phase })),
                    "{fault:?} {phase:?}"
                );
            }
        }
    }

    #[test]
    fn the_rate_is_roughly_the_share_of_faults() {
        let n = decisions(&Faults::new(0.1, None, 5), 10_000)
            .iter()
            .filter(|d| d.is_some())
            .count();
        assert!((800..1200).contains(&n), "{n} faults in 10000 at 0.1");
        assert!(
            decisions(&Faults::new(0.0, None, 5), 1000)
                .iter()
                .all(Option::is_none)
        );
    }

    #[test]
    fn latencies_stay_in_range_and_replay() {
        let latency = Latency {
            min: Duration::from_millis(20),
            max: Duration::from_millis(80),
        };
        let a = Faults::new(0.0, Some(latency), 9);
        let b = Faults::new(0.0, Some(latency), 9);
        for _ in 0..200 {
            let d = a.delay().unwrap();
            assert!(d >= latency.min && d <= latency.max, "{d:?}");
            assert_eq!(Some(d), b.delay());
        }
        assert_eq!(Faults::new(0.0, None, 9).delay(), None);
    }

    #[test]
    fn latencies_parse() {
        let ms = Duration::from_millis;
        let cases = [
            ("0", (ms(0), ms(0))),
            ("250", (ms(250), ms(250))),
            ("20..80", (ms(20), ms(80))),
            (" 5 .. 5 ", (ms(5), ms(5))),
        ];
        for (text, (min, max)) in cases {
            assert_eq!(text.parse(), Ok(Latency { min, max }), "{text}");
        }
        let bad = [
            ("", "'' is not a latency"),
            ("fast", "'fast' is not a latency"),
            ("-5", "'-5' is not a latency"),
            ("1.5", "'1.5' is not a latency"),
            ("10..", "'10..' is not a latency"),
            ("1..2..3", "'1..2..3' is not a latency"),
            ("80..20", "'80..20' is not a latency range"),
        ];
        for (text, want) in bad {
            let err = text.parse::<Latency>().unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn fault_rates_parse() {
        assert_eq!(parse_fault_rate("0"), Ok(0.0));
        assert_eq!(parse_fault_rate("0.05"), Ok(0.05));
        assert_eq!(parse_fault_rate("1"), Ok(1.0));
        for bad in ["", "-0.1", "1.01", "NaN", "inf", "half"] {
            let err = parse_fault_rate(bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("'{bad}' is not a fault rate")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn only_marked_responses_drop_the_connection() {
        assert!(drop_marked(Ok(respond(Fault::Drop))).is_err());
        let internal = drop_marked(Ok(respond(Fault::Internal))).unwrap();
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let unavailable = drop_marked(Ok(respond(Fault::Unavailable))).unwrap();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.headers()[header::RETRY_AFTER], "1");
    }
}
