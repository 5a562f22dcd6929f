//! Where Ferry keeps its own state: the settings directory and the log directory.
//!
//! `--config-dir` / `FERRY_CONFIG_DIR` moves *all* of Ferry's state (settings and
//! logs) into one directory, so tests and demos never touch the user's own.
//! Ferry's state never lives inside a synced folder.

use std::path::{Path, PathBuf};

/// The environment variable that isolates all of Ferry's state in one directory.
pub const CONFIG_DIR_ENV: &str = "FERRY_CONFIG_DIR";

/// The directories Ferry reads and writes for its own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDirs {
    /// Holds `settings.toml` (and copies of unreadable ones).
    pub config: PathBuf,
    /// Holds the rotating log files.
    pub logs: PathBuf,
}

impl StateDirs {
    /// The directories to use: `explicit` (from `--config-dir`), else
    /// `$FERRY_CONFIG_DIR`, else the platform's config and data directories.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, NoHomeError> {
        if let Some(dir) = explicit {
            return Ok(Self::isolated(dir));
        }
        if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|v| !v.is_empty()) {
            return Ok(Self::isolated(Path::new(&dir)));
        }
        let config = dirs::config_dir().ok_or(NoHomeError)?.join("ferry");
        let logs = dirs::data_local_dir()
            .ok_or(NoHomeError)?
            .join("ferry")
            .join("logs");
        Ok(Self { config, logs })
    }

    /// Everything under one directory: settings at its top, logs in `logs/`.
    pub fn isolated(dir: &Path) -> Self {
        Self {
            config: dir.to_path_buf(),
            logs: dir.join("logs"),
        }
    }
}

/// The user's home folder, where the folder picker starts.
pub fn home_dir() -> Option<PathBuf> {
    dirs::home_dir()
}

/// The platform gave no home, config or data directory.
#[derive(Debug, thiserror::Error)]
#[error(
    "Ferry can't find your home folder, so it has nowhere to keep its settings. \
     Set the HOME environment variable, or start Ferry with --config-dir."
)]
pub struct NoHomeError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_dir_holds_settings_and_logs() {
        let dirs = StateDirs::resolve(Some(Path::new("/tmp/ferry-x"))).unwrap();
        assert_eq!(
            dirs.config,
            Path::new("/tmp/ferry-x"),
            "settings at the top"
        );
        assert_eq!(
            dirs.logs,
            Path::new("/tmp/ferry-x/logs"),
            "logs stay inside the isolated dir"
        );
    }
}
