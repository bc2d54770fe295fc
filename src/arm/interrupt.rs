//! The client's stop flag: Ctrl-C (or SIGTERM) sets it, and every wait of the client — the
//! token, the pacer, a retry's backoff, a poll, an answer that does not come — ends soon
//! after, so a script is never stuck inside an API call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::retry::Clock;

/// How often a wait looks at the flag.
const CHECK_EVERY: Duration = Duration::from_millis(20);

/// A shared stop flag that async waits can race against.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// The flag itself, for the signal handler and the script host.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Resolves once the flag is set.
    pub async fn wait(&self) {
        while !self.is_set() {
            tokio::time::sleep(CHECK_EVERY).await;
        }
    }

    /// Runs `fut` unless a stop comes first (`None` then).
    pub async fn race<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        if self.is_set() {
            return None;
        }
        tokio::select! {
            out = fut => Some(out),
            () = self.wait() => None,
        }
    }
}

impl Interrupt {
    /// Runs `fut`, giving it `grace` more once a stop comes (`None` if it still has not ended):
    /// an answer already on its way still counts, one that never comes is not waited for.
    pub async fn race_with_grace<T>(
        &self,
        grace: Duration,
        fut: impl Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            out = fut => Some(out),
            () = async {
                self.wait().await;
                tokio::time::sleep(grace).await;
            } => None,
        }
    }
}

/// A clock whose sleeps end early when the flag is set.
pub struct Interruptible<'a> {
    /// The clock that really waits.
    pub clock: &'a dyn Clock,
    /// The flag that cuts waits short.
    pub interrupt: &'a Interrupt,
}

impl Clock for Interruptible<'_> {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let _ = self.interrupt.race(self.clock.sleep(duration)).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_flag_ends_a_long_wait() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let interrupt = Interrupt::default();
        let flag = interrupt.flag();
        let out = rt.block_on(async {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                flag.store(true, Ordering::SeqCst);
            });
            interrupt
                .race(tokio::time::sleep(Duration::from_secs(3600)))
                .await
        });
        assert_eq!(out, None);
        assert_eq!(
            rt.block_on(interrupt.race(async { 7 })),
            None,
            "nothing starts once the flag is set"
        );
    }
}
