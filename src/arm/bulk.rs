//! Bounded-concurrency fan-out with one result per item, in input order, shared by
//! `azid identity delete --ids` and the Rhai array forms. One failure never stops the
//! others; once `stop` is set no new item starts, in-flight ones end (the client cuts their
//! waits short when `stop` is its interrupt flag), and the rest are reported as not started.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::error::ArmError;

/// How one item ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// It succeeded with this value.
    Done(T),
    /// It failed.
    Failed(ArmError),
    /// It was never sent (the run was stopped first).
    NotStarted,
}

impl<T> Outcome<T> {
    /// The same outcome with the success value mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Done(v) => Outcome::Done(f(v)),
            Outcome::Failed(e) => Outcome::Failed(e),
            Outcome::NotStarted => Outcome::NotStarted,
        }
    }
}

/// One item's end: its outcome and how many HTTP attempts it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<T> {
    /// How it ended.
    pub outcome: Outcome<T>,
    /// Requests sent for it, retries included (0 when not started).
    pub attempts: u32,
}

/// What a bulk run did, for the script and the CLI.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Items that succeeded.
    pub done: usize,
    /// Items that failed.
    pub failed: usize,
    /// Items never sent (the run was stopped).
    pub skipped: usize,
    /// 429 answers seen.
    pub throttled: u64,
    /// Attempts beyond the first, over all items.
    pub retries: u64,
    /// Wall time.
    pub elapsed: std::time::Duration,
}

impl Summary {
    /// Counts the items; `stats` is the client's traffic during the run.
    pub fn of<T>(items: &[Item<T>], stats: super::Stats, elapsed: std::time::Duration) -> Self {
        let count = |f: fn(&Outcome<T>) -> bool| items.iter().filter(|i| f(&i.outcome)).count();
        Summary {
            done: count(|o| matches!(o, Outcome::Done(_))),
            failed: count(|o| matches!(o, Outcome::Failed(_))),
            skipped: count(|o| matches!(o, Outcome::NotStarted)),
            throttled: stats.throttled,
            retries: stats.retries,
            elapsed,
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} done, {} failed, {} skipped; {} throttled (429), {} retries; {:.2} s",
            self.done,
            self.failed,
            self.skipped,
            self.throttled,
            self.retries,
            self.elapsed.as_secs_f64()
        )
    }
}

impl<T> Item<T> {
    /// The same item with the success value mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Item<U> {
        Item {
            outcome: self.outcome.map(f),
            attempts: self.attempts,
        }
    }
}

/// Hears about progress (a progress bar, for instance); called from worker tasks.
pub trait Progress: Send + Sync {
    /// The run starts with this many items.
    fn start(&self, total: u64);
    /// One more item ended.
    fn advance(&self, ok: bool);
    /// The run ended.
    fn finish(&self);
}

/// Runs `work(item)` for every item, at most `concurrency` at once; results in input order.
pub async fn run<I, T, F, Fut>(
    items: Vec<I>,
    concurrency: usize,
    stop: Arc<AtomicBool>,
    progress: Option<Arc<dyn Progress>>,
    work: F,
) -> Vec<Item<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ArmError>> + Send + 'static,
{
    run_slotted(items, concurrency, stop, progress, move |item, _slot| {
        work(item)
    })
    .await
}

/// An item's place among the `concurrency` in flight. It holds the place while it calls;
/// `away` gives the place back while it waits for something that is not a call of its own
/// (a read the whole batch shares), so that another item's call goes meanwhile.
pub struct Slot {
    gate: Arc<Semaphore>,
    held: std::sync::Mutex<Option<OwnedSemaphorePermit>>,
}

impl Slot {
    /// Awaits `wait` without holding a place, then takes one again (first come, first served).
    pub async fn away<T>(&self, wait: impl Future<Output = T>) -> T {
        self.release();
        let out = wait.await;
        // The gate is never closed; were it, the item would go on without a place.
        if let Ok(permit) = self.gate.clone().acquire_owned().await
            && let Ok(mut held) = self.held.lock()
        {
            *held = Some(permit);
        }
        out
    }

    fn release(&self) {
        if let Ok(mut held) = self.held.lock() {
            held.take();
        }
    }
}

