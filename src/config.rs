//! The settings file: GitLab instances, synced folders and preferences.
//!
//! Promises:
//! - Saves are atomic: a temp file in the same directory is written, fsynced
//!   and renamed over `settings.toml`, then the directory is fsynced. A crash
//!   leaves either the old file or the new one, never a mix.
//! - A file Ferry cannot read (damaged, or written by a newer Ferry) is never
//!   overwritten silently: loading it keeps a copy beside it and returns an
//!   error that says what is wrong; saving over it is refused until the user
//!   chooses [`ConfigStore::reset`].
//! - Older formats are migrated on load; the original is kept as
//!   `settings.v<N>.toml` before the migrated file replaces it.
//! - Writers in different processes (the CLI and the desktop app) take turns
//!   through an advisory lock in [`ConfigStore::update`].
//! - No token is ever stored here (see [`crate::secrets`]).
//!
//! # Limitations
//! Fields added by a newer Ferry *within the same format version* are
//! dropped when an older Ferry saves; such additions must be optional.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format version this build writes. Bump it (and add a migration) for
/// any change an older Ferry would misread.
pub const SCHEMA_VERSION: u32 = 2;

/// The settings file's name inside the config directory.
pub const FILE_NAME: &str = "settings.toml";

const LOCK_NAME: &str = "settings.lock";

/// Everything Ferry remembers between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Format version of this file; see [`SCHEMA_VERSION`].
    pub version: u32,
    /// What the user chose in Preferences.
    #[serde(default)]
    pub preferences: Preferences,
    /// GitLab servers and the account used on each.
    #[serde(default)]
    pub instances: Vec<Instance>,
    /// Folders kept in sync, each with one repository branch.
    #[serde(default)]
    pub folders: Vec<Folder>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: SCHEMA_VERSION,
            preferences: Preferences::default(),
            instances: Vec::new(),
            folders: Vec::new(),
        }
    }
}

impl Config {
    /// True before the user has connected anything: the app shows its welcome.
    pub fn is_first_run(&self) -> bool {
        self.instances.is_empty() && self.folders.is_empty()
    }
}

/// User preferences, with the defaults a new user gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Preferences {
    /// Start Ferry when the user logs in; `None` until the user chooses
    /// (the wizard's last step offers it; see [`crate::app::login_item`]).
    pub start_at_login: Option<bool>,
    /// Show desktop notifications for things that need the user.
    pub notifications: bool,
    /// Seconds between checks for others' changes while idle.
    pub poll_interval_secs: u64,
    /// Milliseconds a file must stay unchanged before it is committed.
    pub quiet_period_ms: u64,
    /// How commit messages are written.
    pub commit_messages: CommitMessageStyle,
    /// The user chose to keep sign-ins in a plain file because no keyring is
    /// available (never the default; see [`crate::secrets::PlainFileStore`]).
    pub sign_ins_in_plain_file: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            start_at_login: None,
            notifications: true,
            poll_interval_secs: 60,
            quiet_period_ms: 1000,
            commit_messages: CommitMessageStyle::Descriptive,
            sign_ins_in_plain_file: false,
        }
    }
}

impl Preferences {
    /// These preferences within the ranges Ferry supports: a check every
    /// 15 s to an hour, a quiet period of 0.2 to 10 s.
    pub fn normalized(mut self) -> Preferences {
        self.poll_interval_secs = self.poll_interval_secs.clamp(15, 3600);
        self.quiet_period_ms = self.quiet_period_ms.clamp(200, 10_000);
        self
    }
}

/// How Ferry words the commits it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CommitMessageStyle {
    /// Names what changed: "Add 3 files, update index.md".
    Descriptive,
    /// One fixed line: "Update from Ferry".
    Simple,
}

/// A GitLab server and the account Ferry uses on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Stable identifier, used by folders and as the keyring entry's key.
    pub id: String,
    /// What the user calls it ("Work GitLab").
    pub name: String,
    /// Base URL of the GitLab server, e.g. `https://git.example.org/gitlab`.
    pub url: String,
    /// How the account signs in.
    pub auth: AuthKind,
    /// The GitLab user name, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A PEM file with the server's private CA certificate, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The OAuth application's ID (never its secret: that lives in the keyring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_id: Option<String>,
}

