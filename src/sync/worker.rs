//! One serve loop per folder (after Syncthing's folder model): it owns the
//! folder's state; watcher batches, the poll timer, "sync now", pause,
//! resume and shutdown are messages into it; it never runs two cycles at
//! once, and triggers that arrive during a cycle coalesce into one more.
//!
//! Polling adapts: every few seconds while the user is active or just after
//! a push or pull, backing off to the idle interval (default 60 s, jittered),
//! so one idle folder costs about one cheap request a minute. Failures back
//! off by doubling with jitter, up to five minutes; a problem only the user
//! can fix stops automatic retries until something changes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cycle::{self, CycleError, CycleOptions, CycleReport};
use super::setup::git_auth;
use super::{Engine, SyncState};
use crate::config::{Folder, Instance, Preferences};
use crate::gitlab::account::Accounts;
use crate::ErrorClass;

/// Messages into a folder's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    /// Files changed in the folder.
    Changed,
    /// Run a cycle now.
    SyncNow,
    /// Stop syncing until resumed.
    Pause,
    /// Resume syncing.
    Resume,
    /// The user confirmed a large deletion.
    ConfirmDeletion,
    /// Stop the loop.
    Shutdown,
}

/// Fast polling lasts this long after activity.
const ACTIVE_WINDOW: Duration = Duration::from_secs(120);
/// Poll interval while active.
const ACTIVE_POLL: Duration = Duration::from_secs(3);
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a burst of watcher messages is gathered before a cycle.
const COALESCE: Duration = Duration::from_millis(30);
/// How often a folder another process owns is looked at again.
const OWNER_RETRY: Duration = Duration::from_secs(15);
/// Folders that may talk to GitLab at the same time.
const NETWORK_SLOTS: usize = 4;

/// The global limit on concurrent network operations.
fn network_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(NETWORK_SLOTS))
}

fn jitter(d: Duration) -> Duration {
    let f: f64 = rand::rng().random_range(0.9..1.1);
    d.mul_f64(f)
}

/// Settings the loop needs.
#[derive(Clone)]
pub struct FolderSettings {
    /// The folder.
    pub folder: Folder,
    /// Its account.
    pub instance: Instance,
    /// The user's preferences.
    pub preferences: Preferences,
    /// Idle poll interval (`preferences.poll_interval_secs` unless overridden).
    pub idle_poll: Duration,
}

/// A handle to send a folder's loop messages.
#[derive(Clone)]
pub struct FolderHandle {
    tx: mpsc::UnboundedSender<Msg>,
}

impl FolderHandle {
    /// Sends a message; false if the loop has ended.
    pub fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).is_ok()
    }
}

/// Starts a folder's loop (and its watcher) on the current runtime.
pub fn spawn(settings: FolderSettings, accounts: Arc<Accounts>, engine: Engine) -> FolderHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let watcher = crate::watch::start(
        &settings.folder.path,
        settings.preferences.quiet_period_ms,
        tx.clone(),
    );
    let handle = FolderHandle { tx };
    tokio::spawn(async move {
        let _watcher = watcher;
        serve(settings, accounts, engine, rx).await;
    });
    handle
}

