//! The commands the UI may call: each a few lines over the engine, each
//! also reachable from the `ferry` CLI.

use std::path::PathBuf;

use ferry::sync::folder_choice::FolderCheck;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use ts_rs::TS;

use crate::connect::UiError;
use crate::events::{StatusView, UiEvent};
use crate::state::{SettingsProblem, Shell};

/// What the window needs to draw its first screen.
#[derive(Debug, Serialize, TS)]
pub struct AppOverview {
    /// Nothing is configured yet: show the welcome.
    pub first_run: bool,
    /// The settings file could not be used.
    pub settings_problem: Option<SettingsProblem>,
    /// Every folder's status.
    pub status: StatusView,
}

fn app_overview(shell: &Shell) -> AppOverview {
    let (first_run, settings_problem) = match shell.settings() {
        Ok(config) => (config.is_first_run(), None),
        Err(e) => (true, Some(SettingsProblem::from(&e))),
    };
    AppOverview {
        first_run,
        settings_problem,
        status: shell.app().overview().into(),
    }
}

/// The first screen's data (`ferry status`).
#[tauri::command]
pub fn overview(shell: State<'_, Shell>) -> AppOverview {
    app_overview(&shell)
}

/// Opens the system folder picker (starting in the home folder) and checks
/// the chosen folder; `None` when the user cancels (`ferry folder check DIR`).
#[tauri::command]
pub async fn choose_folder(
    window: tauri::WebviewWindow,
    shell: State<'_, Shell>,
) -> Result<Option<FolderCheck>, UiError> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut picker = window
        .dialog()
        .file()
        .set_title("Choose the folder to keep in sync")
        .set_parent(&window);
    if let Some(home) = ferry::paths::home_dir() {
        picker = picker.set_directory(home);
    }
    picker.pick_folder(move |picked| {
        let _ = tx.send(picked);
    });
    let Some(picked) = rx
        .await
        .map_err(|_| UiError::new("internal", "The folder picker closed unexpectedly."))?
    else {
        return Ok(None);
    };
    let path = picked.into_path().map_err(|e| {
        UiError::new(
            "not_a_folder",
            format!("That isn't a folder on this computer ({e})."),
        )
    })?;
    Ok(Some(shell.app().check_folder(&path).into()))
}

/// Can what was dropped on the window become a synced folder?
#[tauri::command]
pub fn check_dropped(shell: State<'_, Shell>, paths: Vec<PathBuf>) -> FolderCheck {
    shell.app().check_dropped(&paths).into()
}

/// Keep a copy of the settings and start fresh (`ferry settings reset`).
#[tauri::command]
pub fn reset_settings(shell: State<'_, Shell>) -> Result<AppOverview, UiError> {
    shell
        .reset_settings()
        .map_err(|e| UiError::new("settings", e.to_string()))?;
    Ok(app_overview(&shell))
}

/// Streams status changes and drags to the UI until the window goes away.
#[tauri::command]
pub fn watch_events(shell: State<'_, Shell>, on_event: Channel<UiEvent>) {
    let mut status = shell.app().subscribe();
    let mut ui = shell.ui_events();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = {
                let view = StatusView::from(status.borrow_and_update().clone());
                UiEvent::Status(view)
            };
            if on_event.send(event).is_err() {
                return;
            }
            loop {
                tokio::select! {
                    changed = status.changed() => {
                        if changed.is_err() { return; }
                        break;
                    }
                    received = ui.recv() => match received {
                        Ok(event) => if on_event.send(event).is_err() { return },
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        }
    });
}

/// Pause all syncing, for `minutes` or until resumed.
#[tauri::command]
pub fn pause_syncing(shell: State<'_, Shell>, minutes: Option<u64>) -> Result<(), UiError> {
    let duration = minutes.map(|m| std::time::Duration::from_secs(m * 60));
    Ok(shell.app().pause_for(duration)?)
}

/// Resume syncing.
#[tauri::command]
pub fn resume_syncing(shell: State<'_, Shell>) -> Result<(), UiError> {
    Ok(shell.app().resume()?)
}

/// Run a sync cycle for every folder now.
#[tauri::command]
pub fn sync_now(shell: State<'_, Shell>) -> Result<(), UiError> {
    Ok(shell.app().sync_now()?)
}
