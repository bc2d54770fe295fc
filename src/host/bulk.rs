//! The array forms' plumbing: the bulk runner with the host's concurrency, stop flag and
//! progress bar, the result and summary maps scripts receive, and the report of an
//! interrupted run.

use rhai::{Array, Dynamic, Map};

use super::convert::error_map;
use super::locks::LockCache;
use super::plan::{Change, Plan};
use super::{Done, HostState};
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
    bulk_run_since(s, (s.client.stats(), std::time::Instant::now()), ids, work)
}

/// [`bulk_run`] for a call that began earlier (`since`: the client's traffic and the time
/// then), with reads of its own before the run: its summary counts them too.
pub(super) fn bulk_run_since<I, T, F, Fut>(
    s: &HostState,
    since: (crate::arm::Stats, std::time::Instant),
    ids: Vec<I>,
    work: F,
) -> Vec<Item<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, ArmError>> + Send + 'static,
{
    bulk_run_slotted_since(s, since, ids, move |item, _slot| work(item))
}

/// `bulk_run_since`, where each item's work is handed its place among those in flight
/// (see `bulk::Slot`).
pub(super) fn bulk_run_slotted_since<I, T, F, Fut>(
    s: &HostState,
    since: (crate::arm::Stats, std::time::Instant),
    ids: Vec<I>,
    work: F,
) -> Vec<Item<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I, std::sync::Arc<bulk::Slot>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, ArmError>> + Send + 'static,
{
    let (before, started) = since;
    let progress = if s.progress {
        output::progress_bar()
    } else {
        None
    };
    let items = s.runtime.block_on(bulk::run_slotted(
        ids,
        s.concurrency.get(),
        s.interrupted.clone(),
        progress,
        work,
    ));
    let summary = Summary::of(&items, s.client.stats() - before, started.elapsed());
    s.count(|d| d.not_started += summary.skipped);
    *s.last_summary.borrow_mut() = Some(summary);
    items
}

/// Hands back an array call's results, keeping a copy when Ctrl-C cut the call short: the
/// script stops at its next operation, before it could store them, and the REPL offers them.
pub(super) fn keep_if_cut(s: &HostState, results: Array) -> Array {
    if s.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        *s.cut_short.borrow_mut() = Some(results.clone());
    }
    results
}

/// In a dry-run, turns the results of an array call whose planned changes (`(result index,
/// change, resource id)`) the caller's permissions would refuse into failures: `ok: false`
/// and the `AuthorizationFailed` the real call would get. One permissions lookup per group.
pub(super) fn mark_would_fail(
    s: &HostState,
    changes: &[(usize, Change, String)],
    results: &mut Array,
) {
    mark_would_fail_with(s, changes, results, &mut LockCache::new());
}

/// [`mark_would_fail`], also for the changes a management lock would stop (`ScopeLocked`,
/// 409), with the locks already read in `locks` (the rest are read once per subscription).
pub(super) fn mark_would_fail_with(
    s: &HostState,
    changes: &[(usize, Change, String)],
    results: &mut Array,
    locks: &mut LockCache,
) {
    let mut batch = Plan::default();
    for (_, change, id) in changes {
        batch.record(*change, id.clone());
    }
    super::access::check_plan(s, &mut batch);
    super::locks::check_plan(s, &mut batch, locks);
    let mut failed = 0;
    for ((index, ..), planned) in changes.iter().zip(batch.items()) {
        let (code, status, message) = match (&planned.denied, &planned.locked) {
            (Some(denied), _) => (
                "AuthorizationFailed",
                403,
                format!(
                    "would fail: the caller may not {} at {}",
                    denied.action, denied.scope
                ),
            ),
            (None, Some(scopes)) => (
                "ScopeLocked",
                409,
                format!(
                    "would fail: {} is locked at {}",
                    planned.id,
                    scopes.join(", ")
                ),
            ),
            (None, None) => continue,
        };
        let Some(result) = results.get_mut(*index) else {
            continue;
        };
        let Some(mut map) = result.write_lock::<Map>() else {
            continue;
        };
        if map.get("ok").and_then(|v| v.as_bool().ok()) == Some(false) {
            continue;
        }
        let mut error = Map::new();
        error.insert("code".into(), code.into());
        error.insert("message".into(), message.into());
        error.insert("status".into(), Dynamic::from_int(status));
        map.insert("ok".into(), false.into());
        map.insert("status".into(), Dynamic::from_int(status));
        map.insert("error".into(), error.into());
        failed += 1;
    }
    if let Some(summary) = s.last_summary.borrow_mut().as_mut() {
        summary.done = summary.done.saturating_sub(failed);
        summary.failed = summary.failed.saturating_add(failed);
    }
}

/// The line printed when Ctrl-C stops a script or a REPL entry: the writes `done` counts.
pub fn interruption_report(done: Done) -> String {
    format!(
        "interrupted: {} created, {} updated, {} deleted, {} not started before the script stopped",
        done.created, done.updated, done.deleted, done.not_started
    )
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
