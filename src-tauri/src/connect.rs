//! The connect wizard's commands: check a server, sign in (token or
//! browser), list and create repositories, add a folder with a progress
//! stream. Each is a few lines over the engine; each has a `ferry` CLI twin.

use std::path::PathBuf;

use ferry::app::{NewFolder, Pages, ProjectPage, SignInLinks};
use ferry::gitlab::account::Added;
use ferry::gitlab::client::Project;
use ferry::gitlab::diagnose::Report;
use ferry::gitlab::oauth::{App, SignInOptions};
use ferry::secrets::Sensitive;
use ferry::sync::setup::{ExistingFiles, SetUp};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use ts_rs::TS;

use crate::state::Shell;

/// An error the UI shows: a stable code and a sentence for a content editor.
#[derive(Debug, Clone, Serialize, TS)]
pub struct UiError {
    /// Stable code (`missing_scopes`, `untrusted_certificate`, ...).
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

impl From<ferry::app::AppError> for UiError {
    fn from(e: ferry::app::AppError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

impl UiError {
    /// An error with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<ferry::gitlab::account::AccountError> for UiError {
    fn from(e: ferry::gitlab::account::AccountError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<ferry::gitlab::Error> for UiError {
    fn from(e: ferry::gitlab::Error) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// Checks a server address step by step (`ferry instance check URL`).
#[tauri::command]
pub async fn check_server(
    shell: State<'_, Shell>,
    address: String,
    ca_file: Option<PathBuf>,
) -> Result<Report, UiError> {
    Ok(shell
        .app()
        .check_server(&address, ca_file.as_deref(), None, None)
        .await)
}

/// The sign-in links for a GitLab at `base_url` (as the check found it;
/// `ferry instance links`).
#[tauri::command]
pub fn sign_in_links(base_url: String) -> SignInLinks {
    SignInLinks::for_gitlab(&base_url)
}

/// A file picker for the CA certificate an administrator handed out.
#[tauri::command]
pub async fn choose_ca_file(window: tauri::WebviewWindow) -> Result<Option<String>, UiError> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    window
        .dialog()
        .file()
        .set_title("Choose your organisation's CA certificate")
        .add_filter("Certificates", &["pem", "crt", "cer"])
        .set_parent(&window)
        .pick_file(move |picked| {
            let _ = tx.send(picked);
        });
    let picked = rx
        .await
        .map_err(|_| UiError::new("internal", "The file picker closed unexpectedly."))?;
    Ok(picked
        .and_then(|p| p.into_path().ok())
        .map(|p| p.display().to_string()))
}

/// A connected account, as the wizard shows it.
#[derive(Debug, Serialize, TS)]
pub struct Connected {
    /// The account's id (for the next steps).
    pub instance: String,
    /// Its name.
    pub name: String,
    /// Who signed in.
    pub username: String,
    /// The GitLab's address.
    pub url: String,
    /// Things to know (a token expiring soon).
    pub warnings: Vec<String>,
}

impl From<Added> for Connected {
    fn from(a: Added) -> Self {
        Self {
            instance: a.instance.id,
            name: a.instance.name,
            username: a.user.username,
            url: a.instance.url,
            warnings: a.warnings,
        }
    }
}

/// Signs in with a personal access token (`ferry instance add URL --token-stdin`).
#[tauri::command]
pub async fn connect_with_token(
    shell: State<'_, Shell>,
    address: String,
    token: String,
    ca_file: Option<PathBuf>,
) -> Result<Connected, UiError> {
    let added = shell
        .app()
        .connect_with_token(&address, Sensitive::new(token), ca_file, None)
        .await?;
    Ok(added.into())
}

/// The OAuth application as typed in the wizard (a blank secret is none).
fn oauth_app(client_id: String, client_secret: Option<String>) -> App {
    App {
        client_id: client_id.trim().to_string(),
        client_secret: client_secret
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .map(Sensitive::new),
    }
}

/// Signs in through the browser with the user's OAuth application
/// (`ferry instance add URL --oauth --client-id ID`). Waits for the browser;
/// [`cancel_sign_in`] stops waiting.
#[tauri::command]
pub async fn connect_with_oauth(
    shell: State<'_, Shell>,
    address: String,
    client_id: String,
    client_secret: Option<String>,
    ca_file: Option<PathBuf>,
) -> Result<Connected, UiError> {
    let app = oauth_app(client_id, client_secret);
    let added = shell
        .app()
        .connect_with_oauth(
            &address,
            app,
            ca_file,
            None,
            SignInOptions::default(),
            |_| {},
        )
        .await?;
    Ok(added.into())
}

/// Signs an account in again with a new token (`ferry instance reconnect`);
/// its folders retry at once.
#[tauri::command]
pub async fn reconnect_with_token(
    shell: State<'_, Shell>,
    instance: String,
    token: String,
) -> Result<Connected, UiError> {
    let again = shell
        .app()
        .reconnect_with_token(&instance, Sensitive::new(token))
        .await?;
    Ok(again.into())
}

/// Signs an account in again through the browser; its folders retry at once.
#[tauri::command]
pub async fn reconnect_with_oauth(
    shell: State<'_, Shell>,
    instance: String,
    client_id: String,
    client_secret: Option<String>,
) -> Result<Connected, UiError> {
    let app = oauth_app(client_id, client_secret);
    let again = shell
        .app()
        .reconnect_with_oauth(&instance, app, SignInOptions::default(), |_| {})
        .await?;
    Ok(again.into())
}

/// Stops waiting for a browser sign-in.
#[tauri::command]
pub fn cancel_sign_in(shell: State<'_, Shell>) {
    shell.app().cancel_sign_in();
}

/// Repositories the account can push to, most recently active first
/// (`ferry repos NAME [--search TEXT]`).
#[tauri::command]
pub async fn list_projects(
    shell: State<'_, Shell>,
    instance: String,
    search: Option<String>,
    page: u32,
) -> Result<ProjectPage, UiError> {
    let pages = Pages::One { page, per_page: 30 };
    Ok(shell
        .app()
        .projects(&instance, search.as_deref(), pages)
        .await?)
}

/// Creates a private repository in the user's own namespace
/// (`ferry repos NAME --create TITLE`).
#[tauri::command]
pub async fn create_project(
    shell: State<'_, Shell>,
    instance: String,
    name: String,
) -> Result<Project, UiError> {
    Ok(shell.app().create_project(&instance, &name, None).await?)
}

/// A folder the wizard just set up.
#[derive(Debug, Serialize, TS)]
pub struct AddedFolder {
    /// Its id.
    pub id: String,
    /// Where it is.
    pub path: String,
    /// How it was set up (cloned, adopted, backed up, uploading).
    pub set_up: SetUp,
    /// The project's page on GitLab.
    pub web_url: String,
}

/// Clones `project` into `path` (or adopts, backs up, uploads), streaming
/// progress, then starts syncing it (`ferry folder add`).
#[tauri::command]
pub async fn add_folder(
    shell: State<'_, Shell>,
    instance: String,
    project: String,
    path: PathBuf,
    existing: Option<ExistingFiles>,
    on_progress: Channel<ferry::git::Progress>,
) -> Result<AddedFolder, UiError> {
    let new = NewFolder {
        account: &instance,
        project: &project,
        dir: &path,
        branch: None,
        existing,
    };
    let added = shell
        .app()
        .add_folder(new, move |p| {
            let _ = on_progress.send(p);
        })
        .await?;
    Ok(AddedFolder {
        id: added.folder.id,
        path: added.folder.path.display().to_string(),
        set_up: added.set_up,
        web_url: added.web_url,
    })
}
