//! Asking the Ferry that syncs to do something: the process that runs the
//! engine (the desktop app or `ferry sync`) listens on `control.sock`
//! beside the settings, so `ferry pause`, `ferry resume` and `ferry
//! sync-now` reach it — every desktop action has its CLI twin even while
//! the desktop app is the one syncing.
//!
//! One request per connection, one JSON line each way. Only the user can
//! reach the socket (it lives in Ferry's private config folder, mode 0600),
//! and it carries no secret: pause, resume, sync now.
//!
//! # Limitations
//!
//! Unix only (a named pipe on Windows is for the Windows issue); elsewhere
//! a request says that no running Ferry could be reached.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{App, AppError};

const SOCKET: &str = "control.sock";

/// What another process asks the running Ferry to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Pause all syncing, for `secs` seconds or until resumed.
    Pause {
        /// How long, in seconds; none: until resumed.
        secs: Option<u64>,
    },
    /// Resume syncing.
    Resume,
    /// Sync every folder now.
    SyncNow,
    /// Sync one folder now (its id, path or name).
    FolderSyncNow {
        /// The folder.
        folder: String,
    },
}

/// The running Ferry's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reply {
    /// What went wrong, for the user; none when done.
    error: Option<String>,
}

/// Where the control socket of the Ferry using `config_dir` is.
pub fn socket_path(config_dir: &Path) -> PathBuf {
    config_dir.join(SOCKET)
}

impl App {
    /// Carries out a request here (this process runs the engine).
    fn handle(&self, request: Request) -> Result<(), AppError> {
        match request {
            Request::Pause { secs } => self.pause_here(secs.map(Duration::from_secs)),
            Request::Resume => self.resume_here(),
            Request::SyncNow => self.inner.engine.sync_now(),
            Request::FolderSyncNow { folder } => return self.folder_sync_now_here(&folder),
        }
        Ok(())
    }

    /// Does `request` here if this process runs the engine, else asks the
    /// Ferry that does; [`AppError::NotRunning`] when none does.
    pub(super) fn here_or_there(&self, request: Request) -> Result<(), AppError> {
        if self.runs_engine() {
            return self.handle(request);
        }
        ask(&self.inner.dirs.config, &request)
    }
}

/// Sends `request` to the running Ferry and waits for its answer.
#[cfg(unix)]
fn ask(config_dir: &Path, request: &Request) -> Result<(), AppError> {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;

    let mut stream =
        UnixStream::connect(socket_path(config_dir)).map_err(|_| AppError::NotRunning)?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut line = serde_json::to_string(request).map_err(|_| AppError::NotRunning)?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .map_err(|_| AppError::NotRunning)?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|_| AppError::NotRunning)?;
    let reply: Reply = serde_json::from_str(&answer).map_err(|_| AppError::NotRunning)?;
    match reply.error {
        None => Ok(()),
        Some(message) => Err(AppError::Refused(message)),
    }
}

#[cfg(not(unix))]
fn ask(_config_dir: &Path, _request: &Request) -> Result<(), AppError> {
    Err(AppError::NotRunning)
}

/// Listens for requests for `app` until dropped.
pub(super) struct Listener {
    task: tokio::task::JoinHandle<()>,
    path: PathBuf,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts listening (on the current runtime). Call only while holding the
/// running lock: a socket file left by a process that died is replaced.
#[cfg(unix)]
pub(super) fn listen(app: &App) -> std::io::Result<Listener> {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let path = socket_path(&app.inner.dirs.config);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    // A weak handle: the listener must not keep the application alive.
    let app = std::sync::Arc::downgrade(&app.inner);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let Some(inner) = app.upgrade() else { return };
            let app = App { inner };
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut reader = BufReader::new(read);
                let read = reader.read_line(&mut line);
                if tokio::time::timeout(Duration::from_secs(10), read)
                    .await
                    .is_err()
                {
                    return;
                }
                let reply = match serde_json::from_str::<Request>(&line) {
                    Ok(request) => {
                        tracing::info!(?request, "asked by another Ferry process");
                        Reply {
                            error: app.handle(request).err().map(|e| e.to_string()),
                        }
                    }
                    Err(_) => Reply {
                        error: Some("Ferry didn't understand the request.".into()),
                    },
                };
                if let Ok(mut text) = serde_json::to_string(&reply) {
                    text.push('\n');
                    let _ = write.write_all(text.as_bytes()).await;
                }
            });
        }
    });
    Ok(Listener { task, path })
}

#[cfg(not(unix))]
pub(super) fn listen(_app: &App) -> std::io::Result<Listener> {
    Err(std::io::Error::other("no control socket on this system"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_line() {
        let r = Request::Pause { secs: Some(600) };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"pause":{"secs":600}}"#);
        assert!(!text.contains('\n'));
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        assert_eq!(
            serde_json::to_string(&Request::SyncNow).unwrap(),
            r#""sync_now""#
        );
    }
}