async fn serve(
    settings: FolderSettings,
    accounts: Arc<Accounts>,
    engine: Engine,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) {
    let id = settings.folder.id.clone();
    let dir: PathBuf = settings.folder.path.clone();
    let branch = settings
        .folder
        .branch
        .clone()
        .unwrap_or_else(|| "main".into());
    let quiet = Duration::from_millis(settings.preferences.quiet_period_ms);
    let mut paused = settings.folder.paused;
    let mut due: Option<Instant> = Some(Instant::now());
    let mut active_until = Instant::now() + ACTIVE_WINDOW;
    let mut failures: u32 = 0;
    let mut waiting_for_user = false;
    // The next cycle runs because of something the user did (show "syncing").
    let mut show_work = true;

    if paused {
        engine.set_folder(&id, SyncState::Paused, "Paused".into());
    }
    // One process owns a folder: this loop holds it for its whole life.
    let mut owner: Option<crate::git::FolderLock> = None;
    loop {
        let poll_every = if Instant::now() < active_until {
            ACTIVE_POLL
        } else {
            settings.idle_poll
        };
        let next = if paused {
            None
        } else {
            match due {
                Some(d) => Some(d),
                None if waiting_for_user => None,
                None => Some(Instant::now() + jitter(poll_every)),
            }
        };
        let msg = match next {
            Some(at) => tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep_until(at) => None,
            },
            None => rx.recv().await,
        };
        match msg {
            Some(Msg::Shutdown) => return,
            Some(Msg::Pause) => {
                paused = true;
                engine.set_folder(&id, SyncState::Paused, "Paused".into());
                continue;
            }
            Some(Msg::Resume) => {
                paused = false;
                show_work = true;
                due = Some(Instant::now());
                continue;
            }
            Some(Msg::ConfirmDeletion) => {
                let (d, b) = (dir.clone(), branch.clone());
                let approved =
                    tokio::task::spawn_blocking(move || cycle::allow_pending_deletion(&d, &b))
                        .await;
                if !matches!(approved, Ok(Ok(true))) {
                    tracing::info!("no large deletion was waiting for approval");
                }
                show_work = true;
                waiting_for_user = false;
                due = Some(Instant::now());
                continue;
            }
            Some(Msg::Changed) => {
                active_until = Instant::now() + ACTIVE_WINDOW;
                show_work = true;
                waiting_for_user = false;
                // The watcher already waited for the quiet period; a short
                // pause coalesces the messages of one burst into one cycle
                // (the snapshot still defers files that are being written).
                let at = Instant::now() + COALESCE;
                due = Some(due.map_or(at, |d| d.min(at)).max(Instant::now()));
                continue;
            }
            Some(Msg::SyncNow) => {
                show_work = true;
                waiting_for_user = false;
                due = Some(Instant::now());
                continue;
            }
            None if rx.is_closed() && next.is_none() => return,
            None => {}
        }
        if paused {
            continue;
        }
        due = None;

        if owner.is_none() && dir.join(".git").is_dir() {
            match crate::git::lock_folder(&dir) {
                Ok(lock) => owner = Some(lock),
                Err(e @ crate::git::GitError::AlreadySyncing(_)) => {
                    engine.set_folder(&id, SyncState::Paused, e.to_string());
                    due = Some(Instant::now() + OWNER_RETRY);
                    continue;
                }
                // Anything else shows up in the cycle itself.
                Err(_) => {}
            }
        }

        // Run one cycle. A routine poll shows nothing (the tray doesn't
        // blink every few seconds); work the user caused shows "syncing".
        if std::mem::take(&mut show_work) || failures > 0 {
            engine.set_folder(&id, SyncState::Syncing, "Syncing…".into());
        }
        let cred = match accounts.credential(&settings.instance).await {
            Ok(c) => c,
            Err(e) => {
                let retry = e.code() == "timeout"
                    || e.code() == "unreachable"
                    || e.code() == "name_not_found";
                if retry {
                    failures += 1;
                    due = Some(Instant::now() + backoff(failures));
                    engine.set_folder(&id, SyncState::Offline, e.to_string());
                } else {
                    waiting_for_user = true;
                    engine.set_folder(&id, SyncState::Error, e.to_string());
                }
                continue;
            }
        };
        let auth = git_auth(&settings.instance, &cred);
        // A file still being written waits, alone, however long it takes:
        // it is never committed half written.
        let options = CycleOptions {
            quiet,
            style: settings.preferences.commit_messages,
            ..CycleOptions::default()
        };
        let _slot = network_slots().acquire().await;
        let d = dir.clone();
        let b = branch.clone();
        let result = tokio::task::spawn_blocking(move || cycle::run(&d, &b, &auth, &options))
            .await
            .unwrap_or_else(|e| Err(CycleError::Git(crate::git::GitError::Other(e.to_string()))));
        match result {
            Ok(report) => {
                failures = 0;
                engine.set_pending_deletion(&id, None);
                if report.pushed || !report.incoming.is_empty() || !report.committed.is_empty() {
                    active_until = Instant::now() + ACTIVE_WINDOW;
                }
                if let Some(ms) = report.retry_in_ms {
                    // Look again once the files being written have been quiet.
                    due = Some(Instant::now() + Duration::from_millis(ms + 50));
                }
                let (state, message) = if report.needs_attention() {
                    (SyncState::Error, attention_message(&report))
                } else if !report.waiting.is_empty() {
                    (
                        SyncState::Syncing,
                        format!(
                            "Waiting for {} to finish saving…",
                            report
                                .waiting
                                .first()
                                .map(String::as_str)
                                .unwrap_or("a file")
                        ),
                    )
                } else if report.conflict_copies.is_empty() {
                    (SyncState::Synced, synced_message(&report))
                } else {
                    (
                        SyncState::Conflict,
                        format!(
                            "Someone else changed the same file: both versions were kept ({})",
                            report.conflict_copies.join(", ")
                        ),
                    )
                };
                let project_url = format!(
                    "{}/{}",
                    settings.instance.url.trim_end_matches('/'),
                    settings.folder.project
                );
                engine.record_cycle(&id, state, message, &report, &project_url);
            }
            Err(e) => match e.class() {
                ErrorClass::RetryLater if e.pauses() => {
                    // Another process owns the folder for now.
                    owner = None;
                    due = Some(Instant::now() + OWNER_RETRY);
                    engine.set_folder(&id, SyncState::Paused, e.to_string());
                }
                ErrorClass::RetryLater => {
                    failures += 1;
                    due = Some(Instant::now() + backoff(failures));
                    engine.set_folder(&id, SyncState::Offline, e.to_string());
                }
                _ => {
                    waiting_for_user = true;
                    if matches!(
                        e,
                        CycleError::MassDelete { .. } | CycleError::IncomingMassDelete { .. }
                    ) {
                        let (d, b) = (dir.clone(), branch.clone());
                        let pending = tokio::task::spawn_blocking(move || {
                            crate::git::Repo::open(&d, &b)
                                .ok()
                                .and_then(|r| r.pending_deletion())
                        })
                        .await
                        .ok()
                        .flatten();
                        engine.set_pending_deletion(&id, pending);
                    }
                    if e.pauses() {
                        engine.set_folder(&id, SyncState::Paused, e.to_string());
                    } else {
                        engine.set_folder(&id, SyncState::Error, e.to_string());
                    }
                }
            },
        }
    }
}

fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(2u64.saturating_pow(failures.min(9)));
    jitter(base.min(MAX_BACKOFF))
}

/// The message for files from GitLab the folder couldn't take.
pub fn attention_message(r: &CycleReport) -> String {
    let skipped: Vec<&crate::git::Note> = r
        .notes
        .iter()
        .filter(|n| n.kind.needs_attention())
        .collect();
    match skipped.as_slice() {
        [one] => one.message.clone(),
        many => format!(
            "{} files from GitLab weren't saved in your folder ({}); everything else is in sync. See the folder's notes for why.",
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
    match (sent, r.incoming.len()) {
        (0, 0) => "Up to date".into(),
        (s, 0) => format!("Sent {s} {}", if s == 1 { "change" } else { "changes" }),
        (0, i) => format!("Received {i} {}", if i == 1 { "change" } else { "changes" }),
        (s, i) => format!("Sent {s}, received {i} changes"),
    }
}
