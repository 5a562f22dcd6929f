//! Logging set-up: `tracing` to stderr, and for the desktop app also to a
//! rotating log file the settings window can open.
//!
//! Promise: tokens never reach a log line; they travel as
//! [`crate::secrets::Sensitive`], whose `Debug` is `<redacted>`.
//! The level comes from `FERRY_LOG` (an `EnvFilter` directive), default `info`.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// How many daily log files are kept before the oldest is deleted.
pub const KEPT_LOG_FILES: usize = 7;

/// The log file names start with this.
pub const LOG_FILE_PREFIX: &str = "ferry";

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("FERRY_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}

/// Logs to stderr only, for the CLI. `default` is used when `FERRY_LOG` is unset.
pub fn init_stderr(default: &str) {
    let _ = tracing_subscriber::registry()
        .with(filter(default))
        .with(fmt::layer().with_writer(std::io::stderr).with_target(false))
        .try_init();
}

/// Logs to a daily-rotating file in `dir` (keeping [`KEPT_LOG_FILES`]) and to
/// stderr. Keep the returned guard alive: dropping it flushes the file.
pub fn init_with_file(dir: &Path) -> Result<WorkerGuard, LogSetupError> {
    std::fs::create_dir_all(dir).map_err(|source| LogSetupError {
        dir: dir.to_path_buf(),
        source: Box::new(source),
    })?;
    // Logs name folders and files: readable by this user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(LOG_FILE_PREFIX)
        .filename_suffix("log")
        .max_log_files(KEPT_LOG_FILES)
        .build(dir)
        .map_err(|source| LogSetupError {
            dir: dir.to_path_buf(),
            source: Box::new(source),
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let _ = tracing_subscriber::registry()
        .with(filter("info"))
        .with(fmt::layer().with_writer(writer).with_ansi(false))
        .with(fmt::layer().with_writer(std::io::stderr).with_target(false))
        .try_init();
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("Ferry crashed: {info}");
        eprintln!("Ferry crashed: {info}");
    }));
    Ok(guard)
}

/// The newest log file in `dir`, for "Open the log file".
pub fn newest_log_file(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(LOG_FILE_PREFIX))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// The log directory could not be created or opened.
#[derive(Debug, thiserror::Error)]
#[error("Ferry couldn't write its log file in {}: {source}", dir.display())]
pub struct LogSetupError {
    dir: PathBuf,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sec11_the_log_folder_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        let guard = super::init_with_file(&dir).unwrap();
        // The crash hook is for the app; tests keep the standard one.
        let _ = std::panic::take_hook();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "logs name folders and files: owner only");
        drop(guard);
    }
}
