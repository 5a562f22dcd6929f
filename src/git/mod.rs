//! Every git operation Ferry performs, and the only module that touches
//! git2: clone, snapshot commit, cheap remote check, fetch, in-memory
//! integration with conflict copies, applying a tree to the folder, push,
//! and recovery after a crash.
//!
//! Promises (DESIGN.md, RELIABILITY.md):
//! - Never force-push; never rewrite a commit the remote has (only local,
//!   unpushed auto-commits are replayed onto the remote tip).
//! - Merges happen in memory; the repository is never left mid-merge or
//!   mid-rebase. The result is written to the folder file by file (temp
//!   file, fsync, rename), each file re-checked just before it is replaced,
//!   and the branch ref moves last, with a compare-and-swap.
//! - Remote URLs never carry credentials; they come from a callback at call
//!   time, and an authentication failure is reported once, never retried in
//!   a loop.
//!
//! git2 is blocking: callers run these on a worker thread.

mod integrate;
pub mod writer;
mod snapshot;

use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{FetchOptions, Oid, PushOptions, RemoteCallbacks, Repository};
use serde::Serialize;

pub use integrate::{conflict_copy_name, Applied, Integration};
pub use snapshot::{summarize, Change, ChangeKind, Snapshot, SnapshotOutcome};

use crate::secrets::Sensitive;
use crate::ErrorClass;

/// Editor temp, lock and backup files never committed, plus Ferry's own
/// temporary files; written to `.git/info/exclude`.
pub const BUILTIN_EXCLUDES: &[&str] = &[
    "# Written by Ferry: editor temp, lock and backup files are never synced.",
    ".*.ferry-tmp-*",
    "*~",
    "*.swp",
    "*.swo",
    "*.swx",
    ".*.sw?",
    "4913",
    "*.tmp",
    "*.temp",
    "~$*",
    ".~lock.*#",
    ".#*",
    // A leading "#" would make the line a comment: escape it (Emacs autosave files).
    "\\#*#",
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    ".directory",
    "*.crdownload",
    "*.part",
    ".goutputstream-*",
    "*.kate-swp",
];

/// What a failed git operation means for the user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GitError {
    /// The network or the server is having trouble; try again later.
    #[error("Ferry couldn't reach GitLab ({0}). Your changes are kept and will be sent when the connection is back.")]
    Network(String),
    /// The credentials were refused.
    #[error("GitLab refused Ferry's sign-in for this folder. Sign in again from Settings → Accounts; your changes are kept meanwhile.")]
    Auth,
    /// The branch is protected against this user's pushes.
    #[error("The branch {branch} is protected on GitLab, so your changes can't be sent to it. Ask a maintainer of the project to let you push, or to unprotect the branch; your changes are kept here meanwhile.")]
    Protected {
        /// The branch.
        branch: String,
    },
    /// The user may not push to (or read) the project.
    #[error("GitLab doesn't allow this account to change the project ({0}). Ask a maintainer for Developer access; your changes are kept here meanwhile.")]
    NoPermission(String),
    /// The project is gone (deleted, moved, or no longer visible).
    #[error("The project can no longer be found on GitLab: it may have been deleted, moved or made private. Your folder and its files are untouched.")]
    RepositoryGone,
    /// The disk is full.
    #[error(
        "The disk is full, so Ferry can't save files. Free some space; syncing resumes by itself."
    )]
    DiskFull,
    /// The certificate is not trusted.
    #[error("The connection to GitLab isn't trusted ({0}). Check the account's CA certificate in Settings → Accounts.")]
    Tls(String),
    /// Another git holds the repository lock.
    #[error("Another program is using this folder's history right now; Ferry will try again in a moment.")]
    Locked,
    /// Anything else.
    #[error("Git failed: {0}")]
    Other(String),
}

