//! The shell's managed state: a cloneable handle over the engine, the
//! settings store and the stream of UI events. No lock around the engine.

use std::sync::Arc;

use ferry::app::App;
use ferry::config::{Config, ConfigError, ConfigStore};
use ferry::paths::StateDirs;
use serde::Serialize;
use tauri::DragDropEvent;
use tokio::sync::broadcast;
use ts_rs::TS;

use crate::events::UiEvent;

/// Everything the commands, the tray and the window events share: the
/// application (the same [`ferry::app::App`] the CLI uses) and the window's
/// own plumbing.
#[derive(Clone)]
pub struct Shell {
    inner: Arc<Inner>,
}

struct Inner {
    app: App,
    ui_events: broadcast::Sender<UiEvent>,
}

/// The settings file could not be used; the UI explains and offers a fresh start.
#[derive(Debug, Clone, Serialize, TS)]
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
    /// Opens the application (a settings problem is reported later, to the UI).
    pub fn open(dirs: StateDirs) -> Self {
        let (ui_events, _) = broadcast::channel(64);
        Self {
            inner: Arc::new(Inner {
                app: App::open(dirs),
                ui_events,
            }),
        }
    }

    /// The application.
    pub fn app(&self) -> &App {
        &self.inner.app
    }

    /// The settings store.
    pub fn store(&self) -> &ConfigStore {
        self.inner.app.store()
    }

    /// Where settings and logs live.
    pub fn dirs(&self) -> &StateDirs {
        self.inner.app.dirs()
    }

    /// Starts syncing every configured folder (one loop each) on the app's runtime.
    pub fn start_syncing(&self) {
        let app = self.inner.app.clone();
        tauri::async_runtime::spawn(async move { app.start() });
    }

    /// The settings as they are on disk now.
    pub fn settings(&self) -> Result<Config, ConfigError> {
        self.inner.app.settings()
    }

    /// Keeps a copy of the settings file and starts with fresh settings.
    pub fn reset_settings(&self) -> Result<Config, ConfigError> {
        self.inner.app.reset_settings()
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
