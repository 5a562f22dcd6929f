//! Synced folders: their status, the status stream every front end
//! subscribes to, and the checks a directory must pass to become one.
//!
//! [`Engine`] is a cloneable handle. Front ends send it requests (pause,
//! resume, sync now) and watch its [`Overview`]; it never calls back into
//! them. The status stream keeps only the newest overview: a slow reader
//! skips states in between but always sees the latest one.
//!
//! Each folder has its own serve loop ([`worker`], deciding through the
//! state machine in [`machine`]); [`Engine::start`] starts the loops of the
//! folders it does not run yet, [`Engine::reload`] stops those of removed
//! folders, and [`Engine::reconfigure`] hands new settings to running
//! loops (no restart). [`Engine::shutdown`] waits for every loop, and a
//! cycle one of them was running, to end.

pub mod cycle;
pub mod folder_choice;
pub mod machine;
pub mod setup;
pub mod status;
pub mod worker;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::config::Config;
use crate::gitlab::account::Accounts;
pub use status::{Activity, FolderStatus, Overview, Reason, SyncState};
use worker::{FolderHandle, FolderSettings, Msg};

/// The handle front ends use to follow and steer syncing.
#[derive(Clone)]
pub struct Engine {
    overview: Arc<watch::Sender<Overview>>,
    workers: Arc<Mutex<HashMap<String, FolderHandle>>>,
}

impl Engine {
    /// An engine for the folders in `config`.
    pub fn new(config: &Config) -> Self {
        let overview = Overview {
            folders: folder_statuses(config),
            paused: false,
        };
        Self {
            overview: Arc::new(watch::Sender::new(overview)),
            workers: Arc::default(),
        }
    }

    /// Starts one serve loop per folder in `config` (on the current Tokio
    /// runtime), using `accounts` for sign-ins.
    pub fn start(&self, config: &Config, accounts: Arc<Accounts>) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        for folder in &config.folders {
            if workers.contains_key(&folder.id) {
                continue;
            }
            let Some(settings) = self.settings_of(config, &folder.id) else {
                continue;
            };
            let handle = worker::spawn(settings, accounts.clone(), self.clone());
            workers.insert(folder.id.clone(), handle);
        }
    }

    /// A folder's loop settings from `config`; `None` (and the folder shows
    /// why) when its account is gone.
    fn settings_of(&self, config: &Config, id: &str) -> Option<FolderSettings> {
        let folder = config.folders.iter().find(|f| f.id == id)?;
        let Some(instance) = config.instances.iter().find(|i| i.id == folder.instance) else {
            self.set_folder(
                id,
                SyncState::Error,
                "Its GitLab account was removed. Add the account again.".into(),
                Some(Reason::SignIn),
            );
            return None;
        };
        Some(FolderSettings {
            folder: folder.clone(),
            instance: instance.clone(),
            preferences: config.preferences.clone(),
            idle_poll: std::time::Duration::from_secs(config.preferences.poll_interval_secs.max(5)),
        })
    }

    /// Hands new settings (preferences, an account's details) to the
    /// running loops: they apply them without a restart, between cycles.
    pub fn reconfigure(&self, config: &Config) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        for (id, handle) in workers.iter_mut() {
            if let Some(settings) = self.settings_of(config, id) {
                handle.reconfigure(settings);
            }
        }
    }

    /// Stops every folder's loop and waits for them (and any cycle they
    /// were running) to end.
    pub async fn shutdown(&self) {
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in workers.into_values() {
            handle.stop().await;
        }
    }

    fn broadcast(&self, msg: Msg) {
        for handle in self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            handle.send(msg.clone());
        }
    }

    /// Sends `msg` to one folder's loop.
    pub fn send(&self, folder_id: &str, msg: Msg) -> bool {
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(folder_id)
            .is_some_and(|h| h.send(msg))
    }

    /// Sets (or clears) the large deletion a folder waits on.
    pub fn set_pending_deletion(&self, id: &str, pending: Option<crate::git::PendingDeletion>) {
        self.overview
            .send_if_modified(|o| match o.folders.iter_mut().find(|f| f.id == id) {
                Some(f) if f.pending_deletion != pending => {
                    f.pending_deletion = pending;
                    true
                }
                _ => false,
            });
    }

    /// Sets one folder's state, message and the reason for them.
    pub fn set_folder(&self, id: &str, state: SyncState, message: String, reason: Option<Reason>) {
        self.overview
            .send_if_modified(|o| match o.folders.iter_mut().find(|f| f.id == id) {
                Some(f) if f.state != state || f.message != message || f.reason != reason => {
                    f.state = state;
                    f.message = message;
                    f.reason = reason;
                    true
                }
                _ => false,
            });
    }

    /// Records a finished cycle: state, time, pending commits, activity.
    /// `project_url` is the project's page on GitLab, for commit links.
    pub fn record_cycle(
        &self,
        id: &str,
        state: SyncState,
        message: String,
        reason: Option<Reason>,
        report: &cycle::CycleReport,
        project_url: &str,
    ) {
        let commit_url = |on_server: bool| match (&report.head, on_server) {
            (Some(sha), true) => Some(format!("{project_url}/-/commit/{sha}")),
            _ => None,
        };
        self.overview.send_modify(|o| {
            if let Some(f) = o.folders.iter_mut().find(|f| f.id == id) {
                f.state = state;
                f.message = message;
                f.reason = reason;
                f.last_synced = Some(chrono::Utc::now());
                f.pending = report.pending as u32;
                f.notes = report.notes.clone();
                let at = chrono::Utc::now();
                let commit = report.head.clone();
                let mut recent: Vec<Activity> = report
                    .committed
                    .iter()
                    .flat_map(|s| s.changes.iter())
                    .map(|c| Activity {
                        at,
                        incoming: false,
                        path: c.path.clone(),
                        commit: commit.clone(),
                        url: commit_url(report.pushed),
                    })
                    .chain(report.incoming.iter().map(|c| Activity {
                        at,
                        incoming: true,
                        path: c.path.clone(),
                        commit: commit.clone(),
                        url: commit_url(true),
                    }))
                    .collect();
                recent.append(&mut f.recent);
                recent.truncate(status::RECENT_ACTIVITY);
                f.recent = recent;
                // Conflict copies stay listed until the user removes them.
                for copy in &report.conflict_copies {
                    if !f.conflicts.contains(copy) {
                        f.conflicts.push(copy.clone());
                    }
                }
                let root = Path::new(&f.path).to_path_buf();
                f.conflicts.retain(|c| root.join(c).exists());
                if !f.conflicts.is_empty()
                    && matches!(f.state, SyncState::Synced | SyncState::Conflict)
                    && !report.needs_attention()
                {
                    f.state = SyncState::Conflict;
                    f.reason = Some(Reason::Conflict);
                    f.message = cycle::conflict_message(&f.conflicts);
                }
            }
        });
    }

    /// A stream of overviews: the current one at once, then every change.
    pub fn subscribe(&self) -> watch::Receiver<Overview> {
        self.overview.subscribe()
    }

    /// The current overview.
    pub fn overview(&self) -> Overview {
        self.overview.borrow().clone()
    }

    /// Pauses all syncing until [`Engine::resume`].
    pub fn pause(&self) {
        tracing::info!("syncing paused");
        self.overview
            .send_if_modified(|o| !std::mem::replace(&mut o.paused, true));
        self.broadcast(Msg::PauseAll);
    }

    /// Resumes syncing after [`Engine::pause`].
    pub fn resume(&self) {
        tracing::info!("syncing resumed");
        self.overview
            .send_if_modified(|o| std::mem::replace(&mut o.paused, false));
        self.broadcast(Msg::ResumeAll);
    }

    /// Asks every folder to run a cycle now.
    pub fn sync_now(&self) {
        let folders = self.overview.borrow().folders.len();
        tracing::info!(folders, "sync now requested");
        self.broadcast(Msg::SyncNow);
    }

    /// Picks up folders added or removed in `config`, keeping the state of
    /// folders that stay. A removed folder's loop is stopped (it finishes a
    /// running cycle first; a loop for the same folder started meanwhile
    /// waits its turn for each cycle).
    pub fn reload(&self, config: &Config) {
        {
            let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
            let gone: Vec<String> = workers
                .keys()
                .filter(|id| !config.folders.iter().any(|f| &f.id == *id))
                .cloned()
                .collect();
            for id in gone {
                if let Some(handle) = workers.remove(&id) {
                    if tokio::runtime::Handle::try_current().is_ok() {
                        tokio::spawn(handle.stop());
                    } else {
                        handle.send(Msg::Shutdown);
                    }
                }
            }
        }
        self.overview.send_modify(|o| {
            let old = std::mem::take(&mut o.folders);
            o.folders = folder_statuses(config)
                .into_iter()
                .map(|new| old.iter().find(|f| f.id == new.id).cloned().unwrap_or(new))
                .collect();
        });
    }
}

