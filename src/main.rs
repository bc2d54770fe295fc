//! The `azid` binary: everything lives in the library; this only hands over the arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    few_malloc_arenas();
    azid::run(std::env::args_os())
}

/// glibc gives each thread that allocates its own arena, and memory freed in one is not
/// reused by another: a bulk read of 20,000 items over the runtime's threads then holds a
/// sixth more memory than it uses. Two arenas serve two cores; `MALLOC_ARENA_MAX` still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn few_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it runs before any other thread.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn few_malloc_arenas() {}
