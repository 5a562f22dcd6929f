//! Commands on synced folders and accounts from the main window: sync now,
//! pause and resume one folder, open it or its GitLab page, remove it (its
//! files stay), list and check accounts, open a link.

use std::path::Path;

use ferry::config::AuthKind;
use ferry::gitlab::diagnose::{self, CheckInput, Report};
use serde::Serialize;
use tauri::State;

use crate::connect::UiError;
use crate::state::Shell;

fn folder(shell: &Shell, id: &str) -> Result<ferry::config::Folder, UiError> {
    let config = shell
        .settings()
        .map_err(|e| UiError::new("settings", e.to_string()))?;
    config
        .folders
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(|| UiError::new("unknown_folder", "That folder is no longer synced."))
}

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
    let f = folder(&shell, &id)?;
    open_path(&f.path)
}

/// Opens a file inside a synced folder (a conflict copy and its original).
#[tauri::command]
pub fn open_file(shell: State<'_, Shell>, id: String, path: String) -> Result<(), UiError> {
    let f = folder(&shell, &id)?;
    let relative = Path::new(&path);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(UiError::new(
            "outside",
            "Only files inside the folder can be opened.",
        ));
    }
    let target = f.path.join(relative);
    // A collaborator's symbolic link may point anywhere (say, at a program):
    // only the folder's own files and folders are opened.
    let mut at = f.path.clone();
    for part in relative.components() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(UiError::new(
                "link",
                "This is a link to something outside the folder, so Ferry doesn't open it.",
            ));
        }
    }
    open_path(&target)
}

/// The project's page on GitLab for a folder.
#[tauri::command]
pub fn open_in_gitlab(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    let f = folder(&shell, &id)?;
    let config = shell
        .settings()
        .map_err(|e| UiError::new("settings", e.to_string()))?;
    let instance = config
        .instances
        .iter()
        .find(|i| i.id == f.instance)
        .ok_or_else(|| UiError::new("unknown_account", "This folder's account was removed."))?;
    ferry::gitlab::oauth::open_browser(&format!(
        "{}/{}",
        instance.url.trim_end_matches('/'),
        f.project
    ));
    Ok(())
}

/// Opens a web page (GitLab's token page, a commit) in the browser.
#[tauri::command]
pub fn open_url(url: String) -> Result<(), UiError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(UiError::new("not_a_link", "Only web links can be opened."));
    }
    ferry::gitlab::oauth::open_browser(&url);
    Ok(())
}

/// Stops syncing a folder. Its files stay where they are, untouched.
#[tauri::command]
pub fn remove_folder(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    shell
        .store()
        .update(|c| c.folders.retain(|f| f.id != id))
        .map_err(|e| UiError::new("settings", e.to_string()))?;
    shell.folders_changed();
    Ok(())
}

/// An account as the Accounts screen shows it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The GitLab's address.
    pub url: String,
    /// Who is signed in.
    pub username: Option<String>,
    /// `token` or `oauth`.
    pub auth: AuthKind,
    /// The OAuth application's ID, for signing in again.
    pub oauth_client_id: Option<String>,
    /// Where to create a new token for it.
    pub token_url: String,
    /// How many folders use it.
    pub folders: usize,
}

/// Every connected account.
#[tauri::command]
pub fn list_accounts(shell: State<'_, Shell>) -> Result<Vec<AccountView>, UiError> {
    let config = shell
        .settings()
        .map_err(|e| UiError::new("settings", e.to_string()))?;
    Ok(config
        .instances
        .iter()
        .map(|i| AccountView {
            id: i.id.clone(),
            name: i.name.clone(),
            url: i.url.clone(),
            username: i.username.clone(),
            auth: i.auth,
            oauth_client_id: i.oauth_client_id.clone(),
            token_url: ferry::gitlab::address::token_creation_url(&i.url),
            folders: config.folders.iter().filter(|f| f.instance == i.id).count(),
        })
        .collect())
}

/// Checks an account end to end: server, sign-in, scopes, expiry, git
/// (`ferry instance check NAME`).
#[tauri::command]
pub async fn test_account(shell: State<'_, Shell>, id: String) -> Result<Report, UiError> {
    let accounts = shell.accounts();
    let instance = accounts.find(&id)?;
    let credential = accounts.credential(&instance).await.ok();
    Ok(diagnose::check(CheckInput {
        address: &instance.url,
        ca_file: instance.ca_file.as_deref(),
        credential,
        username: instance.username.clone(),
        project: None,
    })
    .await)
}

/// Removes an account and its saved sign-in (refused while folders use it).
#[tauri::command]
pub fn remove_account(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    shell.accounts().remove(&id)?;
    shell.accounts_changed();
    Ok(())
}

/// Opens a file or folder with the desktop's default application.
pub fn open_path(path: &std::path::Path) -> Result<(), UiError> {
    if !path.exists() {
        return Err(UiError::new(
            "missing",
            format!("{} is not there any more.", path.display()),
        ));
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            Ok(())
        }
        Err(e) => Err(UiError::new(
            "no_opener",
            format!("Ferry couldn't open {} ({e}).", path.display()),
        )),
    }
}
