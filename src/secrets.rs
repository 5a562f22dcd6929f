//! Where secrets live and how they travel.
//!
//! Promise: a token is only ever in the OS keyring or in memory inside a
//! [`Sensitive`]. `Sensitive` has no `Display` and no `Serialize`, and its
//! `Debug` prints `<redacted>`, so a token cannot reach a log line, an error
//! message, the settings file or the UI by accident: exposing it takes an
//! explicit, greppable [`Sensitive::expose`].
//!
//! Stores ([`SecretStore`]): the OS keyring ([`KeyringStore`], Secret
//! Service on Linux) by default; [`MemoryStore`] for tests; and
//! [`PlainFileStore`] only when the user explicitly opts in, with a warning.
//! There is no silent fallback: no keyring means a clear error.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::json;

/// A value that must never be printed, logged or serialized: tokens, secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that must send it (an HTTP
    /// header, a git credential callback, the keyring).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret, for handing it to the keyring.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

/// Reading a secret from a server's JSON answer is fine; writing one out is not.
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Sensitive<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Self)
    }
}

/// An account's sign-in, as kept in a [`SecretStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A personal access token.
    Personal {
        /// The token.
        token: Sensitive<String>,
    },
    /// OAuth tokens, and the application's secret if it has one.
    OAuth {
        /// Current access token.
        access_token: Sensitive<String>,
        /// Refresh token (rotates on every refresh).
        refresh_token: Sensitive<String>,
        /// When the access token stops working.
        expires_at: DateTime<Utc>,
        /// The confidential application's secret, needed again on refresh.
        client_secret: Option<Sensitive<String>>,
    },
}

impl Credentials {
    /// The secret text stored in the keyring (JSON, inside the keyring only).
    fn to_secret(&self) -> Sensitive<String> {
        let value = match self {
            Self::Personal { token } => json!({"kind": "personal", "token": token.expose()}),
            Self::OAuth {
                access_token,
                refresh_token,
                expires_at,
                client_secret,
            } => json!({
                "kind": "oauth",
                "access_token": access_token.expose(),
                "refresh_token": refresh_token.expose(),
                "expires_at": expires_at.to_rfc3339(),
                "client_secret": client_secret.as_ref().map(|s| s.expose()),
            }),
        };
        Sensitive::new(value.to_string())
    }

    fn from_secret(text: &Sensitive<String>) -> Result<Self, SecretError> {
        let v: serde_json::Value =
            serde_json::from_str(text.expose()).map_err(|_| SecretError::Damaged)?;
        let s = |k: &str| v[k].as_str().map(|x| Sensitive::new(x.to_string()));
        match v["kind"].as_str() {
            Some("personal") => Ok(Self::Personal {
                token: s("token").ok_or(SecretError::Damaged)?,
            }),
            Some("oauth") => Ok(Self::OAuth {
                access_token: s("access_token").ok_or(SecretError::Damaged)?,
                refresh_token: s("refresh_token").ok_or(SecretError::Damaged)?,
                expires_at: v["expires_at"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or(SecretError::Damaged)?,
                client_secret: s("client_secret"),
            }),
            _ => Err(SecretError::Damaged),
        }
    }
}

/// Why a secret could not be read or written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretError {
    /// No keyring service is running or installed.
    #[error("Ferry keeps your sign-in in your system's keyring, and none is available ({detail}). Install and start a keyring — on Debian or Ubuntu: sudo apt install gnome-keyring, then log out and in again — and try again.")]
    NoKeyring {
        /// What the keyring library said.
        detail: String,
    },
    /// The keyring is locked.
    #[error("Your system keyring is locked (or has no default keyring yet), so Ferry can't save your sign-in. Unlock it — it usually unlocks when you log in — or create one in your Passwords and Keys app, then try again.")]
    Locked,
    /// The stored entry is not one Ferry wrote.
    #[error("The sign-in Ferry saved in your keyring is damaged. Sign in again from Settings → Accounts.")]
    Damaged,
    /// The opt-in plain file could not be used.
    #[error("Ferry couldn't use its sign-in file {path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// Where sign-ins are kept.
pub trait SecretStore: Send + Sync {
    /// The sign-in for `account`, if one is stored.
    fn load(&self, account: &str) -> Result<Option<Credentials>, SecretError>;
    /// Stores (or replaces) the sign-in for `account`.
    fn save(&self, account: &str, credentials: &Credentials) -> Result<(), SecretError>;
    /// Forgets `account`'s sign-in (no error if there was none).
    fn delete(&self, account: &str) -> Result<(), SecretError>;
    /// Where secrets go, for messages ("your system keyring").
    fn describe(&self) -> String;
    /// Checks that secrets can be saved now (a keyring is running and
    /// unlocked), before the user is asked to sign in.
    fn probe(&self) -> Result<(), SecretError> {
        Ok(())
    }
}

/// The store the user's settings call for: the OS keyring, or — only if they
/// explicitly chose it — the plain file in `config_dir`.
pub fn store_for(
    config: &crate::config::Config,
    config_dir: &std::path::Path,
) -> std::sync::Arc<dyn SecretStore> {
    if config.preferences.sign_ins_in_plain_file {
        std::sync::Arc::new(PlainFileStore::new(config_dir))
    } else {
        std::sync::Arc::new(KeyringStore)
    }
}

/// The service name of Ferry's keyring entries.
pub const KEYRING_SERVICE: &str = "Ferry";

/// The OS keyring (Secret Service on Linux, Keychain on macOS, Credential
/// Manager on Windows).
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyringStore;

fn keyring_error(e: keyring::Error) -> SecretError {
    let text = e.to_string().to_ascii_lowercase();
    if text.contains("locked") || text.contains("no result found") || text.contains("prompt") {
        return SecretError::Locked;
    }
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            let detail = inner.to_string();
            if detail.to_ascii_lowercase().contains("lock") {
                SecretError::Locked
            } else {
                SecretError::NoKeyring { detail }
            }
        }
        keyring::Error::PlatformFailure(inner) => SecretError::NoKeyring {
            detail: inner.to_string(),
        },
        keyring::Error::BadEncoding(_) => SecretError::Damaged,
        other => SecretError::NoKeyring {
            detail: other.to_string(),
        },
    }
}

