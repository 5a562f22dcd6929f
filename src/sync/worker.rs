//! One folder's serve loop: the thin async driver around
//! [`machine::Machine`](super::machine::Machine), which makes every
//! decision. The driver turns messages, the wake-up time and the end of a
//! cycle into the machine's events, and carries out its actions: run a
//! cycle (on a blocking thread: git2 is blocking), record the user's
//! approval of a deletion, restart the watcher, stop.
//!
//! The loop owns its folder for this process while it runs (`.git/ferry.lock`);
//! shutdown waits for a running cycle to end. One cycle function,
//! [`run_cycle`], serves the loop, `ferry sync` and `ferry sync --once`, and
//! one mapping, [`super::cycle::describe`], words its outcome everywhere.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cycle::{self, CycleError, CycleOptions, CycleReport};
use super::machine::{Action, Ended, Event, Machine, Timing};
use super::setup::git_auth;
use super::{Engine, Reason, SyncState};
use crate::config::{Folder, Instance, Preferences};
use crate::gitlab::account::Accounts;

/// Messages into a folder's loop.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Files changed in the folder.
    Changed,
    /// Run a cycle now.
    SyncNow,
    /// All syncing is paused until resumed (a folder's own pause is in
    /// its settings).
    PauseAll,
    /// All syncing resumes.
    ResumeAll,
    /// The user confirmed a large deletion.
    ConfirmDeletion,
    /// The settings changed: apply them (no restart).
    Reconfigure(Box<FolderSettings>),
    /// Stop the loop.
    Shutdown,
}

/// Folders that may talk to GitLab at the same time.
const NETWORK_SLOTS: usize = 4;

/// The global limit on concurrent network operations.
fn network_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(NETWORK_SLOTS))
}

/// Settings the loop needs.
#[derive(Clone, Debug, PartialEq)]
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

impl FolderSettings {
    fn timing(&self) -> Timing {
        Timing::with_idle_poll(self.idle_poll)
    }

    fn branch(&self) -> String {
        self.folder.branch.clone().unwrap_or_else(|| "main".into())
    }

    /// The project's page on GitLab, for commit links.
    pub fn project_url(&self) -> String {
        format!(
            "{}/{}",
            self.instance.url.trim_end_matches('/'),
            self.folder.project
        )
    }
}

/// A handle to a folder's loop.
pub struct FolderHandle {
    tx: mpsc::UnboundedSender<Msg>,
    task: tokio::task::JoinHandle<()>,
    /// The settings the loop was last given.
    settings: FolderSettings,
}

impl FolderHandle {
    /// Hands the loop new settings, if they differ from what it has.
    pub fn reconfigure(&mut self, settings: FolderSettings) {
        if settings != self.settings {
            self.settings = settings.clone();
            self.send(Msg::Reconfigure(Box::new(settings)));
        }
    }

    /// Sends a message; false if the loop has ended.
    pub fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).is_ok()
    }

    /// Stops the loop and waits for it (and a cycle it was running) to end.
    pub async fn stop(self) {
        let _ = self.tx.send(Msg::Shutdown);
        let _ = self.task.await;
    }
}

/// Starts a folder's loop (and its watcher) on the current runtime.
pub fn spawn(settings: FolderSettings, accounts: Arc<Accounts>, engine: Engine) -> FolderHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(serve(settings.clone(), accounts, engine, tx.clone(), rx));
    FolderHandle { tx, task, settings }
}

fn watcher(settings: &FolderSettings, tx: &mpsc::UnboundedSender<Msg>) -> crate::watch::Watcher {
    let tx = tx.clone();
    crate::watch::start(
        &settings.folder.path,
        settings.preferences.quiet_period_ms,
        move || {
            let _ = tx.send(Msg::Changed);
        },
    )
}

/// What one cycle attempt came to.
pub type CycleResult = Result<CycleReport, CycleError>;

/// Runs one cycle of `settings`' folder: its sign-in, a network slot,
/// then [`cycle::run`] on a blocking thread. The loop, `ferry sync` and
/// `ferry sync --once` all go through here.
/// `settled`: files the watcher saw saved whole (see [`crate::watch`]).
pub async fn run_cycle(
    settings: &FolderSettings,
    accounts: &Accounts,
    settled: crate::git::SettledFiles,
) -> CycleResult {
    let cred = accounts
        .credential(&settings.instance)
        .await
        .map_err(|e| CycleError::SignIn {
            message: e.to_string(),
            class: e.class(),
            unreachable: e.unreachable(),
        })?;
    let auth = git_auth(&settings.instance, &cred);
    let options = CycleOptions {
        // A file still being written waits, alone, however long it takes:
        // it is never committed half written.
        quiet: Duration::from_millis(settings.preferences.quiet_period_ms),
        settled,
        style: settings.preferences.commit_messages,
        ..CycleOptions::default()
    };
    let _slot = network_slots().acquire().await;
    let dir = settings.folder.path.clone();
    let branch = settings.branch();
    tokio::task::spawn_blocking(move || cycle::run(&dir, &branch, &auth, &options))
        .await
        .unwrap_or_else(|e| Err(CycleError::Git(crate::git::GitError::Other(e.to_string()))))
}

/// How a cycle's outcome drives the loop's timing.
pub fn ended(result: &CycleResult) -> Ended {
    match result {
        Ok(r) => Ended::Done {
            worked: r.pushed || !r.incoming.is_empty() || !r.committed.is_empty(),
            again_in: r.retry_in_ms.map(Duration::from_millis),
        },
        Err(CycleError::Git(crate::git::GitError::AlreadySyncing(_))) => Ended::NotOwner,
        Err(e) if e.class() == crate::ErrorClass::RetryLater => Ended::RetryLater,
        Err(_) => Ended::NeedsUser,
    }
}