/// How an account signs in to GitLab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// A personal access token pasted by the user.
    Token,
    /// An OAuth application registered on the server.
    Oauth,
}

/// A folder on this computer kept in sync with one branch of one repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Folder {
    /// Stable identifier for status events.
    pub id: String,
    /// The folder on disk.
    pub path: PathBuf,
    /// The [`Instance::id`] it syncs with.
    pub instance: String,
    /// The project, as `namespace/path`.
    pub project: String,
    /// The branch; the project's default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The user paused this folder.
    #[serde(default)]
    pub paused: bool,
}

/// Why the settings could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is damaged or not a settings file.
    #[error(
        "Ferry's settings file {} is damaged and can't be read ({detail}). \
         A copy was kept at {}. You can start with fresh settings; \
         your synced folders and their files are not affected.",
        path.display(), copy.display()
    )]
    Unreadable {
        /// The settings file.
        path: PathBuf,
        /// Where the unreadable file was copied.
        copy: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The file was written by a newer Ferry.
    #[error(
        "Ferry's settings file {} was saved by a newer version of Ferry \
         (format {found}; this version reads up to {supported}). \
         Update Ferry to keep these settings, or start with fresh settings \
         (a copy was kept at {}).",
        path.display(), copy.display()
    )]
    NewerVersion {
        /// The settings file.
        path: PathBuf,
        /// Where it was copied.
        copy: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// Reading or writing failed at the file-system level.
    #[error(
        "Ferry couldn't {action} its settings at {}: {source}. \
         Check that this folder exists and that you can write to it.",
        path.display()
    )]
    Io {
        /// What Ferry was doing, as a verb phrase ("save").
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl ConfigError {
    /// Where the unreadable file was copied, when this error kept one.
    pub fn kept_copy(&self) -> Option<&Path> {
        match self {
            Self::Unreadable { copy, .. } | Self::NewerVersion { copy, .. } => Some(copy),
            Self::Io { .. } => None,
        }
    }
}

/// The settings file in one config directory.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    dir: PathBuf,
}

