//! The peak memory of a child process, read from its own `/proc/PID/status` (`VmHWM`) while
//! it runs. `wait4`'s `ru_maxrss` would not do: a child shares the bench process's pages
//! between fork and exec, and its `ru_maxrss` keeps that high-water mark, so a bench with the
//! emulator inside it would see its own size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A watch on one child's peak.
pub struct Peak {
    kib: Arc<AtomicU64>,
    watcher: JoinHandle<()>,
}

/// Starts watching `pid`, whose program is named `name` once it has exec'd; the watch ends
/// when the process has exited (a zombie's status has no `VmHWM`).
pub fn watch(pid: u32, name: &'static str) -> Peak {
    let kib = Arc::new(AtomicU64::new(0));
    let seen = kib.clone();
    let watcher = std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        loop {
            let Ok(status) = std::fs::read_to_string(&path) else {
                return;
            };
            let field = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .map(str::trim)
            };
            // Before exec the status is the bench's own.
            if field("Name:") == Some(name) {
                let Some(hwm) = field("VmHWM:") else {
                    return;
                };
                let value = hwm.trim_end_matches("kB").trim().parse().unwrap_or(0);
                seen.fetch_max(value, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    Peak { kib, watcher }
}

impl Peak {
    /// The peak in KiB, once the child has exited (before it is reaped).
    pub fn kib(self) -> u64 {
        let _ = self.watcher.join();
        self.kib.load(Ordering::Relaxed)
    }
}
