//! The Ferry running on this computer: the application both front ends
//! share (after GitButler's `but-api`). It owns the state directories, the
//! settings store, the accounts, the sync engine and what this process
//! publishes about it; its methods are the use cases. The CLI parses
//! arguments, calls one method and prints; the desktop shell adds windows,
//! the tray, dialogs and notifications around the same calls — so every
//! desktop action has a CLI twin and one wording.
//!
//! Whichever process runs the engine (the desktop app or `ferry sync`)
//! publishes the live status in `status.json` beside the settings, and
//! holds `running.lock` while it does: `ferry status` shows that live state,
//! or, when nothing runs, each folder's last known state and says so. It
//! also listens on `control.sock` ([`control`]): pause, resume and sync now
//! called in another process reach it.

pub mod connect;
pub mod control;
pub mod login_item;
pub mod published;

pub use connect::{AccountView, NewFolder, Pages, ProjectPage, SignInLinks};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::config::{Config, ConfigError, ConfigStore, Folder, Preferences};
use crate::gitlab::account::Accounts;
use crate::paths::StateDirs;
use crate::sync::cycle;
use crate::sync::folder_choice::{self, ChoiceContext, FolderChoice, FolderRejection};
use crate::sync::worker::{self, CycleResult, FolderSettings, Msg};
use crate::sync::{Engine, Overview};

/// Why a use case could not be carried out, for a content editor.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The settings file failed.
    #[error(transparent)]
    Settings(#[from] ConfigError),
    /// No synced folder matches.
    #[error("No synced folder is called {0}. See: ferry folder list")]
    UnknownFolder(String),
    /// Git failed.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// Something could not be opened for the user.
    #[error(transparent)]
    Open(#[from] crate::open::OpenError),
    /// A folder's account is gone from the settings.
    #[error("This folder's GitLab account was removed. Add the account again.")]
    AccountRemoved,
    /// An account could not be used (signed in, found, saved).
    #[error(transparent)]
    Account(#[from] crate::gitlab::account::AccountError),
    /// GitLab refused or could not be reached.
    #[error(transparent)]
    GitLab(#[from] crate::gitlab::Error),
    /// A folder could not be set up.
    #[error(transparent)]
    Setup(#[from] crate::sync::setup::SetupError),
    /// The user cancelled the browser sign-in.
    #[error("Sign-in cancelled.")]
    Cancelled,
    /// A new project needs a name.
    #[error("Give the new repository a name.")]
    EmptyName,
    /// No Ferry process is syncing to ask.
    #[error(
        "Ferry isn't running, so nothing is syncing. Start the Ferry app (or `ferry sync`) first."
    )]
    NotRunning,
    /// The running Ferry refused a request (its reason).
    #[error("{0}")]
    Refused(String),
    /// A bug in Ferry (logged with its details).
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// A stable code for front ends.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Settings(_) => "settings",
            Self::UnknownFolder(_) => "unknown_folder",
            Self::Git(e) => e.code(),
            Self::Open(e) => e.code(),
            Self::AccountRemoved => "unknown_account",
            Self::Account(e) => e.code(),
            Self::GitLab(e) => e.code(),
            Self::Setup(e) => e.code(),
            Self::Cancelled => "cancelled",
            Self::EmptyName => "empty_name",
            Self::NotRunning => "not_running",
            Self::Refused(_) => "refused",
            Self::Internal(_) => "internal",
        }
    }

    /// Retry later, ask the user, or give up.
    pub fn class(&self) -> crate::ErrorClass {
        use crate::ErrorClass;
        match self {
            Self::Git(e) => e.class(),
            Self::Account(e) => e.class(),
            Self::GitLab(e) => e.class(),
            Self::Setup(crate::sync::setup::SetupError::Account(e)) => e.class(),
            Self::Setup(crate::sync::setup::SetupError::Git(e)) => e.class(),
            Self::Settings(_) | Self::Internal(_) => ErrorClass::Fatal,
            _ => ErrorClass::NeedsUser,
        }
    }
}

/// A mutex's guard even if a thread panicked while holding it: the state
/// behind these locks (handles, a runtime) stays usable.
trait Held<T> {
    fn held(&self) -> std::sync::MutexGuard<'_, T>;
}