impl GitError {
    /// Retry later, ask the user, or give up.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Network(_) | Self::Locked => ErrorClass::RetryLater,
            Self::Other(_) => ErrorClass::Fatal,
            _ => ErrorClass::NeedsUser,
        }
    }

    /// Maps a git2 error to what it means.
    pub fn from_git2(e: &git2::Error) -> GitError {
        let text = e.message().to_ascii_lowercase();
        if e.code() == git2::ErrorCode::Locked
            || text.contains("index.lock")
            || text.contains("is locked")
        {
            return Self::Locked;
        }
        if text.contains("no space left") {
            return Self::DiskFull;
        }
        if text.contains("authentication")
            || text.contains("401")
            || e.code() == git2::ErrorCode::Auth
        {
            return Self::Auth;
        }
        if text.contains("certificate")
            || text.contains("ssl")
            || e.code() == git2::ErrorCode::Certificate
        {
            return Self::Tls(e.message().to_string());
        }
        if text.contains("404") || text.contains("not found") && e.class() == git2::ErrorClass::Http
        {
            return Self::RepositoryGone;
        }
        if text.contains("403") {
            return Self::NoPermission(e.message().to_string());
        }
        if matches!(
            e.class(),
            git2::ErrorClass::Net
                | git2::ErrorClass::Http
                | git2::ErrorClass::Ssl
                | git2::ErrorClass::Os
        ) || text.contains("failed to resolve")
            || text.contains("could not connect")
            || text.contains("timed out")
            || text.contains("early eof")
            || text.contains("connection")
            || text.contains("unexpected http status")
        {
            return Self::Network(e.message().to_string());
        }
        Self::Other(e.message().to_string())
    }
}

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> Self {
        Self::from_git2(&e)
    }
}

impl From<std::io::Error> for GitError {
    fn from(e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            Self::DiskFull
        } else {
            Self::Other(e.to_string())
        }
    }
}

/// The credentials git sends (GitLab: `oauth2` + OAuth token, or any user
/// name + personal access token).
#[derive(Clone, Debug)]
pub struct Auth {
    /// The user name.
    pub username: String,
    /// The token.
    pub secret: Sensitive<String>,
}

/// Clone progress, for a progress bar.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Progress {
    /// Objects received so far.
    pub received_objects: usize,
    /// Objects in all.
    pub total_objects: usize,
    /// Bytes received so far.
    pub received_bytes: usize,
    /// Files written to the folder (after the download).
    pub checked_out: usize,
    /// Files to write in all.
    pub total_files: usize,
}

/// The `Authorization` header for git over HTTP, sent with the first
/// request instead of after a 401 challenge: half the requests per check.
fn auth_header(auth: &Auth) -> Sensitive<String> {
    use base64::Engine;
    let pair = format!("{}:{}", auth.username, auth.secret.expose());
    Sensitive::new(format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

fn callbacks<'a>(
    auth: &'a Auth,
    sideband: Option<&'a std::cell::RefCell<String>>,
) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    let mut tried = false;
    cb.credentials(move |_url, _user, _allowed| {
        // libgit2 asks again after a refusal: answer once, then fail.
        if tried {
            return Err(git2::Error::new(
                git2::ErrorCode::Auth,
                git2::ErrorClass::Http,
                "authentication refused",
            ));
        }
        tried = true;
        git2::Cred::userpass_plaintext(&auth.username, auth.secret.expose())
    });
    if let Some(buf) = sideband {
        cb.sideband_progress(move |data| {
            buf.borrow_mut().push_str(&String::from_utf8_lossy(data));
            true
        });
    }
    cb
}

/// Makes libgit2 trust the system's certificates plus `ca_files` (private
/// CAs of configured accounts). Process-wide, as libgit2's setting is.
pub fn trust_ca_files(ca_files: &[PathBuf], state_dir: &Path) -> Result<(), GitError> {
    if ca_files.is_empty() {
        return Ok(());
    }
    let mut bundle = Vec::new();
    for system in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ] {
        if let Ok(bytes) = std::fs::read(system) {
            bundle.extend(bytes);
            bundle.push(b'\n');
            break;
        }
    }
    for f in ca_files {
        bundle.extend(std::fs::read(f)?);
        bundle.push(b'\n');
    }
    let path = state_dir.join("ca-bundle.pem");
    crate::config::write_atomically(&path, &bundle)?;
    // SAFETY: libgit2 global option, set before network use.
    unsafe { git2::opts::set_ssl_cert_file(&path)? };
    Ok(())
}

/// A synced folder's repository.
pub struct Repo {
    repo: Repository,
    dir: PathBuf,
    branch: String,
}