impl KeyringStore {
    fn entry(account: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(KEYRING_SERVICE, account).map_err(keyring_error)
    }
}

impl SecretStore for KeyringStore {
    fn load(&self, account: &str) -> Result<Option<Credentials>, SecretError> {
        match Self::entry(account)?.get_password() {
            Ok(text) => Credentials::from_secret(&Sensitive::new(text)).map(Some),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn save(&self, account: &str, credentials: &Credentials) -> Result<(), SecretError> {
        Self::entry(account)?
            .set_password(credentials.to_secret().expose())
            .map_err(keyring_error)
    }

    fn delete(&self, account: &str) -> Result<(), SecretError> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn describe(&self) -> String {
        "your system keyring".into()
    }

    fn probe(&self) -> Result<(), SecretError> {
        let entry = Self::entry("ferry-keyring-check")?;
        entry.set_password("ok").map_err(keyring_error)?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// Secrets in memory only, for tests.
#[derive(Default)]
pub struct MemoryStore(Mutex<HashMap<String, Sensitive<String>>>);

impl SecretStore for MemoryStore {
    fn load(&self, account: &str) -> Result<Option<Credentials>, SecretError> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(account).map(Credentials::from_secret).transpose()
    }

    fn save(&self, account: &str, credentials: &Credentials) -> Result<(), SecretError> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(account.to_string(), credentials.to_secret());
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<(), SecretError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account);
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

/// Secrets in a file readable only by the user — weaker than a keyring, used
/// only when the user explicitly chose it (no keyring on their system).
pub struct PlainFileStore {
    path: PathBuf,
}

/// The warning shown when a user opts into [`PlainFileStore`].
pub const PLAIN_FILE_WARNING: &str = "Your sign-in will be saved in a plain file on this computer instead of a keyring. Anyone who can read your files could use it to act as you on GitLab. Prefer installing a keyring (gnome-keyring or KWallet).";

impl PlainFileStore {
    /// The store in `dir` (`secrets.json`, mode 0600).
    pub fn new(dir: &std::path::Path) -> Self {
        Self {
            path: dir.join("secrets.json"),
        }
    }

    fn read(&self) -> Result<HashMap<String, String>, SecretError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| SecretError::Damaged),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
            Err(e) => Err(self.file_error(e)),
        }
    }

