//! Throttle-aware pacing shared by every request of a client: ARM reports the tokens left
//! in its bucket (`x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`), so the
//! client slows down before the bucket is empty, at the refill rate it observes, and after a
//! 429 every worker waits out Retry-After together instead of retrying as a herd.
//! The decisions are a pure state machine over instants, so they are tested in virtual time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::HeaderMap;

/// ARM's three request buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// GET and HEAD.
    Reads,
    /// PUT, PATCH and POST.
    Writes,
    /// DELETE.
    Deletes,
}

impl Kind {
    /// The bucket a request draws from.
    pub fn of(method: &Method) -> Kind {
        match *method {
            Method::GET | Method::HEAD => Kind::Reads,
            Method::DELETE => Kind::Deletes,
            _ => Kind::Writes,
        }
    }

    fn header(self) -> &'static str {
        match self {
            Kind::Reads => "x-ms-ratelimit-remaining-subscription-reads",
            Kind::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            Kind::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The remaining tokens a response reports for this kind.
    pub fn remaining(self, headers: &HeaderMap) -> Option<u32> {
        headers
            .get(self.header())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    }
}

/// Observations shorter than this are too noisy to estimate a refill rate from.
const RATE_WINDOW: Duration = Duration::from_millis(250);
/// How long to wait for answers when nothing else tells when tokens come back.
const LISTEN: Duration = Duration::from_millis(50);

/// What the client knows of one bucket.
#[derive(Debug, Default, Clone)]
pub struct Bucket {
    remaining: Option<f64>,
    seen_at: Option<Instant>,
    in_flight: u32,
    rate: Option<f64>,
    window: Option<(Instant, f64, u32)>,
    pause_until: Option<Instant>,
}

impl Bucket {
    /// `None`: send now (the request is counted as in flight). `Some(d)`: ask again after `d`.
    pub fn decide(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.pause_until.filter(|u| *u > now) {
            return Some(until - now);
        }
        let Some(remaining) = self.remaining else {
            self.in_flight += 1;
            return None;
        };
        let since = self
            .seen_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        let available = remaining + self.rate.unwrap_or(0.0) * since - f64::from(self.in_flight);
        if available >= 1.0 || (self.in_flight == 0 && self.rate.is_none()) {
            // Either a token is there, or nothing in flight will tell more: a single probe.
            self.in_flight += 1;
            return None;
        }
        match self.rate {
            // The rate comes from server headers: a NaN or an infinity must not panic here.
            Some(rate) if rate > 0.0 => Some(
                Duration::try_from_secs_f64(((1.0 - available) / rate).clamp(0.002, 5.0))
                    .unwrap_or(LISTEN),
            ),
            _ => Some(LISTEN),
        }
    }

    /// Takes in an answer: the tokens it reports, or the Retry-After of a 429.
    pub fn observe(
        &mut self,
        now: Instant,
        remaining: Option<u32>,
        throttled_for: Option<Duration>,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(wait) = throttled_for {
            // A server's Retry-After is untrusted: the pause never passes the bound.
            let wait = wait.min(super::retry::MAX_WAIT);
            let until = now.checked_add(wait).unwrap_or(now);
            self.pause_until = Some(self.pause_until.map_or(until, |u| u.max(until)));
            self.remaining = Some(0.0);
            self.seen_at = Some(until);
            self.window = None;
            return;
        }
        let Some(remaining) = remaining.map(f64::from) else {
            return;
        };
        self.window = match self.window {
            None => Some((now, remaining, 0)),
            Some((start, at_start, answers)) => {
                let answers = answers + 1;
                let span = now.saturating_duration_since(start);
                if span >= RATE_WINDOW {
                    // Tokens now = tokens then - tokens spent (one per answer) + refill.
                    let estimate = (remaining - at_start + f64::from(answers)) / span.as_secs_f64();
                    if estimate >= 0.0 {
                        self.rate =
                            Some(self.rate.map_or(estimate, |old| 0.5 * old + 0.5 * estimate));
                    }
                    Some((now, remaining, 0))
                } else {
                    Some((start, at_start, answers))
                }
            }
        };
        self.remaining = Some(remaining);
        self.seen_at = Some(now);
    }
}

/// The buckets of one client, shared by all its requests.
#[derive(Debug, Default)]
pub struct Pacer {
    buckets: Mutex<[Bucket; 3]>,
}

impl Pacer {
    /// Whether to send now, or how long to wait first.
    pub fn decide(&self, kind: Kind, now: Instant) -> Option<Duration> {
        match self.buckets.lock() {
            Ok(mut b) => b[kind.index()].decide(now),
            Err(_) => None,
        }
    }