/// What the cheap remote check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteTip {
    /// The branch does not exist yet on the server (an empty project).
    Missing,
    /// The branch's commit.
    At(Oid),
}

/// How a push went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Nothing to push.
    NothingToDo,
    /// Sent.
    Sent(Oid),
    /// Someone pushed first: fetch, integrate, try again.
    RemoteMoved,
}

const REMOTE: &str = "origin";

impl Repo {
    /// Opens the repository in `dir`, syncing `branch`.
    pub fn open(dir: &Path, branch: &str) -> Result<Repo, GitError> {
        let repo = Repository::open(dir)?;
        Ok(Repo {
            repo,
            dir: dir.to_path_buf(),
            branch: branch.to_string(),
        })
    }

    /// Clones `url` into `dir` (which must be empty), or initialises `dir`
    /// for an empty remote repository. `progress` sees download and checkout progress.
    pub fn clone(
        url: &str,
        dir: &Path,
        branch: Option<&str>,
        auth: &Auth,
        mut progress: impl FnMut(Progress),
    ) -> Result<Repo, GitError> {
        let mut fetch = FetchOptions::new();
        let mut cb = callbacks(auth, None);
        let state = std::cell::Cell::new(Progress::default());
        let shared = std::cell::RefCell::new(&mut progress);
        cb.transfer_progress(|p| {
            let mut s = state.get();
            s.received_objects = p.received_objects();
            s.total_objects = p.total_objects();
            s.received_bytes = p.received_bytes();
            state.set(s);
            (shared.borrow_mut())(s);
            true
        });
        fetch.remote_callbacks(cb);
        let header = auth_header(auth);
        fetch.custom_headers(&[header.expose().as_str()]);
        // The sign-in goes with every request: never to another host.
        fetch.follow_redirects(git2::RemoteRedirect::None);
        let mut builder = git2::build::RepoBuilder::new();
        builder.fetch_options(fetch);
        if let Some(b) = branch {
            builder.branch(b);
        }
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.progress(|_path, done, total| {
            let mut s = state.get();
            s.checked_out = done;
            s.total_files = total;
            state.set(s);
            (shared.borrow_mut())(s);
        });
        builder.with_checkout(checkout);
        let repo = builder.clone(url, dir)?;
        let branch = match branch {
            Some(b) => b.to_string(),
            None => repo
                .head()
                .ok()
                .and_then(|h| h.shorthand().ok().map(str::to_string))
                .or_else(|| {
                    // An empty repository: HEAD names the default branch (unborn).
                    repo.find_reference("HEAD").ok().and_then(|r| {
                        r.symbolic_target()
                            .ok()
                            .flatten()
                            .map(|t| t.trim_start_matches("refs/heads/").to_string())
                    })
                })
                .unwrap_or_else(|| "main".to_string()),
        };
        let r = Repo {
            repo,
            dir: dir.to_path_buf(),
            branch,
        };
        r.prepare()?;
        Ok(r)
    }

