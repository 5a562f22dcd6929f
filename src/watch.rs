//! Watching a folder: notify + notify-debouncer-full turn bursts of file
//! events into one "something changed" message after a quiet period.
//!
//! Events under `.git/` and Ferry's own temporary files never wake the
//! folder's loop, and symbolic links are never followed: a link a
//! collaborator pushed (say, to `/`) adds no watches outside the folder. The watcher only triggers; the cycle always scans the whole
//! folder, so a dropped event, an overflow or a watcher error at worst delays
//! a change until the next trigger, and the periodic poll is the backstop.
//! Errors (such as the inotify watch limit) are logged and turn into a
//! trigger, never into silence.

use std::path::{Component, Path};
use std::time::Duration;

use notify_debouncer_full::notify::{self, EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer_opt, DebounceEventResult, Debouncer, NoCache};

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _inner: Option<Debouncer<RecommendedWatcher, NoCache>>,
}

/// True when a change at `path` (inside `root`) should wake the loop.
pub fn relevant(root: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    if rel
        .components()
        .any(|c| c == Component::Normal(".git".as_ref()))
    {
        return false;
    }
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    !name.starts_with(crate::git::writer::TEMP_PREFIX)
        && !name.contains(".ferry-tmp-")
        && !name.contains(".ferry-write-check-")
}

/// Starts watching `root`; calls `changed` after `quiet_ms` of quiet.
pub fn start(root: &Path, quiet_ms: u64, changed: impl Fn() + Send + 'static) -> Watcher {
    let root_owned = root.to_path_buf();
    let quiet = Duration::from_millis(quiet_ms.clamp(100, 10_000));
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            let wake = events.iter().any(|e| {
                !matches!(e.kind, EventKind::Access(_))
                    && e.paths.iter().any(|p| relevant(&root_owned, p))
            });
            if wake {
                changed();
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!("watching {}: {e}", root_owned.display());
            }
            // Rescan: the cycle looks at every file anyway.
            changed();
        }
    };
    // Look for quiet files often, so a save is sent soon after its quiet
    // period rather than up to a quarter period later.
    let tick = (quiet / 10).max(Duration::from_millis(20));
    // Never follow a link out of the folder (a collaborator can push a link
    // to `/`): no watches and no file-id scan beyond the folder itself.
    let config = notify::Config::default().with_follow_symlinks(false);
    let inner = match new_debouncer_opt::<_, RecommendedWatcher, NoCache>(
        quiet,
        Some(tick),
        handler,
        NoCache,
        config,
    ) {
        Ok(mut d) => match d.watch(root, RecursiveMode::Recursive) {
            Ok(()) => Some(d),
            Err(e) => {
                tracing::warn!(
                    "can't watch {} ({e}); changes are picked up by periodic checks instead. \
                     On Linux, raise fs.inotify.max_user_watches if the folder is very large.",
                    root.display()
                );
                None
            }
        },
        Err(e) => {
            tracing::warn!("can't start the file watcher: {e}");
            None
        }
    };
    Watcher { _inner: inner }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_internals_and_ferry_temp_files_are_ignored() {
        let root = Path::new("/home/e/site");
        assert!(relevant(root, Path::new("/home/e/site/about.md")));
        assert!(relevant(root, Path::new("/home/e/site/docs/a.md")));
        assert!(!relevant(root, Path::new("/home/e/site/.git/index")));
        assert!(!relevant(
            root,
            Path::new("/home/e/site/.git/refs/heads/main")
        ));
        assert!(!relevant(
            root,
            Path::new("/home/e/site/docs/.a.md.ferry-tmp-123")
        ));
    }
}
