//! The live status a running engine publishes for other processes, and
//! how `ferry status` reads it.
//!
//! The publisher rewrites `status.json` (beside the settings) on every
//! change and holds `running.lock` for as long as it runs: a reader tells a
//! live publisher from a stale file by the lock, not by a process id that
//! may have been reused. On stop the file stays, marked as no longer
//! running: the last known state.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::Config;
use crate::sync::{Engine, Overview, SyncState};

const STATUS_FILE: &str = "status.json";
const RUNNING_LOCK: &str = "running.lock";

/// What `ferry status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Every folder's status (live, or the last known).
    pub overview: Overview,
    /// The process syncing now, if any.
    pub running: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    pid: u32,
    running: bool,
    at: chrono::DateTime<chrono::Utc>,
    overview: Overview,
}

/// Publishes an engine's status while it runs.
pub struct Publisher {
    _lock: std::fs::File,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn write(path: &Path, overview: &Overview, running: bool) {
    let record = Record {
        pid: std::process::id(),
        running,
        at: chrono::Utc::now(),
        overview: overview.clone(),
    };
    if let Ok(text) = serde_json::to_vec(&record) {
        if let Err(e) = crate::files::write_atomically(path, &text) {
            tracing::warn!("the live status can't be written: {e}");
        }
    }
}

impl Publisher {
    /// Starts publishing `engine`'s status in `dir` (on the current runtime).
    pub fn start(dir: &Path, engine: &Engine) -> std::io::Result<Publisher> {
        let Some(lock) = crate::files::try_lock(&dir.join(RUNNING_LOCK))? else {
            return Err(std::io::Error::other(
                "another Ferry process publishes the status here",
            ));
        };
        let path: PathBuf = dir.join(STATUS_FILE);
        let mut updates = engine.subscribe();
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let overview = updates.borrow_and_update().clone();
                write(&path, &overview, true);
                tokio::select! {
                    changed = updates.changed() => if changed.is_err() { break },
                    _ = stopped.changed() => break,
                }
            }
            let overview = updates.borrow().clone();
            write(&path, &overview, false);
        });
        Ok(Publisher {
            _lock: lock,
            stop,
            task,
        })
    }

    /// Writes the last known state and stops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The status published in `dir`: live when a process holds the running
/// lock; otherwise the last known state, or (never published) what each
/// folder's repository says. `config` lists the folders.
pub fn read(dir: &Path, config: &Config) -> Status {
    let record: Option<Record> = std::fs::read(dir.join(STATUS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let someone_runs = matches!(crate::files::try_lock(&dir.join(RUNNING_LOCK)), Ok(None));
    match record {
        Some(r) if someone_runs => Status {
            overview: r.overview,
            running: Some(r.pid),
        },
        Some(r) => Status {
            overview: last_known(r.overview, config),
            running: None,
        },
        None => Status {
            overview: last_known(Engine::new(config).overview(), config),
            running: None,
        },
    }
}

/// The folders of `config`, with what was last known of each and what
/// their repositories say now (commits waiting to be sent).
fn last_known(known: Overview, config: &Config) -> Overview {
    let mut overview = Engine::new(config).overview();
    overview.paused = known.paused;
    for (f, folder) in overview.folders.iter_mut().zip(&config.folders) {
        if let Some(k) = known.folders.iter().find(|k| k.id == f.id) {
            *f = k.clone();
        }
        let branch = folder.branch.clone().unwrap_or_else(|| "main".into());
        match crate::git::Repo::open(&folder.path, &branch) {
            Ok(repo) => {
                f.pending = repo.pending() as u32;
                if f.state == SyncState::Syncing {
                    f.state = SyncState::Paused;
                }
                f.message = format!("Ferry isn't running: start it to sync. Last: {}", f.message);
            }
            Err(_) => {
                f.state = SyncState::Error;
                f.message = format!("The folder {} is missing", folder.path.display());
            }
        }
    }
    overview
}
