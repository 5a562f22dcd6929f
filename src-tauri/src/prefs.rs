//! Preferences (start at login, notifications, how often to check for
//! changes, commit message style) and the About screen's facts.

use ferry::config::Preferences;
use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;
use ts_rs::TS;

use crate::connect::UiError;
use crate::state::Shell;

/// The user's preferences as saved.
#[tauri::command]
pub fn get_preferences(shell: State<'_, Shell>) -> Result<Preferences, UiError> {
    shell
        .settings()
        .map(|c| c.preferences)
        .map_err(|e| UiError::new("settings", e.to_string()))
}

/// Saves preferences and applies them: start at login at once, the check
/// interval and commit style by restarting the folders' loops.
#[tauri::command]
pub fn set_preferences(
    app: AppHandle,
    shell: State<'_, Shell>,
    preferences: Preferences,
) -> Result<Preferences, UiError> {
    let saved = shell
        .app()
        .set_preferences(preferences)
        .map_err(UiError::from)?;
    apply_start_at_login(&app, saved.start_at_login);
    Ok(saved)
}

/// Makes the login item match the preference.
pub fn apply_start_at_login(app: &AppHandle, wanted: bool) {
    let launcher = app.autolaunch();
    let now = launcher.is_enabled().unwrap_or(false);
    let result = match (wanted, now) {
        (true, false) => launcher.enable(),
        (false, true) => launcher.disable(),
        _ => Ok(()),
    };
    match result {
        Ok(()) => tracing::info!(enabled = wanted, "start at login"),
        Err(e) => tracing::warn!("could not change starting at login: {e}"),
    }
}

/// What the About screen shows.
#[derive(Debug, Serialize, TS)]
pub struct AppInfo {
    /// Ferry's version.
    pub version: &'static str,
    /// Where the log files are.
    pub logs: String,
    /// Where the settings are.
    pub settings: String,
}

/// Version and where Ferry keeps its files.
#[tauri::command]
pub fn app_info(shell: State<'_, Shell>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        logs: shell.dirs().logs.display().to_string(),
        settings: shell.store().path().display().to_string(),
    }
}

/// Opens the folder of log files (to attach one to a support request).
#[tauri::command]
pub fn open_logs(shell: State<'_, Shell>) -> Result<(), UiError> {
    Ok(shell.app().open_logs()?)
}
