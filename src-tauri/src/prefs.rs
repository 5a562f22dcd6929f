//! Preferences (start at login, notifications, how often to check for
//! changes, commit message style) and the About screen's facts.

use ferry::config::Preferences;
use serde::Serialize;
use tauri::{AppHandle, State};
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

/// Saves preferences and hands them to the running folders' loops (not
/// starting at login: see [`set_start_at_login`]).
#[tauri::command]
pub fn set_preferences(
    shell: State<'_, Shell>,
    preferences: Preferences,
) -> Result<Preferences, UiError> {
    let saved = shell
        .app()
        .set_preferences(preferences)
        .map_err(UiError::from)?;
    Ok(saved)
}

/// Turns starting at login on or off (the Settings toggle, the wizard's
/// offer): remembered, and the login item registered or removed at once —
/// never for a development build. Says whether Ferry now starts at login.
#[tauri::command]
pub fn set_start_at_login(
    app: AppHandle,
    shell: State<'_, Shell>,
    enabled: bool,
) -> Result<bool, UiError> {
    shell.app().set_start_at_login(enabled)?;
    crate::login::on_choice(&app, enabled);
    Ok(crate::login::starts_at_login(&app))
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
    /// A build run from a checkout: it never starts at login.
    pub development_build: bool,
    /// A login item starts Ferry now.
    pub starts_at_login: bool,
}

/// Version and where Ferry keeps its files.
#[tauri::command]
pub fn app_info(app: AppHandle, shell: State<'_, Shell>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        logs: shell.dirs().logs.display().to_string(),
        settings: shell.store().path().display().to_string(),
        development_build: crate::login::development_build(&app),
        starts_at_login: crate::login::starts_at_login(&app),
    }
}

/// Opens the folder of log files (to attach one to a support request).
#[tauri::command]
pub fn open_logs(shell: State<'_, Shell>) -> Result<(), UiError> {
    Ok(shell.app().open_logs()?)
}