    /// Records an answer (or a failure to get one: `remaining` and `throttled_for` both `None`).
    pub fn observe(
        &self,
        kind: Kind,
        now: Instant,
        remaining: Option<u32>,
        throttled_for: Option<Duration>,
    ) {
        if let Ok(mut b) = self.buckets.lock() {
            b[kind.index()].observe(now, remaining, throttled_for);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server-side token bucket in virtual time, as the emulator and ARM keep it.
    struct Server {
        tokens: f64,
        size: f64,
        rate: f64,
        at: Instant,
    }

    impl Server {
        fn take(&mut self, now: Instant) -> Result<u32, Duration> {
            self.tokens = (self.tokens + self.rate * (now - self.at).as_secs_f64()).min(self.size);
            self.at = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                Ok(self.tokens as u32)
            } else {
                Err(Duration::from_secs_f64(
                    ((1.0 - self.tokens) / self.rate).ceil().max(1.0),
                ))
            }
        }
    }

    /// `workers` clients sharing a bucket send `total` requests of `latency` each; returns
    /// (virtual seconds taken, 429s).
    fn simulate(
        total: usize,
        workers: usize,
        size: f64,
        rate: f64,
        latency: Duration,
    ) -> (f64, usize) {
        let start = Instant::now();
        let mut server = Server {
            tokens: size,
            size,
            rate,
            at: start,
        };
        let mut bucket = Bucket::default();
        let mut sent = 0;
        let mut done = 0;
        let mut throttled = 0;
        // Each worker: the time it is next free, and the answer it is waiting for.
        let mut free_at = vec![start; workers];
        let mut pending: Vec<Option<(Instant, Result<u32, Duration>)>> = vec![None; workers];
        let mut now = start;
        while done < total {
            for w in 0..workers {
                if let Some((at, answer)) = pending[w]
                    && at <= now
                {
                    pending[w] = None;
                    match answer {
                        Ok(left) => {
                            bucket.observe(now, Some(left), None);
                            done += 1;
                        }
                        Err(wait) => {
                            bucket.observe(now, None, Some(wait));
                            throttled += 1;
                            sent -= 1;
                        }
                    }
                    free_at[w] = now;
                }
                if pending[w].is_none() && sent < total && free_at[w] <= now {
                    match bucket.decide(now) {
                        None => {
                            sent += 1;
                            let arrive = now + latency / 2;
                            pending[w] = Some((now + latency, server.take(arrive)));
                        }
                        Some(wait) => free_at[w] = now + wait,
                    }
                }
            }
            now += Duration::from_millis(1);
            assert!(
                now - start < Duration::from_secs(600),
                "the simulation does not finish"
            );
        }
        ((now - start).as_secs_f64(), throttled)
    }

    #[test]
    fn without_rate_limit_headers_nothing_waits() {
        let mut b = Bucket::default();
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(b.decide(now), None);
        }
    }

    #[test]
    fn paces_to_the_refill_rate_with_few_429s() {
        // The bulk benchmark's shape: 1,000 deletes, bucket 100, refill 100/s, 16 workers.
        let (secs, throttled) = simulate(1000, 16, 100.0, 100.0, Duration::from_millis(2));
        let ideal = (1000.0 - 100.0) / 100.0;
        println!("simulated: {secs:.2}s (ideal {ideal}s), {throttled} throttled");
        assert!(
            secs < ideal * 1.15,
            "took {secs:.2}s against an ideal of {ideal}s"
        );
        assert!(throttled < 50, "{throttled} requests were throttled");
    }

    #[test]
    fn a_429_pauses_every_worker_together() {
        let mut b = Bucket::default();
        let now = Instant::now();
        assert_eq!(b.decide(now), None);
        b.observe(now, None, Some(Duration::from_secs(2)));
        let later = now + Duration::from_millis(500);
        let wait = b.decide(later).expect("paused");
        assert_eq!(wait, Duration::from_millis(1500));
        // After the pause, a single probe learns what the bucket holds.
        let after = now + Duration::from_secs(2);
        assert_eq!(b.decide(after), None);
        assert!(
            b.decide(after).is_some(),
            "one probe at a time while nothing is known"
        );
    }

    #[test]
    fn a_huge_retry_after_pauses_no_longer_than_the_bound() {
        let mut b = Bucket::default();
        let now = Instant::now();
        assert_eq!(b.decide(now), None);
        b.observe(now, None, Some(Duration::MAX));
        let wait = b.decide(now).expect("paused");
        assert!(wait <= super::super::retry::MAX_WAIT, "{wait:?}");
        // A refill estimate from absurd headers does not panic either.
        let mut b = Bucket::default();
        b.observe(now, Some(u32::MAX), None);
        b.observe(now + Duration::from_secs(1), Some(0), None);
        for _ in 0..3 {
            let _ = b.decide(now + Duration::from_secs(1));
        }
    }

    #[test]
    fn kinds_follow_the_method() {
        assert_eq!(Kind::of(&Method::GET), Kind::Reads);
        assert_eq!(Kind::of(&Method::HEAD), Kind::Reads);
        assert_eq!(Kind::of(&Method::PUT), Kind::Writes);
        assert_eq!(Kind::of(&Method::PATCH), Kind::Writes);
        assert_eq!(Kind::of(&Method::DELETE), Kind::Deletes);
    }
}