impl<T> Held<T> for Mutex<T> {
    fn held(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The application (a cloneable handle).
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    dirs: StateDirs,
    store: ConfigStore,
    engine: Engine,
    accounts: RwLock<Arc<Accounts>>,
    /// Bumped on every pause or resume, so a timed pause's end can tell
    /// whether the user changed something since.
    pause_generation: AtomicU64,
    /// The runtime the engine runs on (set by [`App::start`]).
    runtime: Mutex<Option<tokio::runtime::Handle>>,
    /// What this process publishes while it runs the engine.
    publisher: Mutex<Option<published::Publisher>>,
    /// Follows the settings file while the engine runs.
    follower: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Listens for requests from other Ferry processes while this one
    /// runs the engine.
    control: Mutex<Option<control::Listener>>,
    /// The browser sign-in in progress, which the user can cancel.
    sign_in: Mutex<Option<tokio::task::AbortHandle>>,
}

/// How often the settings file is looked at while the engine runs.
const SETTINGS_FOLLOW: Duration = Duration::from_millis(750);

/// The longest timed pause (a day); "until resumed" has no end.
const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

impl App {
    /// The application for `dirs`. A settings file that can't be read is
    /// reported by [`App::settings`]; meanwhile Ferry runs with none.
    pub fn open(dirs: StateDirs) -> App {
        let store = ConfigStore::new(&dirs.config);
        let config = store.load().unwrap_or_else(|e| {
            tracing::error!("{e}");
            Config::default()
        });
        let accounts = Arc::new(Accounts::new(
            &dirs.config,
            crate::secrets::store_for(&config, &dirs.config),
        ));
        App {
            inner: Arc::new(Inner {
                engine: Engine::new(&config),
                dirs,
                store,
                accounts: RwLock::new(accounts),
                pause_generation: AtomicU64::new(0),
                runtime: Mutex::new(None),
                publisher: Mutex::new(None),
                follower: Mutex::new(None),
                control: Mutex::new(None),
                sign_in: Mutex::new(None),
            }),
        }
    }

    /// Where settings and logs live.
    pub fn dirs(&self) -> &StateDirs {
        &self.inner.dirs
    }

    /// The settings store.
    pub fn store(&self) -> &ConfigStore {
        &self.inner.store
    }

    /// The settings as they are on disk now.
    pub fn settings(&self) -> Result<Config, ConfigError> {
        self.inner.store.load()
    }

    /// The sync engine (its status stream and overview).
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The accounts and their sign-ins.
    pub fn accounts(&self) -> Arc<Accounts> {
        self.inner
            .accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every folder's status now.
    pub fn overview(&self) -> Overview {
        self.inner.engine.overview()
    }

    /// Can `dir` become a synced folder (for this user, beside the folders
    /// already synced)? Why not, if not.
    pub fn check_folder(&self, dir: &std::path::Path) -> Result<FolderChoice, FolderRejection> {
        folder_choice::check_folder(dir, &self.choice_context())
    }

    /// Can what was dropped on the window become a synced folder?
    pub fn check_dropped(
        &self,
        paths: &[std::path::PathBuf],
    ) -> Result<FolderChoice, FolderRejection> {
        folder_choice::check_drop(paths, &self.choice_context())
    }

    fn choice_context(&self) -> ChoiceContext {
        let config = self.settings().unwrap_or_default();
        ChoiceContext::for_user(&config, &self.inner.dirs.config)
    }

    /// Every folder's status, now and each time it changes.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Overview> {
        self.inner.engine.subscribe()
    }

    /// Starts syncing every folder (one loop each) on the current Tokio
    /// runtime, and publishes the live status for other processes.
    pub fn start(&self) {
        *self.inner.runtime.held() = tokio::runtime::Handle::try_current().ok();
        self.trust_ca_files();
        let Ok(config) = self.settings() else {
            return;
        };
        self.inner.engine.start(&config, self.accounts());
        self.follow_settings();
        let mut publisher = self.inner.publisher.held();
        if publisher.is_none() {
            match published::Publisher::start(&self.inner.dirs.config, &self.inner.engine) {
                Ok(p) => {
                    *publisher = Some(p);
                    match control::listen(self) {
                        Ok(l) => *self.inner.control.held() = Some(l),
                        Err(e) => tracing::warn!("other Ferry processes can't reach this one: {e}"),
                    }
                }
                Err(e) => tracing::warn!("the live status can't be published: {e}"),
            }
        }
    }

