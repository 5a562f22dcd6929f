//! The use cases around accounts and projects: connect to a GitLab (a
//! token, or the browser with the user's OAuth application), sign in again,
//! cancel a browser sign-in, forget an account, list and create projects,
//! and add a folder. The wizard and `ferry instance|repos|folder add` call
//! these and nothing below them.

use std::path::{Path, PathBuf};

use crate::config::Instance;
use crate::git::Progress;
use crate::gitlab::account::{Added, OwnedCredential};
use crate::gitlab::address;
use crate::gitlab::client::Project;
use crate::gitlab::diagnose::{self, CheckInput, Outcome, Report, Step};
use crate::gitlab::oauth::{self, SignInOptions};
use crate::secrets::Sensitive;
use crate::sync::setup::{self, ExistingFiles};

use super::{App, AppError, Held};

/// One page of the projects an account can push to.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProjectPage {
    /// The projects on this page, most recently active first.
    pub projects: Vec<Project>,
    /// The next page, if there is one.
    pub next_page: Option<u32>,
}

/// Which page of projects to fetch.
#[derive(Debug, Clone, Copy)]
pub enum Pages {
    /// Every project (all pages).
    All,
    /// One page of `per_page` projects (1-based).
    One {
        /// The page.
        page: u32,
        /// Projects per page.
        per_page: u32,
    },
}

/// A folder to add: which project of which account goes where.
#[derive(Debug, Clone)]
pub struct NewFolder<'a> {
    /// The account (its name, id or address).
    pub account: &'a str,
    /// The project's path (`group/project`) or id.
    pub project: &'a str,
    /// The folder; made when missing and its parent exists.
    pub dir: &'a Path,
    /// The branch, when not the project's default.
    pub branch: Option<&'a str>,
    /// What to do with files already in the folder (the user's answer).
    pub existing: Option<ExistingFiles>,
}

/// Where to sign in on a GitLab: the token page (name and scopes filled
/// in) and the page where users register an OAuth application.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SignInLinks {
    /// The GitLab's base URL.
    pub base_url: String,
    /// The token creation page, name and scopes filled in.
    pub token: String,
    /// The same page on GitLab before 16.
    pub token_before_16: String,
    /// The scopes a token needs.
    pub token_scopes: Vec<&'static str>,
    /// The page where users register applications.
    pub applications: String,
    /// The redirect URI to register.
    pub redirect_uri: &'static str,
    /// The scopes to tick for the application.
    pub oauth_scopes: Vec<&'static str>,
}

impl SignInLinks {
    /// The links for the GitLab at `base_url` (as a check found it).
    pub fn for_gitlab(base_url: &str) -> SignInLinks {
        SignInLinks {
            base_url: base_url.to_string(),
            token: address::token_creation_url(base_url),
            token_before_16: address::token_creation_url_legacy(base_url),
            token_scopes: address::TOKEN_SCOPES.to_vec(),
            applications: address::applications_url(base_url),
            redirect_uri: address::OAUTH_REDIRECT_URI,
            oauth_scopes: address::OAUTH_SCOPES.to_vec(),
        }
    }
}

/// An account as the Accounts screen (and `ferry instance list --json`)
/// shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    pub auth: crate::config::AuthKind,
    /// The OAuth application's ID, for signing in again.
    pub oauth_client_id: Option<String>,
    /// Where to create a new token for it.
    pub token_url: String,
    /// How many folders use it.
    pub folders: usize,
}

