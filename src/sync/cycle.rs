//! One sync cycle for one folder, as DESIGN.md orders it: lock the folder →
//! recover → snapshot (local changes are committed before anything from the
//! server touches the folder; a file still being written waits alone) →
//! fetch → integrate in memory → apply through the folder writer → move the
//! ref → push (never forced; a rejection because the server moved loops
//! back, a bounded number of times).
//!
//! Blocking (git2): run it on a worker thread.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Local;
use serde::Serialize;

use super::{Reason, SyncState};
use crate::config::CommitMessageStyle;
use crate::git::{
    Applied, Auth, Change, GitError, Note, Pushed, RemoteTip, Repo, Snapshot, SnapshotOptions,
};
use crate::ErrorClass;

/// How to run a cycle.
#[derive(Debug, Clone)]
pub struct CycleOptions {
    /// A file must be unchanged this long before it is committed...
    pub quiet: Duration,
    /// ...unless the watcher saw it closed after writing and settled.
    pub settled: crate::git::SettledFiles,
    /// Commit message style.
    pub style: CommitMessageStyle,
    /// This computer's name, for conflict copies.
    pub host: String,
    /// Pushes retried after the server moved.
    pub max_push_attempts: usize,
}

impl Default for CycleOptions {
    fn default() -> Self {
        Self {
            quiet: Duration::from_secs(1),
            settled: Default::default(),
            style: CommitMessageStyle::Descriptive,
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
    /// Files still being written: not sent yet.
    pub waiting: Vec<String>,
    /// When to run again for them (milliseconds).
    pub retry_in_ms: Option<u64>,
    /// Changes from GitLab wait for a file that is still being written.
    pub incoming_deferred: bool,
    /// What the user should know about particular paths.
    pub notes: Vec<Note>,
}

impl CycleReport {
    /// True when files from GitLab are missing from the folder.
    pub fn needs_attention(&self) -> bool {
        self.notes.iter().any(|n| n.kind.needs_attention())
    }
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
    /// Many files were deleted in the folder: the user must confirm.
    #[error("{deleted} of {tracked} files were deleted from the folder. Ferry paused before deleting them on GitLab too: put them back, or confirm the deletion.")]
    MassDelete {
        /// Deleted files.
        deleted: usize,
        /// Files tracked before.
        tracked: usize,
    },
    /// A change on GitLab deletes many files: the user must confirm.
    #[error("A change on GitLab would delete {deleted} of {tracked} files in your folder. Ferry paused before deleting them here: check with your team, or confirm the deletion.")]
    IncomingMassDelete {
        /// Files it deletes.
        deleted: usize,
        /// Files tracked now.
        tracked: usize,
    },
    /// The server kept moving while Ferry tried to push.
    #[error(
        "Others kept changing the project while Ferry was sending; it will try again shortly."
    )]
    Busy,
    /// The account's sign-in couldn't be had (refused, expired, GitLab
    /// unreachable while refreshing it).
    #[error("{message}")]
    SignIn {
        /// What happened, for a content editor.
        message: String,
        /// Retry later or ask the user.
        class: ErrorClass,
        /// GitLab could not be reached (or was failing) while refreshing it.
        unreachable: bool,
    },
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),
}

impl CycleError {
    /// Retry later, ask the user, or give up.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Busy => ErrorClass::RetryLater,
            Self::FolderMissing(_)
            | Self::NotSetUp(_)
            | Self::MassDelete { .. }
            | Self::IncomingMassDelete { .. } => ErrorClass::NeedsUser,
            Self::SignIn { class, .. } => *class,
            Self::Git(e) => e.class(),
        }
    }

    /// True when GitLab couldn't be reached (or was failing): the folder is
    /// offline, and retries by itself.
    pub fn offline(&self) -> bool {
        matches!(
            self,
            Self::Git(GitError::Network(_))
                | Self::SignIn {
                    unreachable: true,
                    ..
                }
        )
    }

    /// True when syncing is paused (for the user, or for another process
    /// that owns the folder), not broken.
    pub fn pauses(&self) -> bool {
        matches!(
            self,
            Self::FolderMissing(_)
                | Self::MassDelete { .. }
                | Self::IncomingMassDelete { .. }
                | Self::Git(GitError::AlreadySyncing(_))
        )
    }
}