fn folder_statuses(config: &Config) -> Vec<FolderStatus> {
    config
        .folders
        .iter()
        .map(|f| FolderStatus {
            id: f.id.clone(),
            name: display_name(&f.path),
            path: f.path.display().to_string(),
            state: if f.paused {
                SyncState::Paused
            } else {
                SyncState::Syncing
            },
            message: if f.paused { "Paused" } else { "Starting…" }.into(),
            reason: f.paused.then_some(Reason::UserPaused),
            last_synced: None,
            pending: 0,
            recent: Vec::new(),
            conflicts: Vec::new(),
            notes: Vec::new(),
            pending_deletion: None,
        })
        .collect()
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Folder;

    fn config_with(ids: &[&str]) -> Config {
        Config {
            folders: ids
                .iter()
                .map(|id| Folder {
                    id: id.to_string(),
                    path: format!("/home/e/{id}").into(),
                    instance: "work".into(),
                    project: format!("e/{id}"),
                    branch: None,
                    paused: false,
                })
                .collect(),
            ..Config::default()
        }
    }

    #[tokio::test]
    async fn pause_and_resume_reach_subscribers() {
        let engine = Engine::new(&config_with(&[]));
        let mut rx = engine.subscribe();
        assert_eq!(rx.borrow_and_update().overall(), SyncState::Synced);
        engine.pause();
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow_and_update().overall(), SyncState::Paused);
        engine.pause();
        assert!(!rx.has_changed().unwrap(), "a second pause is not a change");
        engine.resume();
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow().overall(), SyncState::Synced);
    }

    #[test]
    fn reload_adds_and_removes_folders() {
        let engine = Engine::new(&config_with(&["site"]));
        assert_eq!(engine.overview().folders[0].name, "site");
        engine.reload(&config_with(&["site", "docs"]));
        let names: Vec<_> = engine
            .overview()
            .folders
            .iter()
            .map(|f| f.name.clone())
            .collect();
        assert_eq!(names, ["site", "docs"]);
        engine.reload(&config_with(&["docs"]));
        assert_eq!(engine.overview().folders.len(), 1);
    }
}