impl App {
    /// Every connected account, with how many folders use it.
    pub fn account_views(&self) -> Result<Vec<AccountView>, AppError> {
        let config = self.settings()?;
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
                token_url: address::token_creation_url(&i.url),
                folders: config.folders.iter().filter(|f| f.instance == i.id).count(),
            })
            .collect())
    }

    /// Checks a GitLab address step by step (address, DNS, connection, TLS,
    /// GitLab, and with a token: sign-in, scopes, git), before connecting.
    pub async fn check_server(
        &self,
        address: &str,
        ca_file: Option<&Path>,
        token: Option<Sensitive<String>>,
        project: Option<String>,
    ) -> Report {
        diagnose::check(CheckInput {
            address,
            ca_file,
            credential: token.map(OwnedCredential::Personal),
            username: None,
            project,
        })
        .await
    }

    /// Checks a connected account end to end: server, its saved sign-in,
    /// scopes, expiry, git. A sign-in that can't be had (a locked keyring,
    /// an expired token) is the report's failed step, with what to do.
    pub async fn check_account(
        &self,
        account: &str,
        project: Option<String>,
    ) -> Result<Report, AppError> {
        let accounts = self.accounts();
        let instance = accounts.find(account)?;
        let (credential, sign_in_problem) = match accounts.credential(&instance).await {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e)),
        };
        let mut report = diagnose::check(CheckInput {
            address: &instance.url,
            ca_file: instance.ca_file.as_deref(),
            credential,
            username: instance.username.clone(),
            project,
        })
        .await;
        if let Some(e) = sign_in_problem {
            report.steps.push(Step {
                id: "saved_sign_in",
                title: "Your saved sign-in",
                outcome: Outcome::Fail,
                millis: 0,
                detail: e.to_string(),
            });
            report.ok = false;
        }
        Ok(report)
    }

    /// Finds the GitLab at `address` and where to sign in on it.
    pub async fn sign_in_links(
        &self,
        address: &str,
        ca_file: Option<&Path>,
    ) -> Result<SignInLinks, AppError> {
        let server = crate::gitlab::client::Server::find(address, ca_file).await?;
        Ok(SignInLinks::for_gitlab(server.base()))
    }

    /// Connects to the GitLab at `address` with a personal access token
    /// (named `name`, or after the server).
    pub async fn connect_with_token(
        &self,
        address: &str,
        token: Sensitive<String>,
        ca_file: Option<PathBuf>,
        name: Option<String>,
    ) -> Result<Added, AppError> {
        let added = self
            .accounts()
            .add_with_token(address, token, ca_file, name)
            .await?;
        self.trust_ca_files();
        Ok(added)
    }

    /// Connects through the browser with the user's OAuth application;
    /// `show_url` gets the address to open if the browser doesn't.
    /// [`App::cancel_sign_in`] stops waiting for the browser.
    pub async fn connect_with_oauth(
        &self,
        address: &str,
        app: oauth::App,
        ca_file: Option<PathBuf>,
        name: Option<String>,
        options: SignInOptions,
        show_url: impl FnOnce(&str) + Send + 'static,
    ) -> Result<Added, AppError> {
        let accounts = self.accounts();
        let address = address.to_string();
        let added = self
            .cancellable(async move {
                accounts
                    .add_with_oauth(&address, app, ca_file, name, &options, show_url)
                    .await
            })
            .await?;
        self.trust_ca_files();
        Ok(added)
    }

    /// Signs `account` in again with a new token; its folders retry at once.
    pub async fn reconnect_with_token(
        &self,
        account: &str,
        token: Sensitive<String>,
    ) -> Result<Added, AppError> {
        let again = self.accounts().reconnect_with_token(account, token).await?;
        // Its folders retry now, wherever they sync (if anywhere).
        let _ = self.sync_now();
        Ok(again)
    }

    /// Signs `account` in again through the browser; its folders retry at
    /// once. [`App::cancel_sign_in`] stops waiting.
    pub async fn reconnect_with_oauth(
        &self,
        account: &str,
        app: oauth::App,
        options: SignInOptions,
        show_url: impl FnOnce(&str) + Send + 'static,
    ) -> Result<Added, AppError> {
        let accounts = self.accounts();
        let account = account.to_string();
        let again = self
            .cancellable(async move {
                accounts
                    .reconnect_with_oauth(&account, app, &options, show_url)
                    .await
            })
            .await?;
        // Its folders retry now, wherever they sync (if anywhere).
        let _ = self.sync_now();
        Ok(again)
    }

    /// Stops waiting for the browser sign-in in progress (if any): it ends
    /// with [`AppError::Cancelled`].
    pub fn cancel_sign_in(&self) {
        self.set_sign_in(None);
    }

    fn set_sign_in(&self, handle: Option<tokio::task::AbortHandle>) {
        let mut slot = self.inner.sign_in.held();
        if let Some(previous) = std::mem::replace(&mut *slot, handle) {
            previous.abort();
        }
    }

    /// Runs a browser sign-in as a task [`App::cancel_sign_in`] can stop.
    /// A new sign-in replaces (cancels) one still waiting.
    async fn cancellable(
        &self,
        sign_in: impl std::future::Future<Output = Result<Added, crate::gitlab::account::AccountError>>
            + Send
            + 'static,
    ) -> Result<Added, AppError> {
        let task = tokio::spawn(sign_in);
        let id = task.id();
        self.set_sign_in(Some(task.abort_handle()));
        let result = task.await;
        {
            let mut slot = self.inner.sign_in.held();
            if slot.as_ref().is_some_and(|h| h.id() == id) {
                *slot = None;
            }
        }
        match result {
            Ok(done) => Ok(done?),
            Err(e) if e.is_cancelled() => Err(AppError::Cancelled),
            Err(e) => {
                tracing::error!("the sign-in failed inside Ferry: {e}");
                Err(AppError::Internal(
                    "Ferry failed while signing in (a bug: the log has the details). Try again."
                        .into(),
                ))
            }
        }
    }

    /// Forgets an account and its sign-in (refused while folders use it).
    pub fn remove_account(&self, account: &str) -> Result<Instance, AppError> {
        let removed = self.accounts().remove(account)?;
        self.trust_ca_files();
        Ok(removed)
    }

    /// The projects `account` can push to, most recently active first,
    /// those matching `search` only when given.
    pub async fn projects(
        &self,
        account: &str,
        search: Option<&str>,
        pages: Pages,
    ) -> Result<ProjectPage, AppError> {
        let accounts = self.accounts();
        let instance = accounts.find(account)?;
        let server = accounts.server(&instance)?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        let page = accounts
            .with_credential(&instance, |cred| {
                let server = server.clone();
                async move {
                    match pages {
                        Pages::All => {
                            let projects = server
                                .pushable_projects(cred.as_credential(), search)
                                .await?;
                            Ok(ProjectPage {
                                projects,
                                next_page: None,
                            })
                        }
                        Pages::One { page, per_page } => {
                            let (projects, next_page) = server
                                .pushable_projects_page(
                                    cred.as_credential(),
                                    search,
                                    page,
                                    per_page,
                                )
                                .await?;
                            Ok(ProjectPage {
                                projects,
                                next_page,
                            })
                        }
                    }
                }
            })
            .await?;
        Ok(page)
    }

    /// Creates a private project called `name` in the user's own namespace,
    /// or in the group `namespace` (its full path).
    pub async fn create_project(
        &self,
        account: &str,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<Project, AppError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(AppError::EmptyName);
        }
        let accounts = self.accounts();
        let instance = accounts.find(account)?;
        let server = accounts.server(&instance)?;
        let project = accounts
            .with_credential(&instance, |cred| {
                let server = server.clone();
                async move {
                    let namespace_id = match namespace {
                        None => None,
                        Some(path) => {
                            let all = server.project_namespaces(cred.as_credential()).await?;
                            let found = all
                                .into_iter()
                                .find(|n| n.full_path.eq_ignore_ascii_case(path));
                            match found {
                                Some(n) => Some(n.id),
                                None => {
                                    return Err(crate::gitlab::Error::NotFound {
                                        host: server.host().to_string(),
                                        what: format!("group {path} where you can create projects"),
                                    })
                                }
                            }
                        }
                    };
                    server
                        .create_project(cred.as_credential(), name, namespace_id)
                        .await
                }
            })
            .await?;
        Ok(project)
    }

    /// Sets up a folder for a project (clones it, adopts a copy already
    /// there, or backs up or uploads what the folder holds, as the user
    /// chose), reporting progress, and starts syncing it if the engine runs.
    pub async fn add_folder(
        &self,
        new: NewFolder<'_>,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<setup::Added, AppError> {
        let accounts = self.accounts();
        let instance = accounts.find(new.account)?;
        self.trust_ca_files();
        let added = setup::add_folder(
            &accounts,
            self.store(),
            &self.dirs().config,
            &instance,
            new.project,
            new.dir,
            new.branch,
            new.existing,
            progress,
        )
        .await?;
        self.apply_settings();
        Ok(added)
    }
}
