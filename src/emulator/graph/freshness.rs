//! Resource Graph's eventual consistency: with a lag L, a query at time t sees the tenant as
//! it was at t - L. Before each write ARM takes, the state as it stands is kept with the
//! time of the write; a query uses the earliest kept state whose write came after t - L
//! (nothing changed between t - L and that write), or the live state when there is none.
//! With no lag nothing is kept and every query reads the live state.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::tables::Snapshot;
use crate::emulator::store::StoreError;

/// The states a lagging Resource Graph may still show.
#[derive(Debug)]
pub struct Freshness {
    lag: Duration,
    kept: Mutex<VecDeque<(Instant, Arc<Snapshot>)>>,
}

impl Freshness {
    /// Changes become visible `lag` after they are made.
    pub fn new(lag: Duration) -> Freshness {
        Freshness {
            lag,
            kept: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether queries lag behind writes at all.
    pub fn lags(&self) -> bool {
        !self.lag.is_zero()
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, Arc<Snapshot>)>> {
        match self.kept.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Drops the states no query can need any more: those of writes older than the lag.
    fn prune(&self, kept: &mut VecDeque<(Instant, Arc<Snapshot>)>, now: Instant) {
        while kept
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= self.lag)
        {
            kept.pop_front();
        }
    }

    /// Keeps the state as it is just before a write (read by `load`); nothing without a lag.
    pub fn before_write(
        &self,
        load: impl FnOnce() -> Result<Arc<Snapshot>, StoreError>,
    ) -> Result<(), StoreError> {
        if !self.lags() {
            return Ok(());
        }
        let snapshot = load()?;
        let now = Instant::now();
        let mut kept = self.kept();
        self.prune(&mut kept, now);
        kept.push_back((now, snapshot));
        Ok(())
    }

    /// The state a query sees now.
    pub fn view(
        &self,
        load: impl FnOnce() -> Result<Arc<Snapshot>, StoreError>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        if self.lags() {
            let now = Instant::now();
            let mut kept = self.kept();
            self.prune(&mut kept, now);
            if let Some((_, snapshot)) = kept.front() {
                return Ok(snapshot.clone());
            }
        }
        load()
    }
}
