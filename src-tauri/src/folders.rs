//! Commands on synced folders and accounts from the main window: sync now,
//! pause and resume one folder, open it or its GitLab page, remove it (its
//! files stay), list and check accounts, open a link.

use ferry::app::AccountView;
use ferry::gitlab::diagnose::Report;
use tauri::State;

use crate::connect::UiError;
use crate::state::Shell;

/// Runs one folder's sync cycle now.
#[tauri::command]
pub fn folder_sync_now(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    shell.app().folder_sync_now(&id).map_err(UiError::from)
}

/// Pauses (`paused = true`) or resumes one folder; remembered across restarts.
#[tauri::command]
pub fn folder_set_paused(shell: State<'_, Shell>, id: String, paused: bool) -> Result<(), UiError> {
    shell
        .app()
        .folder_set_paused(&id, paused)
        .map_err(UiError::from)
}

/// Confirms the large deletion a folder paused on (exactly that set of files).
#[tauri::command]
pub fn folder_allow_deletion(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    shell
        .app()
        .folder_allow_deletion(&id)
        .map(|_| ())
        .map_err(UiError::from)
}

/// Opens the folder in the file manager.
#[tauri::command]
pub fn open_folder(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    Ok(shell.app().open_folder(&id)?)
}

/// Opens a file inside a synced folder (a conflict copy and its original).
#[tauri::command]
pub fn open_file(shell: State<'_, Shell>, id: String, path: String) -> Result<(), UiError> {
    Ok(shell.app().open_file(&id, &path)?)
}

/// The project's page on GitLab for a folder.
#[tauri::command]
pub fn open_in_gitlab(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    Ok(shell.app().open_in_gitlab(&id)?)
}

/// Opens a web page (GitLab's token page, a commit) in the browser.
#[tauri::command]
pub fn open_url(url: String) -> Result<(), UiError> {
    ferry::open::web_page(&url).map_err(|e| UiError::new(e.code(), e.to_string()))
}

/// Stops syncing a folder. Its files stay where they are, untouched.
#[tauri::command]
pub fn remove_folder(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    shell.app().remove_folder(&id)?;
    Ok(())
}

/// Every connected account (`ferry instance list`).
#[tauri::command]
pub fn list_accounts(shell: State<'_, Shell>) -> Result<Vec<AccountView>, UiError> {
    Ok(shell.app().account_views()?)
}

/// Checks an account end to end: server, sign-in, scopes, expiry, git
/// (`ferry instance check NAME`).
#[tauri::command]
pub async fn test_account(shell: State<'_, Shell>, id: String) -> Result<Report, UiError> {
    Ok(shell.app().check_account(&id, None).await?)
}

/// Removes an account and its saved sign-in (refused while folders use it).
#[tauri::command]
pub fn remove_account(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    shell.app().remove_account(&id)?;
    Ok(())
}
