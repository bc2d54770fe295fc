//! The array forms' plumbing: the bulk runner with the host's concurrency, stop flag and
//! progress bar, and the result and summary maps scripts receive.

use rhai::{Dynamic, Map};

use super::HostState;
use super::convert::error_map;
use crate::arm::bulk::{self, Item, Outcome, Summary};
use crate::arm::{ArmError, IdentityRef};
use crate::output;

/// Runs a bulk call on the runtime with the host's concurrency, stop flag and progress bar,
/// and keeps its summary for `bulk_summary()`.
pub(super) fn bulk_run<I, T, F, Fut>(s: &HostState, ids: Vec<I>, work: F) -> Vec<Item<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, ArmError>> + Send + 'static,
{
    let before = s.client.stats();
    let started = std::time::Instant::now();
    let progress = if s.progress {
        output::progress_bar()
    } else {
        None
    };
    let items = s.runtime.block_on(bulk::run(
        ids,
        s.concurrency.get(),
        s.interrupted.clone(),
        progress,
        work,
    ));
    *s.last_summary.borrow_mut() = Some(Summary::of(
        &items,
        s.client.stats() - before,
        started.elapsed(),
    ));
    items
}

/// `#{id, name, ok, status, error, attempts}` for one item of an array call.
pub(super) fn result_map(id: &IdentityRef, item: Item<u16>) -> Dynamic {
    let mut map = Map::new();
    map.insert("id".into(), id.id().into());
    map.insert("name".into(), id.name.clone().into());
    let (ok, status, error) = match item.outcome {
        Outcome::Done(status) => (true, Dynamic::from_int(i64::from(status)), Dynamic::UNIT),
        Outcome::Failed(e) => {
            let status = e
                .status()
                .map_or(Dynamic::UNIT, |s| Dynamic::from_int(i64::from(s)));
            (false, status, error_map(&e).into())
        }
        Outcome::NotStarted => {
            let mut e = Map::new();
            e.insert("code".into(), "NotStarted".into());
            e.insert(
                "message".into(),
                "not sent: the run was interrupted first".into(),
            );
            e.insert("status".into(), Dynamic::UNIT);
            (false, Dynamic::UNIT, e.into())
        }
    };
    map.insert("ok".into(), ok.into());
    map.insert("status".into(), status);
    map.insert("error".into(), error);
    map.insert(
        "attempts".into(),
        Dynamic::from_int(i64::from(item.attempts)),
    );
    map.into()
}

/// A bulk summary as scripts see it.
pub(super) fn summary_map(summary: &Summary) -> Map {
    let mut map = Map::new();
    for (k, v) in [
        ("done", summary.done),
        ("failed", summary.failed),
        ("skipped", summary.skipped),
        ("throttled", summary.throttled as usize),
        ("retries", summary.retries as usize),
    ] {
        map.insert(k.into(), Dynamic::from_int(v as i64));
    }
    map.insert(
        "elapsed_ms".into(),
        Dynamic::from_int(summary.elapsed.as_millis() as i64),
    );
    map
}
