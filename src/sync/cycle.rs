//! One sync cycle for one folder, as DESIGN.md orders it: recover →
//! snapshot (local changes are committed before anything from the server
//! touches the folder) → cheap remote check → fetch → integrate in memory →
//! apply file by file → move the ref → push (never forced; a rejection
//! because the server moved loops back, a bounded number of times).
//!
//! Blocking (git2): run it on a worker thread.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Local;
use serde::Serialize;

use crate::config::CommitMessageStyle;
use crate::git::{
    Applied, Auth, Change, GitError, Pushed, RemoteTip, Repo, Snapshot, SnapshotOutcome,
};
use crate::ErrorClass;

/// How to run a cycle.
#[derive(Debug, Clone)]
pub struct CycleOptions {
    /// A file must be unchanged this long before it is committed.
    pub quiet: Duration,
    /// Commit message style.
    pub style: CommitMessageStyle,
    /// The user confirmed a large deletion.
    pub allow_mass_delete: bool,
    /// This computer's name, for conflict copies.
    pub host: String,
    /// Pushes retried after the server moved.
    pub max_push_attempts: usize,
}

impl Default for CycleOptions {
    fn default() -> Self {
        Self {
            quiet: Duration::from_secs(1),
            style: CommitMessageStyle::Descriptive,
            allow_mass_delete: false,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            max_push_attempts: 5,
        }
    }
}

/// What a cycle did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CycleReport {
    /// Recovery steps taken.
    pub recovered: Vec<String>,
    /// The local changes committed.
    pub committed: Vec<Snapshot>,
    /// Files changed in the folder by others' changes.
    pub incoming: Vec<Change>,
    /// Conflict copies created.
    pub conflict_copies: Vec<String>,
    /// Something was pushed.
    pub pushed: bool,
    /// The server was asked for its full branch (the cheap check saw a change).
    pub fetched: bool,
    /// Local commits not yet on the server (after the cycle).
    pub pending: usize,
    /// The branch tip after the cycle.
    pub head: Option<String>,
}

/// Why a cycle stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CycleError {
    /// The folder is gone (deleted, or its disk unmounted): nothing is committed.
    #[error("The folder {} is missing. If it was moved or its drive unplugged, put it back; syncing is paused meanwhile and nothing was deleted on GitLab.", .0.display())]
    FolderMissing(PathBuf),
    /// The folder is there but its `.git` is gone.
    #[error("Ferry's record of {} is gone (its hidden .git folder was removed), so it can't tell what changed. Remove the folder from Ferry and add it again; your files stay where they are.", .0.display())]
    NotSetUp(PathBuf),
    /// Files are still being written.
    #[error("Waiting for files to finish saving.")]
    NotQuiet(Duration),
    /// Many files were deleted: the user must confirm.
    #[error("{deleted} of {tracked} files were deleted from the folder. Ferry paused before sending such a large deletion: restore the files, or choose Resume to delete them on GitLab too.")]
    MassDelete {
        /// Deleted files.
        deleted: usize,
        /// Files tracked before.
        tracked: usize,
    },
    /// The server kept moving while Ferry tried to push.
    #[error(
        "Others kept changing the project while Ferry was sending; it will try again shortly."
    )]
    Busy,
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),
}

impl CycleError {
    /// Retry later, ask the user, or give up.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NotQuiet(_) | Self::Busy => ErrorClass::RetryLater,
            Self::FolderMissing(_) | Self::NotSetUp(_) | Self::MassDelete { .. } => {
                ErrorClass::NeedsUser
            }
            Self::Git(e) => e.class(),
        }
    }
}

/// Names the step in an unexpected git error, for the log and the message.
fn at<T>(step: &str, r: Result<T, GitError>) -> Result<T, GitError> {
    r.map_err(|e| match e {
        GitError::Other(m) => GitError::Other(format!("{step}: {m}")),
        other => other,
    })
}

/// Runs one cycle on the folder `dir` (branch `branch`).
pub fn run(
    dir: &std::path::Path,
    branch: &str,
    auth: &Auth,
    options: &CycleOptions,
) -> Result<CycleReport, CycleError> {
    if !dir.is_dir() {
        return Err(CycleError::FolderMissing(dir.to_path_buf()));
    }
    if !dir.join(".git").is_dir() {
        return Err(CycleError::NotSetUp(dir.to_path_buf()));
    }
    let repo = Repo::open(dir, branch)?;
    // 1. Recover.
    let mut report = CycleReport {
        recovered: repo.recover()?,
        ..CycleReport::default()
    };
    if let Some(done) = repo.finish_interrupted_apply()? {
        report.recovered.push(match done {
            Applied::Done { .. } => "finished applying changes a crash interrupted".into(),
            Applied::Interrupted { path } => {
                format!("kept {path}, changed during an interrupted update")
            }
        });
    }

    let mut push_attempts = 0;
    let mut apply_attempts = 0;
    loop {
        // 2. Snapshot: local changes first.
        match at(
            "saving changes",
            repo.snapshot(options.quiet, options.style, options.allow_mass_delete),
        )? {
            SnapshotOutcome::Committed(s) => report.committed.push(s),
            SnapshotOutcome::Clean => {}
            SnapshotOutcome::NotQuiet(wait) => return Err(CycleError::NotQuiet(wait)),
            SnapshotOutcome::MassDelete { deleted, tracked } => {
                return Err(CycleError::MassDelete { deleted, tracked })
            }
        }

        // 3. Ask the server for its branch: one request when nothing moved
        // (the ref advertisement), a download only when something did.
        let known = repo.tracking();
        let remote = match at("checking the server", repo.fetch(auth))? {
            RemoteTip::At(o) => {
                report.fetched = Some(o) != known;
                Some(o)
            }
            RemoteTip::Missing => None,
        };

        // 4. Integrate in memory, apply to the folder, move the ref.
        if let Some(remote) = remote {
            let before = repo.head();
            let merged = at(
                "combining changes",
                repo.integrate(remote, &options.host, Local::now()),
            )?;
            if Some(merged.new_head) != before {
                match at("updating files", repo.apply(before, merged.new_head))? {
                    Applied::Done { changes } => {
                        report.incoming.extend(changes);
                        report.conflict_copies.extend(merged.conflict_copies);
                    }
                    Applied::Interrupted { path } => {
                        apply_attempts += 1;
                        tracing::info!(%path, "a file changed while applying; committing it first");
                        if apply_attempts > 3 {
                            return Err(CycleError::Busy);
                        }
                        // Let the new edit settle, then start over with a snapshot.
                        std::thread::sleep(options.quiet);
                        continue;
                    }
                }
            }
        }

        // 5. Push, never forced.
        match at("sending", repo.push(auth))? {
            Pushed::NothingToDo => {}
            Pushed::Sent(_) => report.pushed = true,
            Pushed::RemoteMoved => {
                push_attempts += 1;
                if push_attempts >= options.max_push_attempts {
                    return Err(CycleError::Busy);
                }
                continue;
            }
        }
        break;
    }
    report.pending = repo.pending();
    report.head = repo.head().map(|h| h.to_string());
    Ok(report)
}