    /// Writes Ferry's built-in excludes and settings into `.git`.
    pub fn prepare(&self) -> Result<(), GitError> {
        let exclude = self.repo.path().join("info/exclude");
        std::fs::create_dir_all(exclude.parent().expect("info/ has a parent"))?;
        let current = std::fs::read_to_string(&exclude).unwrap_or_default();
        if !current.contains(BUILTIN_EXCLUDES[0]) {
            let mut text = current;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&BUILTIN_EXCLUDES.join("\n"));
            text.push('\n');
            crate::config::write_atomically(&exclude, text.as_bytes())?;
        }
        let mut config = self.repo.config()?;
        config.set_bool("core.autocrlf", false)?;
        config.set_bool("core.quotepath", false)?;
        config.set_str("core.logAllRefUpdates", "true")?;
        Ok(())
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The branch being synced.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The underlying repository (for this module's helpers).
    pub(crate) fn raw(&self) -> &Repository {
        &self.repo
    }

    /// Sets the commit identity for this folder (the GitLab user).
    pub fn set_identity(&self, name: &str, email: &str) -> Result<(), GitError> {
        let mut config = self.repo.config()?;
        config.set_str("user.name", name)?;
        config.set_str("user.email", email)?;
        Ok(())
    }

    /// The local branch tip, if the branch has commits.
    pub fn head(&self) -> Option<Oid> {
        self.repo
            .find_reference(&format!("refs/heads/{}", self.branch))
            .ok()
            .and_then(|r| r.target())
    }

    /// What this folder last saw of the server's branch.
    pub fn tracking(&self) -> Option<Oid> {
        self.repo
            .find_reference(&format!("refs/remotes/{REMOTE}/{}", self.branch))
            .ok()
            .and_then(|r| r.target())
    }

    /// Local commits not yet on the server.
    pub fn pending(&self) -> usize {
        match (self.head(), self.tracking()) {
            (Some(h), Some(t)) => self
                .repo
                .graph_ahead_behind(h, t)
                .map(|(a, _)| a)
                .unwrap_or(0),
            (Some(h), None) => {
                let mut walk = match self.repo.revwalk() {
                    Ok(w) => w,
                    Err(_) => return 0,
                };
                if walk.push(h).is_err() {
                    return 0;
                }
                walk.count()
            }
            _ => 0,
        }
    }

    /// The cheap check: the server's tip of the branch, without downloading.
    pub fn remote_tip(&self, auth: &Auth) -> Result<RemoteTip, GitError> {
        let mut remote = self.repo.find_remote(REMOTE)?;
        let cb = callbacks(auth, None);
        let conn = remote.connect_auth(git2::Direction::Fetch, Some(cb), None)?;
        let wanted = format!("refs/heads/{}", self.branch);
        let tip = conn
            .list()?
            .iter()
            .find(|h| h.name() == wanted)
            .map(|h| RemoteTip::At(h.oid()))
            .unwrap_or(RemoteTip::Missing);
        Ok(tip)
    }

    /// Downloads the server's branch into the tracking ref.
    pub fn fetch(&self, auth: &Auth) -> Result<RemoteTip, GitError> {
        let mut remote = self.repo.find_remote(REMOTE)?;
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(callbacks(auth, None));
        let header = auth_header(auth);
        opts.custom_headers(&[header.expose().as_str()]);
        // The sign-in goes with every request: never to another host.
        opts.follow_redirects(git2::RemoteRedirect::None);
        opts.prune(git2::FetchPrune::Off);
        let spec = format!("+refs/heads/{b}:refs/remotes/{REMOTE}/{b}", b = self.branch);
        remote.fetch(&[spec.as_str()], Some(&mut opts), Some("ferry: fetch"))?;
        // The advertisement of this fetch says whether the branch exists
        // now (the tracking ref keeps the last value it had).
        let wanted = format!("refs/heads/{}", self.branch);
        let advertised = remote
            .list()
            .map(|heads| heads.iter().any(|h| h.name() == wanted))
            .unwrap_or(true);
        Ok(match self.tracking() {
            Some(oid) if advertised => RemoteTip::At(oid),
            _ => RemoteTip::Missing,
        })
    }

    /// Pushes the branch, never forced. A rejection because the server
    /// moved is [`Pushed::RemoteMoved`]; a protected branch or missing
    /// permission is an error for the user.
    pub fn push(&self, auth: &Auth) -> Result<Pushed, GitError> {
        let Some(head) = self.head() else {
            return Ok(Pushed::NothingToDo);
        };
        if self.tracking() == Some(head) {
            return Ok(Pushed::NothingToDo);
        }
        let sideband = std::cell::RefCell::new(String::new());
        let rejection = std::cell::RefCell::new(None::<String>);
        {
            let mut remote = self.repo.find_remote(REMOTE)?;
            let mut cb = callbacks(auth, Some(&sideband));
            cb.push_update_reference(|_refname, status| {
                if let Some(s) = status {
                    *rejection.borrow_mut() = Some(s.to_string());
                }
                Ok(())
            });
            let mut opts = PushOptions::new();
            opts.remote_callbacks(cb);
            let header = auth_header(auth);
            opts.custom_headers(&[header.expose().as_str()]);
            // The sign-in goes with every request: never to another host.
            opts.follow_redirects(git2::RemoteRedirect::None);
            let spec = format!("refs/heads/{b}:refs/heads/{b}", b = self.branch);
            if let Err(e) = remote.push(&[spec.as_str()], Some(&mut opts)) {
                if lost_the_race(e.message()) {
                    return Ok(Pushed::RemoteMoved);
                }
                return Err(self.push_error(&sideband.borrow(), GitError::from_git2(&e)));
            }
        }
        if let Some(reason) = rejection.into_inner() {
            if lost_the_race(&reason) {
                return Ok(Pushed::RemoteMoved);
            }
            return Err(self.push_error(&sideband.borrow(), GitError::Other(reason)));
        }
        // The server has it now: move the tracking ref.
        self.repo.reference(
            &format!("refs/remotes/{REMOTE}/{}", self.branch),
            head,
            true,
            "ferry: pushed",
        )?;
        Ok(Pushed::Sent(head))
    }

    fn push_error(&self, sideband: &str, fallback: GitError) -> GitError {
        if sideband.contains("protected branch") {
            GitError::Protected {
                branch: self.branch.clone(),
            }
        } else if sideband.contains("not allowed to push")
            || sideband.contains("not allowed to upload")
        {
            GitError::NoPermission(
                sideband
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .to_string(),
            )
        } else {
            fallback
        }
    }

    /// Cleans up after a crash or a foreign git: a stale `index.lock` (no
    /// live process holds it), merge/rebase state files. Returns what it did.
    pub fn recover(&self) -> Result<Vec<String>, GitError> {
        let mut done = Vec::new();
        let lock = self.repo.path().join("index.lock");
        if lock.exists() {
            if git_process_in(&self.dir) {
                return Err(GitError::Locked);
            }
            let age = std::fs::metadata(&lock)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .unwrap_or(Duration::ZERO);
            if age < Duration::from_secs(2) {
                // Possibly being written right now by a git we could not see.
                return Err(GitError::Locked);
            }
            std::fs::remove_file(&lock)?;
            done.push("removed a stale index.lock".to_string());
        }
        if self.repo.state() != git2::RepositoryState::Clean {
            // Ferry never merges in the working tree; a foreign git did.
            // Dropping the state keeps every file as it is on disk.
            self.repo.cleanup_state()?;
            done.push("cleared an unfinished merge or rebase".to_string());
        }
        Ok(done)
    }
}

/// A push refused because the server's branch moved: someone pushed first
/// ("non-fast-forward"), or won the race on the server while this push was
/// in flight ("failed to update ref", "cannot lock ref").
fn lost_the_race(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "non-fast",
        "nonfastforward",
        "not present locally",
        "fetch first",
        "stale info",
        "failed to update ref",
        "cannot lock ref",
        "failed to lock",
        "incorrect old value",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// True if a process named `git` works inside `dir` (Linux: /proc).
fn git_process_in(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    entries.flatten().any(|e| {
        let p = e.path();
        let is_git = std::fs::read_to_string(p.join("comm"))
            .map(|c| c.trim().starts_with("git"))
            .unwrap_or(false);
        is_git
            && std::fs::read_link(p.join("cwd"))
                .map(|cwd| cwd.starts_with(&dir))
                .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_for_the_retry_loop() {
        let e = git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Net,
            "failed to resolve address for gitlab.example.org",
        );
        assert_eq!(GitError::from_git2(&e).class(), ErrorClass::RetryLater);
        let e = git2::Error::new(
            git2::ErrorCode::Auth,
            git2::ErrorClass::Http,
            "authentication refused",
        );
        assert!(matches!(GitError::from_git2(&e), GitError::Auth));
        let e = git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Http,
            "unexpected http status code: 404",
        );
        assert!(matches!(GitError::from_git2(&e), GitError::RepositoryGone));
        let e = git2::Error::new(
            git2::ErrorCode::Locked,
            git2::ErrorClass::Index,
            "failed to lock file",
        );
        assert_eq!(GitError::from_git2(&e).class(), ErrorClass::RetryLater);
        assert_eq!(
            GitError::Protected {
                branch: "main".into()
            }
            .class(),
            ErrorClass::NeedsUser
        );
        assert!(GitError::Protected {
            branch: "main".into()
        }
        .to_string()
        .contains("protected"));
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(matches!(GitError::from(io), GitError::DiskFull));
    }
}