impl ConfigStore {
    /// The store for `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The settings file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Reads the settings. A missing file gives the defaults; an older
    /// format is migrated (and saved, keeping the original); a damaged or
    /// newer file is copied aside and reported.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let path = self.path();
        let text = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        match parse(&text) {
            Parsed::Current(config) => Ok(config),
            Parsed::Migrated { config, from } => {
                let copy = self.dir.join(format!("settings.v{from}.toml"));
                if !copy.exists() {
                    write_atomically(&copy, &text).map_err(|source| ConfigError::Io {
                        action: "keep a copy of",
                        path: copy.clone(),
                        source,
                    })?;
                }
                self.write(&config)?;
                tracing::info!(from, to = SCHEMA_VERSION, "migrated the settings file");
                Ok(config)
            }
            Parsed::Newer(found) => Err(ConfigError::NewerVersion {
                copy: self.keep_copy(&text, "newer")?,
                path,
                found,
                supported: SCHEMA_VERSION,
            }),
            Parsed::Unreadable(detail) => Err(ConfigError::Unreadable {
                copy: self.keep_copy(&text, "unreadable")?,
                path,
                detail,
            }),
        }
    }

    /// Saves `config` atomically. Refuses to replace a file that cannot be
    /// read by this version (use [`ConfigStore::reset`] for that).
    pub fn save(&self, config: &Config) -> Result<(), ConfigError> {
        let _lock = self.lock()?;
        self.check_replaceable()?;
        self.write(config)
    }

    /// Loads, changes and saves the settings while holding the lock, so that
    /// two processes changing settings at once do not undo each other.
    pub fn update<T>(&self, change: impl FnOnce(&mut Config) -> T) -> Result<T, ConfigError> {
        let _lock = self.lock()?;
        let mut config = self.load()?;
        let out = change(&mut config);
        self.write(&config)?;
        Ok(out)
    }

    /// The user chose to start over: keep a copy of whatever is there, then
    /// write default settings. Returns where the copy went, if one was made.
    pub fn reset(&self) -> Result<Option<PathBuf>, ConfigError> {
        let _lock = self.lock()?;
        let copy = match fs::read(self.path()) {
            Ok(text) => Some(self.keep_copy(&text, "replaced")?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ConfigError::Io {
                    action: "read",
                    path: self.path(),
                    source,
                })
            }
        };
        self.write(&Config::default())?;
        Ok(copy)
    }

    fn check_replaceable(&self) -> Result<(), ConfigError> {
        match fs::read(self.path()) {
            Ok(text) => match parse(&text) {
                Parsed::Current(_) | Parsed::Migrated { .. } => Ok(()),
                Parsed::Newer(found) => Err(ConfigError::NewerVersion {
                    copy: self.keep_copy(&text, "newer")?,
                    path: self.path(),
                    found,
                    supported: SCHEMA_VERSION,
                }),
                Parsed::Unreadable(detail) => Err(ConfigError::Unreadable {
                    copy: self.keep_copy(&text, "unreadable")?,
                    path: self.path(),
                    detail,
                }),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ConfigError::Io {
                action: "read",
                path: self.path(),
                source,
            }),
        }
    }

    fn write(&self, config: &Config) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(config).expect("settings always serialize to TOML");
        let mut out = String::from(
            "# Ferry's settings. Ferry rewrites this file; tokens are never stored here.\n",
        );
        out.push_str(&text);
        write_atomically(&self.path(), out.as_bytes()).map_err(|source| ConfigError::Io {
            action: "save",
            path: self.path(),
            source,
        })
    }

    /// Copies `text` beside the settings file, named by its content so that
    /// the same file kept twice (loaded again, then reset) is one copy.
    fn keep_copy(&self, text: &[u8], why: &str) -> Result<PathBuf, ConfigError> {
        let suffix = format!("-{:016x}.toml", fnv1a(text));
        let existing = fs::read_dir(&self.dir).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("settings.") && n.ends_with(&suffix))
            })
        });
        if let Some(copy) = existing {
            return Ok(copy);
        }
        let copy = self.dir.join(format!("settings.{why}{suffix}"));
        {
            write_atomically(&copy, text).map_err(|source| ConfigError::Io {
                action: "keep a copy of",
                path: copy.clone(),
                source,
            })?;
            tracing::warn!(copy = %copy.display(), "kept a copy of a settings file Ferry can't use");
        }
        Ok(copy)
    }

    fn lock(&self) -> Result<FileLock, ConfigError> {
        FileLock::acquire(&self.dir.join(LOCK_NAME)).map_err(|source| ConfigError::Io {
            action: "lock",
            path: self.dir.clone(),
            source,
        })
    }
}

enum Parsed {
    Current(Config),
    Migrated { config: Config, from: u32 },
    Newer(u32),
    Unreadable(String),
}

fn parse(bytes: &[u8]) -> Parsed {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Parsed::Unreadable("it is not text".into());
    };
    let mut value: toml::Table = match text.parse() {
        Ok(v) => v,
        Err(e) => return Parsed::Unreadable(first_line(&e.to_string())),
    };
    let version = match value.get("version") {
        Some(toml::Value::Integer(v)) if *v >= 1 => u32::try_from(*v).unwrap_or(u32::MAX),
        Some(_) => return Parsed::Unreadable("its version is not a positive number".into()),
        None => return Parsed::Unreadable("it has no version".into()),
    };
    if version > SCHEMA_VERSION {
        return Parsed::Newer(version);
    }
    let from = version;
    if version == 1 {
        migrate_v1_to_v2(&mut value);
    }
    match toml::Value::Table(value).try_into::<Config>() {
        Ok(config) if from == SCHEMA_VERSION => Parsed::Current(config),
        Ok(config) => Parsed::Migrated { config, from },
        Err(e) => Parsed::Unreadable(first_line(&e.to_string())),
    }
}