fn jitter() -> f64 {
    rand::rng().random_range(0.9..1.1)
}

async fn serve(
    mut settings: FolderSettings,
    accounts: Arc<Accounts>,
    engine: Engine,
    tx: mpsc::UnboundedSender<Msg>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) {
    let id = settings.folder.id.clone();
    let dir: PathBuf = settings.folder.path.clone();
    let mut machine = Machine::new(Instant::now(), settings.timing(), settings.folder.paused);
    if engine.overview().paused {
        machine.on(Instant::now(), Event::PauseAll);
    }
    let mut watching = watcher(&settings, &tx);
    // One process owns a folder: this loop holds it for its whole life.
    let mut owner: Option<crate::git::FolderLock> = None;
    let mut running: Option<
        std::pin::Pin<Box<dyn std::future::Future<Output = CycleResult> + Send>>,
    > = None;
    if settings.folder.paused {
        engine.set_folder(
            &id,
            SyncState::Paused,
            "Paused".into(),
            Some(Reason::UserPaused),
        );
    }
    loop {
        let wake = machine.wake_at();
        let actions = tokio::select! {
            msg = rx.recv() => {
                let now = Instant::now();
                match msg {
                    None | Some(Msg::Shutdown) => machine.on(now, Event::Shutdown),
                    Some(Msg::Changed) => machine.on(now, Event::Changed),
                    Some(Msg::SyncNow) => machine.on(now, Event::SyncNow),
                    Some(Msg::PauseAll) => machine.on(now, Event::PauseAll),
                    Some(Msg::ResumeAll) => machine.on(now, Event::ResumeAll),
                    Some(Msg::ConfirmDeletion) => machine.on(now, Event::ConfirmDeletion),
                    Some(Msg::Reconfigure(new)) => {
                        let was_paused = settings.folder.paused;
                        settings = *new;
                        let mut actions = machine.on(now, Event::Reconfigured(settings.timing()));
                        // Paused or resumed in the settings (by another Ferry process).
                        if settings.folder.paused != was_paused {
                            let event = if settings.folder.paused { Event::Pause } else { Event::Resume };
                            actions.extend(machine.on(now, event));
                        }
                        actions
                    }
                }
            }
            _ = async { tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)).await }, if wake.is_some() => {
                machine.on_timer(Instant::now())
            }
            result = async { running.as_mut().expect("guarded").await }, if running.is_some() => {
                running = None;
                let ended = ended(&result);
                if ended == Ended::NotOwner {
                    owner = None;
                }
                record(&engine, &settings, &dir, &result).await;
                machine.on_cycle_end(Instant::now(), ended, jitter())
            }
        };
        for action in actions {
            match action {
                Action::Stop => return,
                Action::ShowPaused => engine.set_folder(
                    &id,
                    SyncState::Paused,
                    "Paused".into(),
                    Some(Reason::UserPaused),
                ),
                Action::Rewatch => watching = watcher(&settings, &tx),
                Action::ApproveDeletion => {
                    let (d, b) = (dir.clone(), settings.branch());
                    let approved =
                        tokio::task::spawn_blocking(move || cycle::allow_pending_deletion(&d, &b))
                            .await;
                    if !matches!(approved, Ok(Ok(true))) {
                        tracing::info!("no large deletion was waiting for approval");
                    }
                }
                Action::Cycle { visible } => {
                    // This process owns the folder while its loop runs.
                    if owner.is_none() && dir.join(".git").is_dir() {
                        match crate::git::lock_folder(&dir) {
                            Ok(lock) => owner = Some(lock),
                            Err(e @ crate::git::GitError::AlreadySyncing(_)) => {
                                let result: CycleResult = Err(CycleError::Git(e));
                                record(&engine, &settings, &dir, &result).await;
                                machine.on_cycle_end(Instant::now(), Ended::NotOwner, jitter());
                                continue;
                            }
                            // Anything else shows up in the cycle itself.
                            Err(_) => {}
                        }
                    }
                    // A routine poll shows nothing (the tray doesn't blink
                    // every few seconds); work the user caused shows "syncing".
                    if visible {
                        engine.set_folder(&id, SyncState::Syncing, "Syncing…".into(), None);
                    }
                    let (s, a) = (settings.clone(), accounts.clone());
                    let settled = watching.settled();
                    running = Some(Box::pin(async move { run_cycle(&s, &a, settled).await }));
                }
            }
        }
    }
}

/// Shows a cycle's outcome in the folder's status.
async fn record(
    engine: &Engine,
    settings: &FolderSettings,
    dir: &std::path::Path,
    result: &CycleResult,
) {
    let id = &settings.folder.id;
    let (state, message) = cycle::describe(result);
    let reason = cycle::reason(result);
    match result {
        Ok(report) => {
            engine.set_pending_deletion(id, None);
            engine.record_cycle(id, state, message, reason, report, &settings.project_url());
        }
        Err(e) => {
            if matches!(
                e,
                CycleError::MassDelete { .. } | CycleError::IncomingMassDelete { .. }
            ) {
                let (d, b) = (dir.to_path_buf(), settings.branch());
                let pending = tokio::task::spawn_blocking(move || {
                    crate::git::Repo::open(&d, &b)
                        .ok()
                        .and_then(|r| r.pending_deletion())
                })
                .await
                .ok()
                .flatten();
                engine.set_pending_deletion(id, pending);
            }
            engine.set_folder(id, state, message, reason);
        }
    }
}
