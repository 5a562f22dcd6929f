//! Synced folders: their status, the status stream every front end
//! subscribes to, and the checks a directory must pass to become one.
//!
//! [`Engine`] is a cloneable handle. Front ends send it requests (pause,
//! resume, sync now) and watch its [`Overview`]; it never calls back into
//! them. The status stream keeps only the newest overview: a slow reader
//! skips states in between but always sees the latest one.
//!
//! # Limitations
//! The per-folder sync workers arrive with the sync engine; until then
//! every configured folder reports `paused` with a message saying so.

pub mod folder_choice;
pub mod status;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;
pub use status::{FolderStatus, Overview, SyncState};

/// The handle front ends use to follow and steer syncing.
#[derive(Clone)]
pub struct Engine {
    overview: Arc<watch::Sender<Overview>>,
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
        }
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
    }

    /// Resumes syncing after [`Engine::pause`].
    pub fn resume(&self) {
        tracing::info!("syncing resumed");
        self.overview
            .send_if_modified(|o| std::mem::replace(&mut o.paused, false));
    }

    /// Asks every folder to run a cycle now.
    pub fn sync_now(&self) {
        let overview = self.overview.borrow();
        tracing::info!(folders = overview.folders.len(), "sync now requested");
    }

    /// Picks up folders added or removed in `config`, keeping the state of
    /// folders that stay.
    pub fn reload(&self, config: &Config) {
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
            state: SyncState::Paused,
            message: "Not syncing yet: this version of Ferry can't sync folders".into(),
            last_synced: None,
            pending: 0,
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