    /// While the engine runs, changes another Ferry process makes to the
    /// settings (`ferry folder add`, `pause`, `remove` beside the desktop
    /// app) are applied here within a second or so.
    fn follow_settings(&self) {
        let mut follower = self.inner.follower.held();
        if follower.is_some() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let app = self.clone();
        let path = self.inner.store.path();
        *follower = Some(tokio::spawn(async move {
            let mut seen = crate::files::Stamp::of(&path);
            loop {
                tokio::time::sleep(SETTINGS_FOLLOW).await;
                let now = crate::files::Stamp::of(&path);
                if now != seen {
                    seen = now;
                    tracing::info!("the settings changed: applying them");
                    app.apply_settings();
                }
            }
        }));
    }

    /// Stops syncing: waits for every loop (and a cycle it was running),
    /// then leaves the last known status for `ferry status`.
    pub async fn stop(&self) {
        let follower = self.inner.follower.held().take();
        if let Some(f) = follower {
            f.abort();
        }
        self.inner.control.held().take();
        self.inner.engine.shutdown().await;
        let publisher = self.inner.publisher.held().take();
        if let Some(p) = publisher {
            p.stop().await;
        }
    }

    /// Lets git trust the private CAs of the configured accounts.
    pub fn trust_ca_files(&self) {
        let Ok(config) = self.settings() else {
            return;
        };
        let ca_files: Vec<std::path::PathBuf> = config
            .instances
            .iter()
            .filter_map(|i| i.ca_file.clone())
            .collect();
        if let Err(e) = crate::git::trust_ca_files(&ca_files, &self.inner.dirs.config) {
            tracing::warn!("could not set up the accounts' CA certificates for git: {e}");
        }
    }

    /// True when this process runs the engine (and publishes its status).
    fn runs_engine(&self) -> bool {
        self.inner.publisher.held().is_some()
    }

    /// Pauses all syncing, until [`App::resume`] or for `duration` (at most
    /// a day) — here, or in the Ferry process that syncs.
    pub fn pause_for(&self, duration: Option<Duration>) -> Result<(), AppError> {
        self.here_or_there(control::Request::Pause {
            secs: duration.map(|d| d.as_secs().max(1)),
        })
    }

    /// Resumes syncing after a pause, here or in the Ferry process that syncs.
    pub fn resume(&self) -> Result<(), AppError> {
        self.here_or_there(control::Request::Resume)
    }

    /// Asks every folder to sync now, here or in the Ferry process that syncs.
    pub fn sync_now(&self) -> Result<(), AppError> {
        self.here_or_there(control::Request::SyncNow)
    }

    /// Asks one folder to sync now, here or in the Ferry process that syncs.
    pub fn folder_sync_now(&self, target: &str) -> Result<(), AppError> {
        // Resolved here: a relative path means nothing to another process.
        let folder = self.folder(target)?;
        self.here_or_there(control::Request::FolderSyncNow { folder: folder.id })
    }