/// The folder's state and the sentence for a cycle's outcome: the one
/// wording the tray, the window, `ferry status` and `ferry sync` all show.
pub fn describe(result: &Result<CycleReport, CycleError>) -> (SyncState, String) {
    match result {
        Ok(r) if r.needs_attention() => (SyncState::Error, attention_message(r)),
        Ok(r) if !r.waiting.is_empty() => (
            SyncState::Syncing,
            format!(
                "Waiting for {} to finish saving…",
                r.waiting.first().map(String::as_str).unwrap_or("a file")
            ),
        ),
        Ok(r) if !r.conflict_copies.is_empty() => {
            (SyncState::Conflict, conflict_message(&r.conflict_copies))
        }
        Ok(r) => (SyncState::Synced, synced_message(r)),
        Err(e) if e.pauses() => (SyncState::Paused, e.to_string()),
        // Retried shortly, nothing for the user to do: still at work.
        Err(e @ (CycleError::Busy | CycleError::Git(GitError::Locked))) => {
            (SyncState::Syncing, e.to_string())
        }
        Err(e) if e.offline() => (SyncState::Offline, e.to_string()),
        // Everything else shows, even what is retried by itself (a locked
        // keyring, a full disk): the user may have to act.
        Err(e) => (SyncState::Error, e.to_string()),
    }
}

/// The one wording of kept conflict copies.
pub fn conflict_message(copies: &[String]) -> String {
    format!(
        "Someone else changed the same file: both versions were kept ({})",
        copies.join(", ")
    )
}

/// Why a cycle's outcome puts the folder in its state.
pub fn reason(result: &Result<CycleReport, CycleError>) -> Option<Reason> {
    match result {
        Ok(r) if r.needs_attention() => Some(Reason::FilesNotSynced),
        Ok(r) if !r.waiting.is_empty() => Some(Reason::WaitingForFiles),
        Ok(r) if !r.conflict_copies.is_empty() => Some(Reason::Conflict),
        Ok(_) => None,
        Err(CycleError::FolderMissing(_)) => Some(Reason::FolderMissing),
        Err(CycleError::NotSetUp(_)) => Some(Reason::NotSetUp),
        Err(CycleError::MassDelete { .. }) => Some(Reason::MassDelete),
        Err(CycleError::IncomingMassDelete { .. }) => Some(Reason::IncomingMassDelete),
        Err(e) if e.offline() => Some(Reason::Offline),
        Err(CycleError::SignIn { .. } | CycleError::Git(GitError::Auth)) => Some(Reason::SignIn),
        Err(CycleError::Git(GitError::AlreadySyncing(_))) => Some(Reason::OtherProcess),
        Err(CycleError::Git(GitError::DiskFull)) => Some(Reason::DiskFull),
        Err(CycleError::Git(GitError::Locked)) => Some(Reason::WaitingForGit),
        Err(CycleError::Busy) => None,
        Err(_) => Some(Reason::Problem),
    }
}