/// Format 1 (the first prototype) kept preferences as top-level keys and
/// called a folder's location `dir`.
fn migrate_v1_to_v2(value: &mut toml::Table) {
    let mut prefs = toml::Table::new();
    for key in ["start_at_login", "notifications", "poll_interval_secs"] {
        if let Some(v) = value.remove(key) {
            prefs.insert(key.to_string(), v);
        }
    }
    value.insert("preferences".into(), toml::Value::Table(prefs));
    if let Some(toml::Value::Array(folders)) = value.get_mut("folders") {
        for (n, folder) in folders.iter_mut().enumerate() {
            if let toml::Value::Table(f) = folder {
                if let Some(dir) = f.remove("dir") {
                    f.insert("path".into(), dir);
                }
                f.entry("id")
                    .or_insert_with(|| toml::Value::String(format!("folder-{}", n + 1)));
            }
        }
    }
    value.insert("version".into(), toml::Value::Integer(2));
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(s)
        .to_string()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub use crate::files::write_atomically;
pub(crate) use crate::files::FileLock;

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config {
            version: SCHEMA_VERSION,
            preferences: Preferences {
                notifications: false,
                poll_interval_secs: 120,
                ..Preferences::default()
            },
            instances: vec![Instance {
                id: "work".into(),
                name: "Work GitLab".into(),
                url: "https://git.example.org/gitlab".into(),
                auth: AuthKind::Oauth,
                username: Some("editor".into()),
                ca_file: Some("/etc/ssl/example-ca.pem".into()),
                oauth_client_id: Some("abc123".into()),
            }],
            folders: vec![Folder {
                id: "site".into(),
                path: "/home/editor/Website".into(),
                instance: "work".into(),
                project: "editor/website".into(),
                branch: Some("main".into()),
                paused: false,
            }],
        }
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != LOCK_NAME)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn missing_file_gives_first_run_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = ConfigStore::new(dir.path()).load().unwrap();
        assert!(config.is_first_run(), "nothing configured on a new machine");
        assert_eq!(config, Config::default());
        assert!(files_in(dir.path()).is_empty(), "loading writes nothing");
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path().join("nested"));
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap(), sample(), "what was saved comes back");
        assert!(!sample().is_first_run());
    }

    #[cfg(unix)]
    #[test]
    fn saved_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        store.save(&sample()).unwrap();
        let mode = fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "others can't read the settings: {mode:o}");
    }

    #[test]
    fn atomic_save_leaves_no_temp_file_and_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        store.save(&Config::default()).unwrap();
        store.save(&sample()).unwrap();
        assert_eq!(
            files_in(dir.path()),
            vec![FILE_NAME.to_string()],
            "only the settings file remains after two saves"
        );
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("editor/website"), "the second save won");
    }

    #[test]
    fn failed_write_leaves_the_old_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        store.save(&sample()).unwrap();
        let before = fs::read(store.path()).unwrap();
        // A directory where the temp file would go makes the write fail midway.
        let name = format!(".{FILE_NAME}.tmp-{}", std::process::id());
        fs::create_dir(dir.path().join(&name)).unwrap();
        let err = store.save(&Config::default()).unwrap_err();
        assert!(
            matches!(err, ConfigError::Io { action: "save", .. }),
            "{err}"
        );
        assert_eq!(
            fs::read(store.path()).unwrap(),
            before,
            "a failed save never damages the existing settings"
        );
    }

    #[test]
    fn corrupt_file_is_kept_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        let garbage = b"version = 2\n[[folders]\npath = ";
        fs::write(store.path(), garbage).unwrap();

        let err = store.load().unwrap_err();
        let copy = err.kept_copy().expect("a copy is kept").to_path_buf();
        assert!(matches!(err, ConfigError::Unreadable { .. }), "{err}");
        assert_eq!(
            fs::read(&copy).unwrap(),
            garbage,
            "the copy has the exact bytes"
        );
        let message = err.to_string();
        assert!(
            message.contains("damaged") && message.contains(&copy.display().to_string()),
            "the message says what is wrong and where the copy is: {message}"
        );

        let err = store.save(&Config::default()).unwrap_err();
        assert!(matches!(err, ConfigError::Unreadable { .. }), "{err}");
        assert_eq!(
            fs::read(store.path()).unwrap(),
            garbage,
            "save refuses to overwrite a file it cannot read"
        );
        assert!(
            store.update(|_| ()).is_err(),
            "update refuses too: it must load first"
        );
        assert_eq!(
            files_in(dir.path()).len(),
            2,
            "loading the same broken file again keeps one copy, not more"
        );
    }

    #[test]
    fn wrong_shape_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        fs::write(store.path(), "version = 2\nfolders = \"oops\"\n").unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            ConfigError::Unreadable { .. }
        ));
        fs::write(store.path(), "[preferences]\nnotifications = true\n").unwrap();
        let err = store.load().unwrap_err();
        assert!(err.to_string().contains("no version"), "{err}");
    }

    #[test]
    fn newer_version_is_kept_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        let future = format!(
            "version = {}\n[hovercraft]\nfull_of = \"eels\"\n",
            SCHEMA_VERSION + 1
        );
        fs::write(store.path(), &future).unwrap();
        let err = store.load().unwrap_err();
        match &err {
            ConfigError::NewerVersion {
                found, supported, ..
            } => {
                assert_eq!((*found, *supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected NewerVersion, got {other}"),
        }
        assert!(err.to_string().contains("newer version of Ferry"), "{err}");
        assert!(store.save(&Config::default()).is_err());
        assert_eq!(fs::read_to_string(store.path()).unwrap(), future);
    }

    #[test]
    fn reset_keeps_a_copy_then_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        fs::write(store.path(), "not = [valid").unwrap();
        assert!(store.load().is_err(), "the damaged file is reported first");
        let copy = store.reset().unwrap().expect("the old file is kept");
        assert_eq!(fs::read_to_string(copy).unwrap(), "not = [valid");
        assert_eq!(store.load().unwrap(), Config::default());
        assert_eq!(
            files_in(dir.path()).len(),
            2,
            "settings + one copy: reset reuses the copy made on load"
        );
    }

    #[test]
    fn migrates_version_1_and_keeps_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        let v1 = r#"version = 1
notifications = false
start_at_login = false

[[instances]]
id = "work"
name = "Work"
url = "https://git.example.org"
auth = "token"

[[folders]]
dir = "/home/editor/Website"
instance = "work"
project = "editor/website"
"#;
        fs::write(store.path(), v1).unwrap();
        let config = store.load().unwrap();
        assert_eq!(config.version, SCHEMA_VERSION);
        assert!(!config.preferences.notifications, "preference carried over");
        assert_eq!(
            config.preferences.start_at_login,
            Some(false),
            "preference carried over"
        );
        assert_eq!(
            config.preferences.quiet_period_ms, 1000,
            "new preference gets its default"
        );
        assert_eq!(config.folders[0].path, Path::new("/home/editor/Website"));
        assert_eq!(config.folders[0].id, "folder-1");
        assert_eq!(
            fs::read_to_string(dir.path().join("settings.v1.toml")).unwrap(),
            v1,
            "the original is kept byte for byte"
        );
        let on_disk = fs::read_to_string(store.path()).unwrap();
        assert!(on_disk.contains("version = 2"), "migrated file saved");
        assert_eq!(store.load().unwrap(), config, "second load is stable");
    }

    #[test]
    fn update_from_two_threads_keeps_both_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        std::thread::scope(|s| {
            for t in 0..2 {
                let store = store.clone();
                s.spawn(move || {
                    for n in 0..10 {
                        store
                            .update(|c| {
                                let mut f = sample().folders.remove(0);
                                f.id = format!("{t}-{n}");
                                c.folders.push(f);
                            })
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(
            store.load().unwrap().folders.len(),
            20,
            "no update undid another"
        );
    }

    #[test]
    fn settings_never_hold_a_token_field() {
        let text = toml::to_string(&sample()).unwrap();
        for word in ["token =", "secret", "password"] {
            assert!(!text.contains(word), "settings must not carry {word}");
        }
    }
}