/// `run`, where each item's work is also handed its `Slot`.
pub async fn run_slotted<I, T, F, Fut>(
    items: Vec<I>,
    concurrency: usize,
    stop: Arc<AtomicBool>,
    progress: Option<Arc<dyn Progress>>,
    work: F,
) -> Vec<Item<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I, Arc<Slot>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ArmError>> + Send + 'static,
{
    let total = items.len();
    if let Some(p) = &progress {
        p.start(total as u64);
    }
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let work = Arc::new(work);
    let mut tasks = JoinSet::new();
    for (index, item) in items.into_iter().enumerate() {
        // Wait for a free slot before deciding to start, so a stop request is seen in time.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let slot = Arc::new(Slot {
            gate: permits.clone(),
            held: std::sync::Mutex::new(Some(permit)),
        });
        let (work, progress) = (work.clone(), progress.clone());
        tasks.spawn(super::ATTEMPTS.scope(std::cell::Cell::new(0), async move {
            let outcome = match work(item, slot.clone()).await {
                Ok(value) => Outcome::Done(value),
                Err(error) => Outcome::Failed(error),
            };
            slot.release();
            if let Some(p) = &progress {
                p.advance(matches!(outcome, Outcome::Done(_)));
            }
            let attempts = super::ATTEMPTS.with(std::cell::Cell::get);
            (index, Item { outcome, attempts })
        }));
    }
    let mut results: Vec<Item<T>> = (0..total)
        .map(|_| Item {
            outcome: Outcome::NotStarted,
            attempts: 0,
        })
        .collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, item)) => results[index] = item,
            Err(e) => tracing::warn!("a bulk task ended abnormally: {e}"),
        }
    }
    if let Some(p) = &progress {
        p.finish();
    }
    results
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn an_item_away_from_its_slot_lets_the_next_items_call() {
        // Two slots; the first two items wait, away from their slots, for something only
        // the third and fourth items' start gives: held slots would wait forever.
        let started = Arc::new(AtomicUsize::new(0));
        let (tell, told) = tokio::sync::watch::channel(0usize);
        let tell = Arc::new(tell);
        let out = block_on(async move {
            tokio::time::timeout(
                Duration::from_secs(10),
                run_slotted(
                    (0..4usize).collect(),
                    2,
                    Arc::new(AtomicBool::new(false)),
                    None,
                    move |i, slot| {
                        let (started, tell, mut told) =
                            (started.clone(), tell.clone(), told.clone());
                        async move {
                            let n = started.fetch_add(1, Ordering::SeqCst) + 1;
                            tell.send_replace(n);
                            if i < 2 {
                                slot.away(async { told.wait_for(|n| *n >= 4).await.map(|_| ()) })
                                    .await
                                    .map_err(|_| {
                                        ArmError::invalid("item", i.to_string(), "gone")
                                    })?;
                            }
                            Ok(i)
                        }
                    },
                ),
            )
            .await
        })
        .expect("the items away from their slots let the others start");
        let done: Vec<usize> = out
            .into_iter()
            .filter_map(|item| match item.outcome {
                Outcome::Done(i) => Some(i),
                _ => None,
            })
            .collect();
        assert_eq!(done, [0, 1, 2, 3]);
    }

    #[test]
    fn results_keep_input_order_and_failures_do_not_stop_others() {
        let out = block_on(run(
            (0..20u64).collect(),
            4,
            Arc::new(AtomicBool::new(false)),
            None,
            |i: u64| async move {
                tokio::time::sleep(Duration::from_millis((20 - i) % 7)).await;
                if i.is_multiple_of(5) {
                    Err(ArmError::invalid("item", i.to_string(), "multiple of five"))
                } else {
                    Ok(i * 10)
                }
            },
        ));
        assert_eq!(out.len(), 20);
        for (i, o) in out.iter().enumerate() {
            match &o.outcome {
                Outcome::Done(v) => assert_eq!(*v, i as u64 * 10),
                Outcome::Failed(_) => assert_eq!(i % 5, 0),
                Outcome::NotStarted => panic!("all started"),
            }
        }
    }

    #[test]
    fn concurrency_is_bounded() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (n, p) = (now.clone(), peak.clone());
        block_on(run(
            (0..30).collect::<Vec<u32>>(),
            3,
            Arc::new(AtomicBool::new(false)),
            None,
            move |_| {
                let (n, p) = (n.clone(), p.clone());
                async move {
                    let c = n.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(c, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, ArmError>(())
                }
            },
        ));
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_stop_leaves_the_rest_not_started() {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let out = block_on(run(
            (0..10).collect::<Vec<u32>>(),
            1,
            stop,
            None,
            move |i| {
                let s = s.clone();
                async move {
                    if i == 3 {
                        s.store(true, Ordering::SeqCst);
                    }
                    Ok::<_, ArmError>(i)
                }
            },
        ));
        assert!(
            matches!(out[3].outcome, Outcome::Done(3)),
            "the in-flight item finishes"
        );
        assert!(
            out[4..]
                .iter()
                .all(|o| matches!(o.outcome, Outcome::NotStarted) && o.attempts == 0)
        );
    }
}