    fn pause_here(&self, duration: Option<Duration>) {
        let generation = self.inner.pause_generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.engine.pause();
        let Some(d) = duration.map(|d| d.min(MAX_PAUSE)) else {
            return;
        };
        tracing::info!(minutes = d.as_secs() / 60, "syncing paused for a while");
        let runtime = self.inner.runtime.held().clone();
        let Some(runtime) = runtime.or_else(|| tokio::runtime::Handle::try_current().ok()) else {
            return;
        };
        let app = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep(d).await;
            if app.inner.pause_generation.load(Ordering::SeqCst) == generation {
                tracing::info!("the timed pause is over");
                app.resume_here();
            }
        });
    }

    fn resume_here(&self) {
        self.inner.pause_generation.fetch_add(1, Ordering::SeqCst);
        self.inner.engine.resume();
    }

    /// The folder `target` (its id or its path).
    pub fn folder(&self, target: &str) -> Result<Folder, AppError> {
        let config = self.settings()?;
        let wanted = std::fs::canonicalize(target).unwrap_or_else(|_| target.into());
        config
            .folders
            .into_iter()
            .find(|f| f.id == target || f.path == wanted)
            .ok_or_else(|| AppError::UnknownFolder(target.to_string()))
    }

    /// Opens a synced folder in the file manager.
    pub fn open_folder(&self, target: &str) -> Result<(), AppError> {
        let folder = self.folder(target)?;
        Ok(crate::open::folder(&folder.path)?)
    }

    /// Opens a file inside a synced folder (a conflict copy and its
    /// original) with the desktop's default application; never through a
    /// collaborator's symbolic link.
    pub fn open_file(&self, target: &str, path: &str) -> Result<(), AppError> {
        let folder = self.folder(target)?;
        Ok(crate::open::file_in(&folder.path, path)?)
    }

    /// The page of a folder's project on GitLab.
    pub fn project_page(&self, target: &str) -> Result<String, AppError> {
        let folder = self.folder(target)?;
        let config = self.settings()?;
        let instance = config
            .instances
            .iter()
            .find(|i| i.id == folder.instance)
            .ok_or(AppError::AccountRemoved)?;
        Ok(format!(
            "{}/{}",
            instance.url.trim_end_matches('/'),
            folder.project
        ))
    }

    /// Opens a folder's project on GitLab in the browser.
    pub fn open_in_gitlab(&self, target: &str) -> Result<(), AppError> {
        Ok(crate::open::web_page(&self.project_page(target)?)?)
    }

    /// Opens the folder of Ferry's logs.
    pub fn open_logs(&self) -> Result<(), AppError> {
        Ok(crate::open::folder(&self.inner.dirs.logs)?)
    }

    /// Stops syncing a folder (its files stay where they are): its loop
    /// finishes the cycle under way and ends.
    pub fn remove_folder(&self, target: &str) -> Result<Folder, AppError> {
        let folder = self.folder(target)?;
        self.inner
            .store
            .update(|c| c.folders.retain(|f| f.id != folder.id))?;
        self.apply_settings();
        Ok(folder)
    }

    fn folder_sync_now_here(&self, id: &str) -> Result<(), AppError> {
        let folder = self.folder(id)?;
        self.inner.engine.send(&folder.id, Msg::SyncNow);
        Ok(())
    }

    /// Pauses or resumes one folder: remembered in the settings, and
    /// handed to its loop (here, or in the Ferry that runs it).
    pub fn folder_set_paused(&self, id: &str, paused: bool) -> Result<(), AppError> {
        let folder = self.folder(id)?;
        self.inner.store.update(|c| {
            if let Some(f) = c.folders.iter_mut().find(|f| f.id == folder.id) {
                f.paused = paused;
            }
        })?;
        self.apply_settings();
        Ok(())
    }

    /// Confirms the large deletion a folder paused on (exactly that set).
    /// Where a loop runs the folder (here), it approves and syncs; otherwise
    /// the approval waits for the next sync. False when nothing was pending.
    pub fn folder_allow_deletion(&self, id: &str) -> Result<bool, AppError> {
        let folder = self.folder(id)?;
        if self.inner.engine.send(&folder.id, Msg::ConfirmDeletion) {
            return Ok(true);
        }
        let branch = folder.branch.clone().unwrap_or_else(|| "main".into());
        Ok(cycle::allow_pending_deletion(&folder.path, &branch)?)
    }

    /// Saves new preferences (checked first) and hands them to the running
    /// loops, which apply them between cycles.
    pub fn set_preferences(&self, preferences: Preferences) -> Result<Preferences, AppError> {
        let mut saved = preferences.normalized();
        let (config, store_changed) = self.inner.store.update(|c| {
            // Starting at login changes only through its own use case.
            saved.start_at_login = c.preferences.start_at_login;
            let store_changed =
                c.preferences.sign_ins_in_plain_file != saved.sign_ins_in_plain_file;
            c.preferences = saved.clone();
            (c.clone(), store_changed)
        })?;
        if store_changed {
            // Sign-ins are kept elsewhere now.
            self.reload_accounts(&config);
        }
        self.apply_settings();
        Ok(saved)
    }

    /// Remembers the user's choice to start Ferry at login (the desktop
    /// app registers or removes its login item to match).
    pub fn set_start_at_login(&self, on: bool) -> Result<(), AppError> {
        self.inner
            .store
            .update(|c| c.preferences.start_at_login = Some(on))?;
        Ok(())
    }

    /// Hands the settings on disk to the running engine: loops start for
    /// new folders and stop for removed ones; the others get their new
    /// settings (preferences, a pause, an account's details) between
    /// cycles, never by being killed mid-cycle.
    pub fn apply_settings(&self) {
        let Ok(config) = self.settings() else {
            return;
        };
        self.inner.engine.reload(&config);
        self.inner.engine.reconfigure(&config);
        let runtime = self.inner.runtime.held().clone();
        if let Some(runtime) = runtime {
            let (engine, accounts) = (self.inner.engine.clone(), self.accounts());
            runtime.spawn(async move { engine.start(&config, accounts) });
        }
    }

    /// Replaces the accounts (a fresh settings file changes where sign-ins live).
    pub fn reload_accounts(&self, config: &Config) {
        *self
            .inner
            .accounts
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(Accounts::new(
            &self.inner.dirs.config,
            crate::secrets::store_for(config, &self.inner.dirs.config),
        ));
    }

    /// Keeps a copy of the settings file and starts with fresh settings.
    pub fn reset_settings(&self) -> Result<Config, ConfigError> {
        self.inner.store.reset()?;
        let config = Config::default();
        self.reload_accounts(&config);
        self.inner.engine.reload(&config);
        Ok(config)
    }

    /// One full cycle of every folder not paused, each waiting (a while)
    /// for files still being written; `on_result` sees each outcome as it
    /// comes. True when every folder ended synced.
    pub async fn sync_once(&self, mut on_result: impl FnMut(&Folder, &CycleResult)) -> bool {
        let Ok(config) = self.settings() else {
            return false;
        };
        self.trust_ca_files();
        let accounts = self.accounts();
        let mut all_synced = true;
        for folder in config.folders.iter().filter(|f| !f.paused) {
            let Some(instance) = config.instances.iter().find(|i| i.id == folder.instance) else {
                let result: CycleResult = Err(cycle::CycleError::SignIn {
                    message: "Its GitLab account was removed. Add the account again.".into(),
                    class: crate::ErrorClass::NeedsUser,
                    unreachable: false,
                });
                on_result(folder, &result);
                all_synced = false;
                continue;
            };
            let settings = FolderSettings {
                folder: folder.clone(),
                instance: instance.clone(),
                preferences: config.preferences.clone(),
                idle_poll: Duration::from_secs(config.preferences.poll_interval_secs),
            };
            let mut result;
            let mut tries = 0;
            loop {
                result = worker::run_cycle(&settings, &accounts, Default::default()).await;
                // Files still being written: wait for them (a while), then again.
                match &result {
                    Ok(r) if !r.waiting.is_empty() && tries < 60 => {
                        tries += 1;
                        let wait = r.retry_in_ms.unwrap_or(200).min(2_000);
                        tokio::time::sleep(Duration::from_millis(wait + 50)).await;
                    }
                    _ => break,
                }
            }
            all_synced &= cycle::describe(&result).0 == crate::sync::SyncState::Synced;
            on_result(folder, &result);
        }
        all_synced
    }

    /// What `ferry status` shows: the live status of whichever process
    /// syncs (this one, the desktop app, `ferry sync`), or the last known.
    pub fn status(&self) -> published::Status {
        if self.inner.publisher.held().is_some() {
            return published::Status {
                overview: self.overview(),
                running: Some(std::process::id()),
            };
        }
        let config = self.settings().unwrap_or_default();
        published::read(&self.inner.dirs.config, &config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().unwrap();
        let app = App::open(StateDirs::resolve(Some(dir.path())).unwrap());
        (dir, app)
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_pause_ends_by_itself_unless_the_user_paused_again() {
        let (_dir, app) = app();
        app.start();
        app.pause_for(Some(Duration::from_secs(3600))).unwrap();
        assert!(app.overview().paused);
        tokio::time::sleep(Duration::from_secs(3599)).await;
        assert!(app.overview().paused, "still within the hour");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!app.overview().paused, "the hour is over: syncing again");

        // Paused for an hour, then (before it ends) until resumed: the
        // first timer must not end the second pause.
        app.pause_for(Some(Duration::from_secs(3600))).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        app.pause_for(None).unwrap();
        tokio::time::sleep(Duration::from_secs(7200)).await;
        assert!(app.overview().paused, "paused until the user resumes");
        app.resume().unwrap();
        assert!(!app.overview().paused);

        // A pause longer than a day is a day.
        app.pause_for(Some(Duration::from_secs(7 * 24 * 3600)))
            .unwrap();
        tokio::time::sleep(MAX_PAUSE + Duration::from_secs(1)).await;
        assert!(!app.overview().paused, "at most a day");
        app.stop().await;
    }

    #[tokio::test]
    async fn without_a_running_ferry_a_pause_says_so() {
        let (_dir, app) = app();
        assert!(matches!(app.pause_for(None), Err(AppError::NotRunning)));
        assert!(matches!(app.sync_now(), Err(AppError::NotRunning)));
    }
}
