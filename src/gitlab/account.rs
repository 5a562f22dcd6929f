//! Accounts: a GitLab instance plus the sign-in Ferry uses on it. Adding one
//! checks everything first (the server is GitLab, the token works, is active,
//! not expired and has the scopes Ferry needs), then saves the secret to the
//! keyring and the rest to the settings file — nothing is saved when a check
//! fails.
//!
//! OAuth access tokens last two hours: [`Accounts::credential`] refreshes
//! ahead of expiry, one refresh per instance at a time (also across
//! processes, through a lock file), and saves the rotated pair before using
//! it. A refused refresh means "sign in again", never a retry loop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;

use super::address::{self, TOKEN_SCOPES};
use super::client::{Credential, Server, User};
use super::oauth::{self, App, SignInOptions};
use super::{Error, SignInProblem};
use crate::config::{AuthKind, ConfigError, ConfigStore, Instance};
use crate::secrets::{Credentials, SecretError, SecretStore, Sensitive};

/// Refresh this long before an access token expires.
const REFRESH_AHEAD: i64 = 5 * 60;

/// Warn this many days before a personal access token expires.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Talking to GitLab failed.
    #[error(transparent)]
    GitLab(#[from] Error),
    /// The keyring failed.
    #[error(transparent)]
    Secrets(#[from] SecretError),
    /// The settings file failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The new sign-in belongs to someone else than the account's user.
    #[error("This sign-in is for {found}, but the account “{name}” is {expected}'s. Sign in as {expected}, or add {found} as a new account.")]
    OtherUser {
        /// The account.
        name: String,
        /// Its user.
        expected: String,
        /// Who signed in now.
        found: String,
    },
    /// The name is already used by another account.
    #[error(
        "An account named “{0}” already exists. Choose another name, or remove that account first."
    )]
    NameTaken(String),
    /// This exact account is already connected.
    #[error("You are already connected to {host} as {user} (the account “{name}”).")]
    AlreadyConnected {
        /// Server.
        host: String,
        /// User name.
        user: String,
        /// The existing account's name.
        name: String,
    },
    /// No account matches.
    #[error("There is no account called “{0}”. See the list with: ferry instance list")]
    UnknownAccount(String),
    /// The token is no longer active.
    #[error("This token has expired or was revoked on GitLab. Create a new one: {0}")]
    TokenInactive(String),
    /// Folders still sync through the account.
    #[error("{count} synced {} still use the account “{name}”. Remove {} first; your files stay where they are.", if *count == 1 { "folder" } else { "folders" }, if *count == 1 { "it" } else { "them" })]
    InUse {
        /// The account's name.
        name: String,
        /// How many folders use it.
        count: usize,
    },
    /// The stored sign-in is missing.
    #[error("Ferry has no saved sign-in for “{0}”. Sign in again from Settings → Accounts.")]
    NoSignIn(String),
}

impl AccountError {
    /// Retry later, ask the user, or give up: what a folder loop does next.
    pub fn class(&self) -> crate::ErrorClass {
        use crate::ErrorClass;
        match self {
            Self::GitLab(e) => e.class(),
            // A keyring is often still locked just after login.
            Self::Secrets(SecretError::Locked) => ErrorClass::RetryLater,
            Self::Config(_) => ErrorClass::Fatal,
            _ => ErrorClass::NeedsUser,
        }
    }

    /// True when GitLab was out of reach or failing (not a refusal): the
    /// folder is offline, not in need of the user.
    pub fn unreachable(&self) -> bool {
        matches!(self, Self::GitLab(e) if e.class() == crate::ErrorClass::RetryLater)
    }

    /// A stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::GitLab(e) => e.code(),
            Self::Secrets(SecretError::NoKeyring { .. }) => "no_keyring",
            Self::Secrets(SecretError::Locked) => "keyring_locked",
            Self::Secrets(_) => "secrets",
            Self::Config(_) => "settings",
            Self::NameTaken(_) => "name_taken",
            Self::OtherUser { .. } => "other_user",
            Self::AlreadyConnected { .. } => "already_connected",
            Self::UnknownAccount(_) => "unknown_account",
            Self::TokenInactive(_) => "token_inactive",
            Self::InUse { .. } => "in_use",
            Self::NoSignIn(_) => "no_sign_in",
        }
    }
}

