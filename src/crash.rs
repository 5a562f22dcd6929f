//! Crash points: the places where a `kill -9` hurts most (objects written
//! but no ref yet, a file between its temporary copy and the swap, an
//! update half applied, around the ref update, a refreshed token not yet
//! saved). Compiled only with the `failpoints` feature, never in a release
//! build: the tests run `ferry` with `FERRY_CRASH_AT=NAME[:N]`, and the
//! N-th time (the first by default) the process reaches that point it
//! sends itself SIGKILL — exactly a `kill -9`: no destructor, no flush, no
//! unlock — so the next start must recover with nothing lost.
//!
//! Without the feature, [`crash_point!`](crate::crash_point) expands to
//! nothing.

/// Marks a crash point named `$name` (see the module docs).
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        $crate::crash::reached($name);
    };
}

/// The point `name` was reached: dies if the tests asked for it.
#[cfg(feature = "failpoints")]
pub fn reached(name: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEEN: AtomicU32 = AtomicU32::new(0);
    let Ok(wanted) = std::env::var("FERRY_CRASH_AT") else {
        return;
    };
    let (point, nth) = match wanted.split_once(':') {
        Some((p, n)) => (p, n.parse().unwrap_or(1)),
        None => (wanted.as_str(), 1),
    };
    if point != name || SEEN.fetch_add(1, Ordering::SeqCst) + 1 != nth {
        return;
    }
    eprintln!("ferry: crash point {name} reached: killing this process");
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    // SIGKILL can't be caught; nothing after it runs.
    std::process::abort();
}