    fn write(&self, map: &HashMap<String, String>) -> Result<(), SecretError> {
        let bytes = serde_json::to_vec(map).expect("a map of strings serializes");
        crate::config::write_atomically(&self.path, &bytes).map_err(|e| self.file_error(e))
    }

    fn file_error(&self, e: std::io::Error) -> SecretError {
        SecretError::File {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        }
    }
}

impl SecretStore for PlainFileStore {
    fn load(&self, account: &str) -> Result<Option<Credentials>, SecretError> {
        self.read()?
            .remove(account)
            .map(|t| Credentials::from_secret(&Sensitive::new(t)))
            .transpose()
    }

    fn save(&self, account: &str, credentials: &Credentials) -> Result<(), SecretError> {
        let mut map = self.read()?;
        map.insert(account.to_string(), credentials.to_secret().into_exposed());
        self.write(&map)
    }

    fn delete(&self, account: &str) -> Result<(), SecretError> {
        let mut map = self.read()?;
        if map.remove(account).is_some() {
            self.write(&map)?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("the file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // read through Debug
    struct TokenAnswer {
        access_token: Sensitive<String>,
        expires_in: u64,
    }

    #[test]
    fn debug_never_shows_the_value() {
        let token = Sensitive::new("glpat-very-secret".to_string());
        assert_eq!(format!("{token:?}"), "<redacted>");
        assert_eq!(token.expose(), "glpat-very-secret", "explicit access works");
    }

    #[test]
    fn a_struct_holding_a_secret_debug_prints_redacted() {
        let answer: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"s3cr3t-value","expires_in":7200}"#).unwrap();
        let printed = format!("{answer:?}");
        assert!(!printed.contains("s3cr3t"), "leaked: {printed}");
        assert!(printed.contains("<redacted>") && printed.contains("7200"));
    }

    // Compile-time proof that a Sensitive value cannot be displayed or serialized.
    trait NotDisplayOrSerialize<A> {
        fn check() {}
    }
    impl<T: ?Sized> NotDisplayOrSerialize<()> for T {}
    #[allow(dead_code)]
    struct ViaDisplay;
    impl<T: ?Sized + fmt::Display> NotDisplayOrSerialize<ViaDisplay> for T {}
    #[allow(dead_code)]
    struct ViaSerialize;
    impl<T: ?Sized + serde::Serialize> NotDisplayOrSerialize<ViaSerialize> for T {}

    #[test]
    fn credentials_round_trip_through_stores() {
        let oauth = Credentials::OAuth {
            access_token: Sensitive::new("a".repeat(64)),
            refresh_token: Sensitive::new("r".repeat(64)),
            expires_at: "2026-11-22T12:00:00Z".parse().unwrap(),
            client_secret: Some(Sensitive::new("gloas-x".into())),
        };
        let pat = Credentials::Personal {
            token: Sensitive::new("glpat-abc".into()),
        };
        let dir = tempfile::tempdir().unwrap();
        let stores: [Box<dyn SecretStore>; 2] = [
            Box::new(MemoryStore::default()),
            Box::new(PlainFileStore::new(dir.path())),
        ];
        for store in stores {
            assert_eq!(store.load("work").unwrap(), None);
            store.save("work", &oauth).unwrap();
            store.save("home", &pat).unwrap();
            assert_eq!(
                store.load("work").unwrap(),
                Some(oauth.clone()),
                "{}",
                store.describe()
            );
            assert_eq!(store.load("home").unwrap(), Some(pat.clone()));
            store.delete("work").unwrap();
            assert_eq!(store.load("work").unwrap(), None);
            store.delete("work").unwrap();
        }
        assert!(
            format!("{oauth:?}").contains("<redacted>") && !format!("{oauth:?}").contains("aaaa")
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_plain_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = PlainFileStore::new(dir.path());
        store
            .save(
                "x",
                &Credentials::Personal {
                    token: Sensitive::new("t".into()),
                },
            )
            .unwrap();
        let mode = std::fs::metadata(dir.path().join("secrets.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only the owner can read it");
    }

    #[test]
    fn sensitive_implements_neither_display_nor_serialize() {
        // If Sensitive<String> implemented Display or Serialize, this call would
        // be ambiguous and fail to compile.
        <Sensitive<String> as NotDisplayOrSerialize<_>>::check();
    }
}
