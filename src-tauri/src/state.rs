//! The shell's managed state: a cloneable handle over the engine, the
//! settings store and the stream of UI events. No lock around the engine.

use std::sync::{Arc, Mutex};

use ferry::config::{Config, ConfigError, ConfigStore};
use ferry::gitlab::account::Accounts;
use ferry::paths::StateDirs;
use ferry::sync::folder_choice::ChoiceContext;
use ferry::sync::Engine;
use serde::Serialize;
use tauri::DragDropEvent;
use tokio::sync::broadcast;

use crate::events::UiEvent;

/// Everything the commands, the tray and the window events share.
#[derive(Clone)]
pub struct Shell {
    inner: Arc<Inner>,
}

struct Inner {
    dirs: StateDirs,
    store: ConfigStore,
    engine: Engine,
    accounts: Mutex<Arc<Accounts>>,
    sign_in: Mutex<Option<tokio::task::AbortHandle>>,
    /// Bumped on every pause or resume, so a timed pause's wake-up can
    /// tell whether the user changed something since.
    pause_generation: std::sync::atomic::AtomicU64,
    ui_events: broadcast::Sender<UiEvent>,
}

/// The settings file could not be used; the UI explains and offers a fresh start.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsProblem {
    /// What is wrong and what to do.
    pub message: String,
    /// Where the unreadable file was copied, if it was.
    pub copy: Option<String>,
}

impl From<&ConfigError> for SettingsProblem {
    fn from(e: &ConfigError) -> Self {
        Self {
            message: e.to_string(),
            copy: e.kept_copy().map(|p| p.display().to_string()),
        }
    }
}

impl Shell {
    /// Loads the settings (a problem is reported later, to the UI) and
    /// starts the engine over them.
    pub fn open(dirs: StateDirs) -> Self {
        let store = ConfigStore::new(&dirs.config);
        let config = store.load().unwrap_or_else(|e| {
            tracing::error!("{e}");
            Config::default()
        });
        let (ui_events, _) = broadcast::channel(64);
        let accounts = Arc::new(Accounts::new(
            &dirs.config,
            ferry::secrets::store_for(&config, &dirs.config),
        ));
        Self {
            inner: Arc::new(Inner {
                engine: Engine::new(&config),
                dirs,
                store,
                accounts: Mutex::new(accounts),
                sign_in: Mutex::new(None),
                pause_generation: std::sync::atomic::AtomicU64::new(0),
                ui_events,
            }),
        }
    }

    /// Pauses all syncing, until [`Shell::resume`] or for `duration`.
    pub fn pause_for(&self, duration: Option<std::time::Duration>) {
        use std::sync::atomic::Ordering;
        let generation = self.inner.pause_generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.engine.pause();
        if let Some(d) = duration {
            tracing::info!(minutes = d.as_secs() / 60, "syncing paused for a while");
            let shell = self.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(d).await;
                if shell.inner.pause_generation.load(Ordering::SeqCst) == generation {
                    tracing::info!("the timed pause is over");
                    shell.resume();
                }
            });
        }
    }

    /// Resumes syncing after a pause.
    pub fn resume(&self) {
        self.inner
            .pause_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.engine.resume();
    }

    /// The accounts and their sign-ins.
    pub fn accounts(&self) -> Arc<Accounts> {
        self.inner
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The settings store.
    pub fn store(&self) -> &ConfigStore {
        &self.inner.store
    }

    /// Where settings and logs live.
    pub fn dirs(&self) -> &StateDirs {
        &self.inner.dirs
    }

    /// Remembers the browser sign-in in progress; `None` cancels it.
    pub fn set_sign_in(&self, handle: Option<tokio::task::AbortHandle>) {
        let mut slot = self.inner.sign_in.lock().unwrap_or_else(|e| e.into_inner());
        let previous = std::mem::replace(&mut *slot, handle);
        if let Some(previous) = previous {
            previous.abort();
        }
    }

    /// Hands changed preferences to every folder's loop: applied between
    /// cycles, never by killing a loop mid-cycle.
    pub fn apply_preferences(&self) {
        let Ok(config) = self.settings() else {
            return;
        };
        self.inner.engine.reconfigure(&config);
    }

    /// An account was added or removed: git must trust its CA file.
    pub fn accounts_changed(&self) {
        self.trust_ca_files();
    }

    /// A folder was added or removed: stop or start its loop.
    pub fn folders_changed(&self) {
        let Ok(config) = self.settings() else {
            return;
        };
        self.inner.engine.reload(&config);
        self.start_loops(config);
    }

    fn trust_ca_files(&self) {
        let Ok(config) = self.settings() else {
            return;
        };
        let ca_files: Vec<std::path::PathBuf> = config
            .instances
            .iter()
            .filter_map(|i| i.ca_file.clone())
            .collect();
        if let Err(e) = ferry::git::trust_ca_files(&ca_files, &self.inner.dirs.config) {
            tracing::warn!("could not set up the accounts' CA certificates for git: {e}");
        }
    }

    /// Starts the loops of `config`'s folders not running yet, on the app's runtime.
    fn start_loops(&self, config: Config) {
        let engine = self.inner.engine.clone();
        let accounts = self.accounts();
        tauri::async_runtime::spawn(async move {
            engine.start(&config, accounts);
        });
    }

    /// Starts syncing every configured folder (one loop each) on the app's runtime.
    pub fn start_syncing(&self) {
        let Ok(config) = self.settings() else {
            return;
        };
        self.trust_ca_files();
        self.start_loops(config);
    }

    /// The sync engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The settings as they are on disk now.
    pub fn settings(&self) -> Result<Config, ConfigError> {
        self.inner.store.load()
    }

    /// Keeps a copy of the settings file and starts with fresh settings.
    pub fn reset_settings(&self) -> Result<Config, ConfigError> {
        self.inner.store.reset()?;
        let config = Config::default();
        *self
            .inner
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(Accounts::new(
            &self.inner.dirs.config,
            ferry::secrets::store_for(&config, &self.inner.dirs.config),
        ));
        self.inner.engine.reload(&config);
        Ok(config)
    }

    /// What folder checks need to know about this user.
    pub fn choice_context(&self) -> ChoiceContext {
        let config = self.settings().unwrap_or_default();
        ChoiceContext::for_user(&config, &self.inner.dirs.config)
    }

    /// A receiver of UI events (drags over the window).
    pub fn ui_events(&self) -> broadcast::Receiver<UiEvent> {
        self.inner.ui_events.subscribe()
    }

    /// Passes a drag-and-drop on the window to the UI, which asks the
    /// engine to check what was dropped.
    pub fn relay_drag_drop(&self, drop: &DragDropEvent) {
        let event = match drop {
            DragDropEvent::Enter { paths, .. } => UiEvent::DragEnter { items: paths.len() },
            DragDropEvent::Drop { paths, .. } => {
                tracing::info!(items = paths.len(), "something was dropped on the window");
                UiEvent::Dropped {
                    paths: paths.iter().map(|p| p.display().to_string()).collect(),
                }
            }
            DragDropEvent::Leave => UiEvent::DragLeave,
            _ => return,
        };
        // No receiver means no window is listening: nothing to do.
        let _ = self.inner.ui_events.send(event);
    }
}
