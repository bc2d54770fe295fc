//! Waits that end at their deadline, kept by one thread of their own.
//!
//! Tokio's timer rounds a deadline up to its next millisecond tick and wakes a little after
//! it, so a plain sleep of 20 ms lasts about 22 ms; waking a tick early and yielding until
//! the deadline was exact but kept both request threads busy under load, taking the cores
//! the server's work (and a client on the same machine) needed. The alarm thread sleeps
//! until the earliest deadline it holds (the kernel's high-resolution timers end such a
//! sleep within tens of microseconds) and wakes what waits for it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use tokio::sync::oneshot;

/// One wait: its deadline, the order it came in (ties wake first come, first served) and
/// whom to wake.
struct Wait {
    deadline: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Wait {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Wait {}

impl PartialOrd for Wait {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Wait {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// The handle to the alarm thread; the thread ends when the handle is dropped.
pub struct Alarm {
    waits: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
}

impl Alarm {
    /// Starts the alarm thread; `None` when the thread cannot be started.
    pub fn start() -> Option<Alarm> {
        let (waits, incoming) = mpsc::channel();
        std::thread::Builder::new()
            .name("emulator-latency".into())
            .spawn(move || keep(incoming))
            .ok()?;
        Some(Alarm { waits })
    }

    /// Resolves at `deadline`, never before.
    pub async fn until(&self, deadline: Instant) {
        let (wake, woken) = oneshot::channel();
        if self.waits.send((deadline, wake)).is_ok() && woken.await.is_ok() {
            return;
        }
        // The thread is gone (the server is stopping): tokio's timer still keeps the deadline.
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// The alarm thread: wakes each wait at its deadline, until the handle is dropped.
fn keep(incoming: mpsc::Receiver<(Instant, oneshot::Sender<()>)>) {
    let mut heap: BinaryHeap<Reverse<Wait>> = BinaryHeap::new();
    let mut seq: u64 = 0;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(w)| w.deadline <= now) {
            if let Some(Reverse(due)) = heap.pop() {
                // A waiter that gave up has nothing to wake.
                let _ = due.wake.send(());
            }
        }
        let next = match heap.peek() {
            Some(Reverse(w)) => incoming.recv_timeout(w.deadline.saturating_duration_since(now)),
            None => incoming.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((deadline, wake)) => {
                seq = seq.wrapping_add(1);
                heap.push(Reverse(Wait {
                    deadline,
                    seq,
                    wake,
                }));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_end_at_their_deadlines_in_order_and_never_before() {
        let alarm = std::sync::Arc::new(Alarm::start().expect("alarm thread"));
        let start = Instant::now();
        let mut waits = Vec::new();
        for ms in [30u64, 10, 20, 10] {
            let alarm = alarm.clone();
            waits.push(tokio::spawn(async move {
                let deadline = start + Duration::from_millis(ms);
                alarm.until(deadline).await;
                (ms, Instant::now(), deadline)
            }));
        }
        for wait in waits {
            let (ms, woke, deadline) = wait.await.expect("wait");
            assert!(woke >= deadline, "{ms} ms: woke before its deadline");
            // Generous for a loaded machine.
            let late = woke.duration_since(deadline);
            assert!(late < Duration::from_millis(200), "{ms} ms: {late:?} late");
        }
    }

    #[tokio::test]
    async fn a_wait_after_the_thread_is_gone_still_keeps_its_deadline() {
        let (waits, incoming) = mpsc::channel();
        drop(incoming);
        let alarm = Alarm { waits };
        let deadline = Instant::now() + Duration::from_millis(15);
        alarm.until(deadline).await;
        assert!(Instant::now() >= deadline);
    }
}