/// The message for files from GitLab the folder couldn't take.
fn attention_message(r: &CycleReport) -> String {
    let skipped: Vec<&Note> = r
        .notes
        .iter()
        .filter(|n| n.kind.needs_attention())
        .collect();
    match skipped.as_slice() {
        [one] => one.message.clone(),
        many => format!(
            "{} files weren't synced ({}); everything else is in sync. See the folder's notes for why.",
            many.len(),
            many.iter()
                .take(3)
                .map(|n| n.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn synced_message(r: &CycleReport) -> String {
    let sent: usize = r.committed.iter().map(|s| s.changes.len()).sum();
    let changes = |n: usize| if n == 1 { "change" } else { "changes" };
    match (sent, r.incoming.len()) {
        (0, 0) => "Up to date".into(),
        (s, 0) => format!("Sent {s} {}", changes(s)),
        (0, i) => format!("Received {i} {}", changes(i)),
        (s, i) => format!("Sent {s}, received {i} {}", changes(i)),
    }
}

/// Names the step in an unexpected git error, for the log and the message.
fn at<T>(step: &str, r: Result<T, GitError>) -> Result<T, GitError> {
    r.map_err(|e| match e {
        GitError::Other(m) => GitError::Other(format!("{step}: {m}")),
        other => other,
    })
}

/// Approves the large deletion the folder `dir` is waiting on. False when
/// none is waiting.
pub fn allow_pending_deletion(dir: &std::path::Path, branch: &str) -> Result<bool, GitError> {
    Repo::open(dir, branch)?.allow_pending_deletion()
}

/// How many times an incoming change is retried when a saved file gets in
/// its way, before its files are written with conflict copies instead.
const MAX_APPLY_ATTEMPTS: usize = 3;

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
    // One cycle at a time on this folder, whichever process runs it.
    let _lock = repo.lock_folder()?;
    let _turn = crate::git::CycleTurn::take(dir);
    // 1. Recover.
    let mut report = CycleReport {
        recovered: at("recovering", repo.recover())?,
        ..CycleReport::default()
    };

    let mut push_attempts = 0;
    let mut apply_attempts = 0;
    loop {
        // 2. Snapshot: local changes first.
        let snap = at(
            "saving changes",
            repo.snapshot(SnapshotOptions {
                quiet: options.quiet,
                settled: &options.settled,
                style: options.style,
            }),
        )?;
        if let Some(p) = snap.mass_delete {
            return Err(CycleError::MassDelete {
                deleted: p.deleted,
                tracked: p.tracked,
            });
        }
        report.committed.extend(snap.committed);
        report.waiting = snap.waiting;
        report.retry_in_ms = snap.retry_in.map(|d| d.as_millis() as u64);
        report.notes = snap.notes;

        // 3. Ask the server for its branch: one request when nothing moved
        // (the ref advertisement), a download only when something did.
        let known = repo.tracking();
        let remote = match at("checking the server", repo.fetch(auth))? {
            RemoteTip::At(o) => {
                if Some(o) != known {
                    report.fetched = true;
                    // What was downloaded is durable before anything names it.
                    at("checking the server", repo.sync_git_dir())?;
                }
                Some(o)
            }
            RemoteTip::Missing => None,
        };

        // 4. Integrate in memory, apply to the folder, move the ref.
        if let Some(remote) = remote {
            let before = repo.head();
            let merged = at(
                "combining changes",
                repo.integrate(remote, known, &options.host, Local::now()),
            )?;
            if Some(merged.new_head) != before {
                let interruptible = apply_attempts < MAX_APPLY_ATTEMPTS;
                match at(
                    "updating files",
                    repo.apply(before, merged.new_head, interruptible, &options.host),
                )? {
                    Applied::Done {
                        changes,
                        conflict_copies,
                    } => {
                        report.incoming.extend(changes);
                        report.conflict_copies.extend(merged.conflict_copies);
                        report.conflict_copies.extend(conflict_copies);
                    }
                    Applied::Interrupted { path } => {
                        apply_attempts += 1;
                        if report.waiting.contains(&path) {
                            // Still being written: the change waits for it,
                            // and is applied once the file is quiet and sent.
                            tracing::info!(%path, "an incoming change waits for a file being saved");
                            report.incoming_deferred = true;
                            break;
                        }
                        tracing::info!(%path, "a file changed before applying; committing it first");
                        continue;
                    }
                    Applied::MassDelete {
                        deleted, tracked, ..
                    } => {
                        return Err(CycleError::IncomingMassDelete { deleted, tracked });
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
    let mut notes = repo.apply_notes();
    notes.append(&mut report.notes);
    report.notes = notes;
    report.pending = repo.pending();
    report.head = repo.head().map(|h| h.to_string());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in(class: ErrorClass, unreachable: bool) -> Result<CycleReport, CycleError> {
        Err(CycleError::SignIn {
            message: "m".into(),
            class,
            unreachable,
        })
    }

    #[test]
    fn a_locked_keyring_is_retried_but_needs_attention_not_offline() {
        let locked = sign_in(ErrorClass::RetryLater, false);
        assert_eq!(describe(&locked).0, SyncState::Error);
        assert_eq!(reason(&locked), Some(Reason::SignIn));
        assert_eq!(locked.unwrap_err().class(), ErrorClass::RetryLater);
    }

    #[test]
    fn gitlab_out_of_reach_while_refreshing_is_offline() {
        let down = sign_in(ErrorClass::RetryLater, true);
        assert_eq!(describe(&down).0, SyncState::Offline);
        assert_eq!(reason(&down), Some(Reason::Offline));
    }

    #[test]
    fn only_an_unreachable_gitlab_is_offline() {
        let of = |e: CycleError| {
            let r = Err(e);
            (describe(&r).0, reason(&r))
        };
        assert_eq!(
            of(CycleError::Git(GitError::Network("cut".into()))),
            (SyncState::Offline, Some(Reason::Offline))
        );
        assert_eq!(
            of(CycleError::Git(GitError::DiskFull)),
            (SyncState::Error, Some(Reason::DiskFull)),
            "a full disk is the user's to see, though retried"
        );
        assert_eq!(
            of(CycleError::Git(GitError::Locked)),
            (SyncState::Syncing, Some(Reason::WaitingForGit))
        );
        assert_eq!(of(CycleError::Busy), (SyncState::Syncing, None));
        assert_eq!(
            of(CycleError::Git(GitError::Auth)),
            (SyncState::Error, Some(Reason::SignIn))
        );
    }
}