/// A connected account, as listings show it.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// What was saved.
    pub instance: Instance,
    /// Who signed in.
    pub user: User,
    /// Things to know (a token expiring soon).
    pub warnings: Vec<String>,
}

/// The accounts in one config directory, with their secrets.
pub struct Accounts {
    store: ConfigStore,
    dir: PathBuf,
    secrets: Arc<dyn SecretStore>,
    refreshing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Checks a token's scopes; returns the missing ones (`api` covers the others).
pub fn missing_scopes(scopes: &[String]) -> Vec<String> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    TOKEN_SCOPES
        .iter()
        .filter(|s| !(has(s) || (has("api") && **s != "api")))
        .map(|s| s.to_string())
        .collect()
}

/// The warning for a token expiring on `expires_at`, if it is soon.
pub fn expiry_warning(
    expires_at: Option<NaiveDate>,
    today: NaiveDate,
    create_url: &str,
) -> Option<String> {
    let days = (expires_at? - today).num_days();
    (days <= EXPIRY_WARNING_DAYS).then(|| {
        let when = match days {
            d if d <= 0 => "today".to_string(),
            1 => "tomorrow".to_string(),
            d => format!("in {d} days"),
        };
        format!("This token expires {when}. Create a new one before then and replace it in Ferry: {create_url}")
    })
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

impl Accounts {
    /// Accounts in `config_dir`, with secrets in `secrets`.
    pub fn new(config_dir: &Path, secrets: Arc<dyn SecretStore>) -> Self {
        Self {
            store: ConfigStore::new(config_dir),
            dir: config_dir.to_path_buf(),
            secrets,
            refreshing: Mutex::default(),
        }
    }

    /// Every account.
    pub fn list(&self) -> Result<Vec<Instance>, AccountError> {
        Ok(self.store.load()?.instances)
    }

    /// The account called `name_or_url` (its name, its id, or its server's address).
    pub fn find(&self, name_or_url: &str) -> Result<Instance, AccountError> {
        let instances = self.list()?;
        if let Some(i) = instances
            .iter()
            .find(|i| i.name == name_or_url || i.id == name_or_url)
        {
            return Ok(i.clone());
        }
        if let Ok(candidates) = address::candidates(name_or_url) {
            let bases: Vec<String> = candidates.iter().map(address::base_string).collect();
            let matching: Vec<&Instance> = instances
                .iter()
                .filter(|i| bases.iter().any(|b| b == &i.url))
                .collect();
            if let [one] = matching.as_slice() {
                return Ok((*one).clone());
            }
        }
        Err(AccountError::UnknownAccount(name_or_url.to_string()))
    }

    /// The API of an account's server.
    pub fn server(&self, instance: &Instance) -> Result<Server, AccountError> {
        Ok(Server::new(&instance.url, instance.ca_file.as_deref())?)
    }

    /// Adds an account signed in with a personal access token.
    pub async fn add_with_token(
        &self,
        input: &str,
        token: Sensitive<String>,
        ca_file: Option<PathBuf>,
        name: Option<String>,
    ) -> Result<Added, AccountError> {
        self.secrets.probe()?;
        let server = Server::find(input, ca_file.as_deref()).await?;
        let token = Sensitive::new(token.expose().trim().to_string());
        let user = server.user(Credential::Personal(&token)).await?;
        let warnings = self.check_token(&server, &token).await?;
        let instance = self.new_instance(&server, &user, AuthKind::Token, ca_file, name, None)?;
        self.save(&instance, &Credentials::Personal { token })?;
        Ok(Added {
            instance,
            user,
            warnings,
        })
    }

    /// Signs an existing account in again with a new personal access token
    /// (after the old one expired or was revoked): checked like a new one,
    /// and it must be the same user. Folders keep working with it at once.
    pub async fn reconnect_with_token(
        &self,
        name_or_id: &str,
        token: Sensitive<String>,
    ) -> Result<Added, AccountError> {
        self.secrets.probe()?;
        let instance = self.find(name_or_id)?;
        let server = self.server(&instance)?;
        let token = Sensitive::new(token.expose().trim().to_string());
        let user = server.user(Credential::Personal(&token)).await?;
        self.same_user(&instance, &user)?;
        let warnings = self.check_token(&server, &token).await?;
        self.secrets
            .save(&instance.id, &Credentials::Personal { token })?;
        let instance = self.set_auth(&instance, AuthKind::Token, None)?;
        Ok(Added {
            instance,
            user,
            warnings,
        })
    }

    /// Signs an existing account in again through the browser.
    pub async fn reconnect_with_oauth(
        &self,
        name_or_id: &str,
        app: App,
        options: &SignInOptions,
        show_url: impl FnOnce(&str),
    ) -> Result<Added, AccountError> {
        self.secrets.probe()?;
        let instance = self.find(name_or_id)?;
        let server = self.server(&instance)?;
        let tokens = oauth::sign_in(&server, &app, options, show_url).await?;
        let user = server.user(Credential::OAuth(&tokens.access_token)).await?;
        self.same_user(&instance, &user)?;
        let client_id = app.client_id.clone();
        self.secrets.save(
            &instance.id,
            &Credentials::OAuth {
                access_token: tokens.access_token,
                refresh_token: tokens.refresh_token,
                expires_at: tokens.expires_at,
                client_secret: app.client_secret,
            },
        )?;
        let instance = self.set_auth(&instance, AuthKind::Oauth, Some(client_id))?;
        Ok(Added {
            instance,
            user,
            warnings: Vec::new(),
        })
    }

    fn same_user(&self, instance: &Instance, user: &User) -> Result<(), AccountError> {
        match &instance.username {
            Some(expected) if expected != &user.username => Err(AccountError::OtherUser {
                name: instance.name.clone(),
                expected: expected.clone(),
                found: user.username.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Checks a personal token is active and has the scopes; returns warnings.
    async fn check_token(
        &self,
        server: &Server,
        token: &Sensitive<String>,
    ) -> Result<Vec<String>, AccountError> {
        let info = server.token_self(token).await?;
        let create_url = address::token_creation_url(server.base());
        if !info.active || info.revoked {
            return Err(AccountError::TokenInactive(create_url));
        }
        let missing = missing_scopes(&info.scopes);
        if !missing.is_empty() {
            return Err(Error::MissingScopes {
                missing,
                create_url,
            }
            .into());
        }
        Ok(
            expiry_warning(info.expires_at, Utc::now().date_naive(), &create_url)
                .into_iter()
                .collect(),
        )
    }

    fn set_auth(
        &self,
        instance: &Instance,
        auth: AuthKind,
        oauth_client_id: Option<String>,
    ) -> Result<Instance, AccountError> {
        let id = instance.id.clone();
        Ok(self.store.update(|c| {
            let mut updated = None;
            if let Some(i) = c.instances.iter_mut().find(|i| i.id == id) {
                i.auth = auth;
                i.oauth_client_id = oauth_client_id;
                updated = Some(i.clone());
            }
            updated.unwrap_or_else(|| instance.clone())
        })?)
    }

    /// Adds an account through the OAuth application `app` (browser sign-in).
    pub async fn add_with_oauth(
        &self,
        input: &str,
        app: App,
        ca_file: Option<PathBuf>,
        name: Option<String>,
        options: &SignInOptions,
        show_url: impl FnOnce(&str),
    ) -> Result<Added, AccountError> {
        self.secrets.probe()?;
        let server = Server::find(input, ca_file.as_deref()).await?;
        // Fail early, before the browser opens, if the name is taken.
        if let Some(n) = &name {
            if self.list()?.iter().any(|i| &i.name == n) {
                return Err(AccountError::NameTaken(n.clone()));
            }
        }
        let tokens = oauth::sign_in(&server, &app, options, show_url).await?;
        let user = server.user(Credential::OAuth(&tokens.access_token)).await?;
        let instance = self.new_instance(
            &server,
            &user,
            AuthKind::Oauth,
            ca_file,
            name,
            Some(app.client_id.clone()),
        )?;
        let credentials = Credentials::OAuth {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_at: tokens.expires_at,
            client_secret: app.client_secret,
        };
        self.save(&instance, &credentials)?;
        Ok(Added {
            instance,
            user,
            warnings: Vec::new(),
        })
    }

    fn new_instance(
        &self,
        server: &Server,
        user: &User,
        auth: AuthKind,
        ca_file: Option<PathBuf>,
        name: Option<String>,
        oauth_client_id: Option<String>,
    ) -> Result<Instance, AccountError> {
        let existing = self.list()?;
        if let Some(same) = existing
            .iter()
            .find(|i| i.url == server.base() && i.username.as_deref() == Some(&user.username))
        {
            return Err(AccountError::AlreadyConnected {
                host: server.host().to_string(),
                user: user.username.clone(),
                name: same.name.clone(),
            });
        }
        let name = name.unwrap_or_else(|| format!("{}@{}", user.username, server.host()));
        if existing.iter().any(|i| i.name == name) {
            return Err(AccountError::NameTaken(name));
        }
        let base_id = slug(&name);
        let mut id = base_id.clone();
        let mut n = 2;
        while existing.iter().any(|i| i.id == id) {
            id = format!("{base_id}-{n}");
            n += 1;
        }
        Ok(Instance {
            id,
            name,
            url: server.base().to_string(),
            auth,
            username: Some(user.username.clone()),
            ca_file: ca_file.map(|p| std::fs::canonicalize(&p).unwrap_or(p)),
            oauth_client_id,
        })
    }

    /// Saves the secret first (the keyring may refuse), then the settings;
    /// if the settings can't be saved, the secret is removed again.
    fn save(&self, instance: &Instance, credentials: &Credentials) -> Result<(), AccountError> {
        self.secrets.save(&instance.id, credentials)?;
        let saved = self.store.update(|c| {
            if c.instances.iter().any(|i| i.name == instance.name) {
                return Err(AccountError::NameTaken(instance.name.clone()));
            }
            c.instances.push(instance.clone());
            Ok(())
        });
        match saved {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                let _ = self.secrets.delete(&instance.id);
                Err(e)
            }
            Err(e) => {
                let _ = self.secrets.delete(&instance.id);
                Err(e.into())
            }
        }
    }

    /// Removes an account and its secret. Refuses while folders use it.
    pub fn remove(&self, name_or_url: &str) -> Result<Instance, AccountError> {
        let instance = self.find(name_or_url)?;
        let removed = self.store.update(|c| {
            let count = c
                .folders
                .iter()
                .filter(|f| f.instance == instance.id)
                .count();
            if count > 0 {
                return Err(AccountError::InUse {
                    name: instance.name.clone(),
                    count,
                });
            }
            c.instances.retain(|i| i.id != instance.id);
            Ok(())
        })?;
        removed?;
        self.secrets.delete(&instance.id)?;
        Ok(instance)
    }

    /// The credential to use for `instance` now, refreshing an OAuth token
    /// that expires within five minutes.
    pub async fn credential(&self, instance: &Instance) -> Result<OwnedCredential, AccountError> {
        let stored = self
            .secrets
            .load(&instance.id)?
            .ok_or_else(|| AccountError::NoSignIn(instance.name.clone()))?;
        match stored {
            Credentials::Personal { token } => Ok(OwnedCredential::Personal(token)),
            Credentials::OAuth {
                access_token,
                expires_at,
                ..
            } if (expires_at - Utc::now()).num_seconds() > REFRESH_AHEAD => {
                Ok(OwnedCredential::OAuth(access_token))
            }
            Credentials::OAuth { access_token, .. } => self.refresh(instance, &access_token).await,
        }
    }

    /// Refreshes an OAuth sign-in whose access token was `seen`: one at a
    /// time per instance (threads via a mutex, processes via a lock file),
    /// the new pair saved before use. If another caller refreshed while this
    /// one waited, its fresh token is used instead of refreshing again.
    pub async fn refresh(
        &self,
        instance: &Instance,
        seen: &Sensitive<String>,
    ) -> Result<OwnedCredential, AccountError> {
        let gate = {
            let mut map = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(instance.id.clone()).or_default().clone()
        };
        let _one_at_a_time = gate.lock().await;
        let lock_path = self.dir.join(format!(".refresh-{}.lock", instance.id));
        let _across_processes =
            tokio::task::spawn_blocking(move || crate::config::FileLock::acquire(&lock_path))
                .await
                .map_err(|e| SecretError::File {
                    path: String::new(),
                    detail: e.to_string(),
                })?
                .map_err(|e| SecretError::File {
                    path: self.dir.display().to_string(),
                    detail: e.to_string(),
                })?;
        // Another refresh may have finished while we waited: read again.
        let Some(Credentials::OAuth {
            access_token,
            refresh_token,
            expires_at,
            client_secret,
        }) = self.secrets.load(&instance.id)?
        else {
            return Err(AccountError::NoSignIn(instance.name.clone()));
        };
        if &access_token != seen || (expires_at - Utc::now()).num_seconds() > REFRESH_AHEAD {
            return Ok(OwnedCredential::OAuth(access_token));
        }
        let app = App {
            client_id: instance.oauth_client_id.clone().unwrap_or_default(),
            client_secret: client_secret.clone(),
        };
        let server = self.server(instance)?;
        let tokens = oauth::refresh(&server, &app, &refresh_token).await?;
        crate::crash_point!("token-refreshed-unsaved");
        self.secrets.save(
            &instance.id,
            &Credentials::OAuth {
                access_token: tokens.access_token.clone(),
                refresh_token: tokens.refresh_token,
                expires_at: tokens.expires_at,
                client_secret,
            },
        )?;
        tracing::info!(account = %instance.name, "refreshed the GitLab sign-in");
        Ok(OwnedCredential::OAuth(tokens.access_token))
    }

    /// Calls `f` with a fresh credential; if GitLab says the access token
    /// expired (clock skew, revoked early), refreshes once and retries.
    pub async fn with_credential<T, F, Fut>(
        &self,
        instance: &Instance,
        f: F,
    ) -> Result<T, AccountError>
    where
        F: Fn(OwnedCredential) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let cred = self.credential(instance).await?;
        let seen = match &cred {
            OwnedCredential::OAuth(t) => Some(t.clone()),
            OwnedCredential::Personal(_) => None,
        };
        match (f(cred).await, seen) {
            (
                Err(Error::SignIn {
                    problem: SignInProblem::Expired,
                    ..
                }),
                Some(seen),
            ) => {
                self.expire_now(instance)?;
                let cred = self.refresh(instance, &seen).await?;
                Ok(f(cred).await?)
            }
            (other, _) => Ok(other?),
        }
    }

    fn expire_now(&self, instance: &Instance) -> Result<(), AccountError> {
        if let Some(Credentials::OAuth {
            access_token,
            refresh_token,
            client_secret,
            ..
        }) = self.secrets.load(&instance.id)?
        {
            self.secrets.save(
                &instance.id,
                &Credentials::OAuth {
                    access_token,
                    refresh_token,
                    expires_at: Utc::now() - Duration::seconds(1),
                    client_secret,
                },
            )?;
        }
        Ok(())
    }
}

/// A credential held for a request.
#[derive(Debug, Clone)]
pub enum OwnedCredential {
    /// A personal access token.
    Personal(Sensitive<String>),
    /// An OAuth access token.
    OAuth(Sensitive<String>),
}

impl OwnedCredential {
    /// Borrowed, for the client.
    pub fn as_credential(&self) -> Credential<'_> {
        match self {
            Self::Personal(t) => Credential::Personal(t),
            Self::OAuth(t) => Credential::OAuth(t),
        }
    }

    /// The user name and password git sends for this credential (GitLab:
    /// `oauth2` + OAuth token, or any name + personal token).
    pub fn git_basic(&self, username: &str) -> (String, &Sensitive<String>) {
        match self {
            Self::Personal(t) => (username.to_string(), t),
            Self::OAuth(t) => ("oauth2".to_string(), t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_covers_the_other_scopes_but_is_itself_required() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(missing_scopes(&s(&["api"])).is_empty());
        assert!(missing_scopes(&s(&[
            "api",
            "read_user",
            "read_repository",
            "write_repository"
        ]))
        .is_empty());
        assert_eq!(
            missing_scopes(&s(&["read_user", "read_repository"])),
            ["api", "write_repository"]
        );
        assert_eq!(
            missing_scopes(&s(&[])),
            ["api", "read_user", "read_repository", "write_repository"]
        );
    }

    #[test]
    fn expiry_warnings_start_two_weeks_ahead() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let url = "https://g/-/user_settings/personal_access_tokens";
        assert_eq!(expiry_warning(None, today, url), None);
        assert_eq!(
            expiry_warning(Some(today + Duration::days(30)), today, url),
            None
        );
        let w = expiry_warning(Some(today + Duration::days(5)), today, url).unwrap();
        assert!(w.contains("expires in 5 days") && w.contains(url), "{w}");
        assert!(expiry_warning(Some(today + Duration::days(1)), today, url)
            .unwrap()
            .contains("tomorrow"));
    }

    #[test]
    fn names_become_ids() {
        assert_eq!(
            slug("editor@git.example.org:8443"),
            "editor-git-example-org-8443"
        );
    }
}
