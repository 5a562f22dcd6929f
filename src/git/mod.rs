//! Every git operation Ferry performs, and the only module that touches
//! git2: clone, snapshot commit, fetch, in-memory integration with conflict
//! copies, applying a tree to the folder, push, and recovery after a crash;
//! and the one [folder writer](writer), the only code that writes in a
//! synced folder.
//!
//! Promises (DESIGN.md, RELIABILITY.md):
//! - Never force-push; never rewrite a commit the server has had (only
//!   local commits that were never on the server are replayed onto its tip).
//! - Merges happen in memory; the repository is never left mid-merge or
//!   mid-rebase. The result reaches the folder through the writer, each file
//!   checked at its swap, and the branch ref moves last, with a
//!   compare-and-swap. The first checkout of a clone goes the same way.
//! - Remote URLs never carry credentials; they come from a callback at call
//!   time, and an authentication failure is reported once, never retried in
//!   a loop.
//! - One cycle at a time per folder, across processes (`.git/ferry.lock`).
//!
//! git2 is blocking: callers run these on a worker thread.

mod apply;
mod eol;
mod integrate;
mod pack;
mod snapshot;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{FetchOptions, Oid, PushOptions, RemoteCallbacks, Repository};
use serde::Serialize;

pub use apply::{Applied, Note, NoteKind};
pub use integrate::{conflict_copy_name, Integration};
pub use snapshot::{
    summarize, Change, ChangeKind, PendingDeletion, Settled, SettledFiles, Snapshot,
    SnapshotOptions, SnapshotOutcome,
};

use crate::secrets::Sensitive;
use crate::ErrorClass;

/// Editor temp, lock and backup files never committed, plus Ferry's own
/// temporary files; written to `.git/info/exclude`. Only names no one gives
/// a real file on purpose: `*.tmp` or `*.part` may be a user's own file.
pub const BUILTIN_EXCLUDES: &[&str] = &[
    "# Written by Ferry: editor temp, lock and backup files are never synced.",
    ".ferry-tmp-*",
    "*~",
    "*.swp",
    "*.swo",
    "*.swx",
    ".*.sw?",
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
    ".goutputstream-*",
    "*.kate-swp",
];

/// Lines earlier versions wrote to `.git/info/exclude` (replaced on start).
const OLD_EXCLUDES: &[&str] = &[".*.ferry-tmp-*", "4913", "*.tmp", "*.temp", "*.part"];

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
    /// Another Ferry process syncs this folder.
    #[error("This folder is already syncing in another Ferry window or process{}; this one leaves it alone.", .0.map(|p| format!(" (process {p})")).unwrap_or_default())]
    AlreadySyncing(Option<u32>),
    /// Another git tool left a merge or rebase unfinished in the folder.
    #[error("An unfinished {0} (from another git tool) is in this folder. Finish or abort it in that tool; Ferry sends nothing until then, so no conflict markers reach GitLab.")]
    ForeignOperation(String),
    /// A file or folder in the synced folder can't be read or written.
    #[error("Ferry can't use {path} in your folder ({why}). Check its permissions; other files keep syncing.")]
    File {
        /// The path.
        path: String,
        /// What the system said.
        why: String,
    },
    /// Anything else.
    #[error("Git failed: {0}")]
    Other(String),
}

impl GitError {
    /// Retry later, ask the user, or give up.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Network(_) | Self::Locked | Self::DiskFull | Self::AlreadySyncing(_) => {
                ErrorClass::RetryLater
            }
            Self::Other(_) => ErrorClass::Fatal,
            _ => ErrorClass::NeedsUser,
        }
    }

    /// A stable code for front ends.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Network(_) => "network",
            Self::Auth => "auth",
            Self::Protected { .. } => "protected",
            Self::NoPermission(_) => "no_permission",
            Self::RepositoryGone => "repository_gone",
            Self::DiskFull => "disk_full",
            Self::Tls(_) => "tls",
            Self::Locked => "locked",
            Self::AlreadySyncing(_) => "already_syncing",
            Self::ForeignOperation(_) => "foreign_operation",
            Self::File { .. } => "file",
            Self::Other(_) => "other",
        }
    }

    /// Maps a git2 error to what it means: by libgit2's error code and
    /// class, and the HTTP status it reports — never by words that may come
    /// from a path in the message.
    pub fn from_git2(e: &git2::Error) -> GitError {
        use git2::ErrorClass as C;
        use git2::ErrorCode as E;
        let message = e.message().to_string();
        match e.code() {
            E::Locked => return Self::Locked,
            E::Auth => return Self::Auth,
            E::Certificate => return Self::Tls(message),
            _ => {}
        }
        match e.class() {
            C::Http => match http_status(&message) {
                Some(401) => Self::Auth,
                Some(403) => Self::NoPermission(message),
                Some(404) => Self::RepositoryGone,
                _ => Self::Network(message),
            },
            C::Net => Self::Network(message),
            C::Ssl => Self::Tls(message),
            // libgit2 ends an OS error's message with strerror(errno).
            C::Os
                if message.ends_with("No space left on device")
                    || message.ends_with("Disk quota exceeded") =>
            {
                Self::DiskFull
            }
            _ if e.code() == E::Timeout => Self::Network(message),
            _ => Self::Other(message),
        }
    }
}

impl GitError {
    /// Maps an error of talking to the server (fetch, push): besides what
    /// [`GitError::from_git2`] knows, an operating-system or TLS failure
    /// there is the connection's (refused, reset, unreachable, cut short),
    /// never the folder's — so it is retried, not left for the user.
    pub fn from_transport(e: &git2::Error) -> GitError {
        use git2::ErrorClass as C;
        match Self::from_git2(e) {
            Self::Other(m) if matches!(e.class(), C::Os | C::Net | C::Ssl | C::Http) => {
                Self::Network(m)
            }
            Self::Other(m) if e.code() == git2::ErrorCode::Eof => Self::Network(m),
            Self::Tls(m) if e.code() != git2::ErrorCode::Certificate => Self::Network(m),
            other => other,
        }
    }
}

/// The status libgit2 reports as "unexpected http status code: N".
fn http_status(message: &str) -> Option<u16> {
    message
        .strip_prefix("unexpected http status code: ")
        .and_then(|n| n.trim().parse().ok())
}

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> Self {
        Self::from_git2(&e)
    }
}

impl From<std::io::Error> for GitError {
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => Self::DiskFull,
            _ => Self::Other(e.to_string()),
        }
    }
}

/// Process-wide libgit2 settings, once: pack files are read through a few
/// small windows (so a multi-gigabyte pack never needs as much address
/// space or memory), and, where the system can't flush a whole file system
/// at once, libgit2 fsyncs every object, ref and index it writes.
#[allow(unsafe_code)] // libgit2's global options have no safe setter.
fn durable_gitdir() {
    static WINDOWS: std::sync::Once = std::sync::Once::new();
    WINDOWS.call_once(|| {
        // SAFETY: libgit2 global options, set before repositories are
        // opened in this process (the first call of this function).
        unsafe {
            let _ = git2::opts::set_mwindow_size(32 << 20);
            let _ = git2::opts::set_mwindow_mapped_limit(128 << 20);
        }
        // Every object was checked against its id when its pack arrived
        // (the indexer hashes each one), as git trusts it afterwards;
        // hashing each blob again on every read doubles a checkout's work.
        git2::opts::strict_hash_verification(false);
    });
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: a libgit2 global option taking one int, set before the
            // repositories are used (as git2's own `opts` functions do).
            unsafe {
                libgit2_sys::git_libgit2_opts(
                    libgit2_sys::GIT_OPT_ENABLE_FSYNC_GITDIR as libc::c_int,
                    1 as libc::c_int,
                );
            }
        });
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[allow(unsafe_code)] // libgit2's CA file option is an unsafe global setter.
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
    /// Attributes may ask for filters (see `decide_filters`); true until known.
    filters: std::cell::Cell<bool>,
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
        durable_gitdir();
        // A `commondir` file would make libgit2 take config, refs and
        // objects from elsewhere (and send the sign-in wherever that
        // config says): Ferry never writes one, so one found is refused.
        if dir.join(".git/commondir").symlink_metadata().is_ok() {
            return Err(GitError::Other(format!(
                "{} has a .git/commondir file Ferry didn't write; remove it to sync this folder",
                dir.display()
            )));
        }
        let repo = Repository::open(dir)?;
        Ok(Repo {
            repo,
            dir: dir.to_path_buf(),
            branch: branch.to_string(),
            filters: std::cell::Cell::new(true),
        })
    }

    /// A new repository in `dir` whose `origin` is `url`, on `branch`.
    fn init(url: &str, dir: &Path, branch: &str) -> Result<Repo, GitError> {
        durable_gitdir();
        let repo = Repository::init(dir)?;
        if repo.find_remote(REMOTE).is_err() {
            repo.remote(REMOTE, url)?;
        }
        repo.set_head(&format!("refs/heads/{branch}"))?;
        let r = Repo {
            repo,
            dir: dir.to_path_buf(),
            branch: branch.to_string(),
            filters: std::cell::Cell::new(true),
        };
        r.prepare()?;
        Ok(r)
    }

    /// Clones `url` into `dir` (which must be empty): the history is
    /// fetched, then the folder writer writes the branch's tree and the
    /// index is built from what it wrote. An empty project gives an empty
    /// folder whose first commit starts `branch`. `progress` sees the
    /// download and the files written.
    pub fn clone(
        url: &str,
        dir: &Path,
        branch: &str,
        auth: &Auth,
        mut progress: impl FnMut(Progress),
    ) -> Result<Repo, GitError> {
        let started = std::time::Instant::now();
        let r = Repo::init(url, dir, branch)?;
        let mut state = Progress::default();
        let tip = r.fetch_with_progress(auth, &mut |p| {
            state = p;
            progress(p)
        })?;
        let fetched = started.elapsed();
        if let RemoteTip::At(tip) = tip {
            let options = apply::ApplyOptions {
                interruptible: false,
                keep_existing: false,
                durability: writer::Durability::AtEnd,
                guard_deletions: false,
                first_checkout: true,
            };
            r.apply_commit(None, tip, options, &local_copy_name, |done, total| {
                state.checked_out = done;
                state.total_files = total;
                progress(state);
            })?;
        }
        tracing::info!(
            fetch_ms = fetched.as_millis() as u64,
            files_ms = (started.elapsed() - fetched).as_millis() as u64,
            files = state.total_files,
            "cloned"
        );
        Ok(r)
    }

    /// Makes `dir`, a folder with files, a copy of `url` without touching
    /// them: the history is fetched, files only on GitLab are written, and
    /// the first sync sends the folder's own files (as changes, where they
    /// differ from GitLab's).
    pub fn init_with_files(
        url: &str,
        dir: &Path,
        branch: &str,
        auth: &Auth,
    ) -> Result<Repo, GitError> {
        let r = Repo::init(url, dir, branch)?;
        if let RemoteTip::At(tip) = r.fetch(auth)? {
            let options = apply::ApplyOptions {
                interruptible: false,
                keep_existing: true,
                durability: writer::Durability::EachFile,
                guard_deletions: false,
                first_checkout: false,
            };
            r.apply_commit(None, tip, options, &local_copy_name, |_, _| {})?;
        }
        Ok(r)
    }

    /// Brings the folder to `to` (from the branch tip `from`) and moves the
    /// branch. `interruptible`: stop, writing nothing, when a file it would
    /// touch changed since the last snapshot.
    pub fn apply(
        &self,
        from: Option<Oid>,
        to: Oid,
        interruptible: bool,
        host: &str,
    ) -> Result<Applied, GitError> {
        let now = chrono::Local::now();
        let copy_name = |path: &[u8], n: u32| {
            integrate::conflict_copy_name(&String::from_utf8_lossy(path), now, host, n).into_bytes()
        };
        let options = apply::ApplyOptions {
            interruptible,
            keep_existing: false,
            durability: writer::Durability::EachFile,
            guard_deletions: true,
            first_checkout: false,
        };
        self.apply_commit(from, to, options, &copy_name, |_, _| {})
    }

    /// Writes Ferry's built-in excludes and settings into `.git`.
    pub fn prepare(&self) -> Result<(), GitError> {
        let exclude = self.repo.path().join("info/exclude");
        std::fs::create_dir_all(exclude.parent().expect("info/ has a parent"))?;
        let current = std::fs::read_to_string(&exclude).unwrap_or_default();
        let ours: std::collections::HashSet<&str> = BUILTIN_EXCLUDES
            .iter()
            .chain(OLD_EXCLUDES)
            .copied()
            .collect();
        let mut text: String = current
            .lines()
            .filter(|l| !ours.contains(l))
            .map(|l| format!("{l}\n"))
            .collect();
        text.push_str(&BUILTIN_EXCLUDES.join("\n"));
        text.push('\n');
        if text != current {
            crate::config::write_atomically(&exclude, text.as_bytes())?;
        }
        let mut config = self.repo.config()?;
        // Line endings convert only as .gitattributes says, whatever the
        // user's global git settings (the writer and the snapshot agree).
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

    pub(crate) fn filters_in_use(&self) -> bool {
        self.filters.get()
    }

    pub(crate) fn set_filters(&self, on: bool) {
        self.filters.set(on);
    }

    /// The underlying repository (for this module's helpers).
    pub(in crate::git) fn raw(&self) -> &Repository {
        &self.repo
    }

    /// The URL of the `origin` remote, if there is one.
    pub fn origin_url(&self) -> Option<String> {
        let remote = self.repo.find_remote("origin").ok()?;
        remote.url().ok().map(str::to_string)
    }

    /// Whether another git tool left a merge, rebase, cherry-pick or
    /// revert unfinished in this clone.
    pub fn operation_under_way(&self) -> bool {
        self.repo.state() != git2::RepositoryState::Clean
    }

    /// The branch HEAD points at (none: detached or not symbolic).
    pub fn head_branch(&self) -> Option<String> {
        let head = self.repo.find_reference("HEAD").ok()?;
        let target = head.symbolic_target().ok().flatten()?;
        target.strip_prefix("refs/heads/").map(str::to_string)
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

    /// Downloads the server's branch into the tracking ref (one request
    /// when nothing moved: the ref advertisement).
    pub fn fetch(&self, auth: &Auth) -> Result<RemoteTip, GitError> {
        self.fetch_with_progress(auth, &mut |_| {})
    }

    fn fetch_with_progress(
        &self,
        auth: &Auth,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RemoteTip, GitError> {
        let mut remote = self.repo.find_remote(REMOTE)?;
        let mut opts = FetchOptions::new();
        let mut cb = callbacks(auth, None);
        cb.transfer_progress(|p| {
            progress(Progress {
                received_objects: p.received_objects(),
                total_objects: p.total_objects(),
                received_bytes: p.received_bytes(),
                ..Progress::default()
            });
            true
        });
        opts.remote_callbacks(cb);
        let header = auth_header(auth);
        opts.custom_headers(&[header.expose().as_str()]);
        // The sign-in goes with every request: never to another host.
        opts.follow_redirects(git2::RemoteRedirect::None);
        opts.prune(git2::FetchPrune::Off);
        let spec = format!("+refs/heads/{b}:refs/remotes/{REMOTE}/{b}", b = self.branch);
        remote
            .fetch(&[spec.as_str()], Some(&mut opts), Some("ferry: fetch"))
            .map_err(|e| GitError::from_transport(&e))?;
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
            // Build the pack on every core, as git does.
            opts.packbuilder_parallelism(0);
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
                return Err(self.push_error(&sideband.borrow(), GitError::from_transport(&e)));
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

    /// Makes what was written to the git directory durable before a ref or
    /// the apply journal names it, so a power cut never leaves a ref naming
    /// a lost object: one `syncfs` on Linux rather than an fsync per object
    /// (elsewhere libgit2 fsyncs each file as it writes it).
    pub(crate) fn sync_git_dir(&self) -> Result<(), GitError> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let fd = rustix::fs::open(
                self.repo.path(),
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(std::io::Error::from)?;
            rustix::fs::syncfs(&fd).map_err(std::io::Error::from)?;
        }
        Ok(())
    }

    /// Takes this folder for one cycle: no other Ferry process works on
    /// it until the lock is dropped.
    pub fn lock_folder(&self) -> Result<FolderLock, GitError> {
        FolderLock::try_take(self.repo.path())
    }

    /// Cleans up after a crash, before anything else: stale lock files no
    /// live git holds; an apply a crash interrupted (files it wrote are
    /// recorded as Ferry's, never as the user's edits). A merge or rebase a
    /// foreign git left unfinished stops the cycle for the user. Returns
    /// what it did.
    pub fn recover(&self) -> Result<Vec<String>, GitError> {
        let mut done = Vec::new();
        for lock in lock_files(self.repo.path()) {
            if !lock_is_stale(&lock, &self.dir) {
                return Err(GitError::Locked);
            }
            match std::fs::remove_file(&lock) {
                Ok(()) => done.push(format!(
                    "removed a stale {}",
                    lock.strip_prefix(self.repo.path())
                        .unwrap_or(&lock)
                        .display()
                )),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        let what = match self.repo.state() {
            git2::RepositoryState::Clean => None,
            git2::RepositoryState::Merge => Some("merge"),
            git2::RepositoryState::Rebase
            | git2::RepositoryState::RebaseInteractive
            | git2::RepositoryState::RebaseMerge
            | git2::RepositoryState::ApplyMailbox
            | git2::RepositoryState::ApplyMailboxOrRebase => Some("rebase"),
            git2::RepositoryState::CherryPick | git2::RepositoryState::CherryPickSequence => {
                Some("cherry-pick")
            }
            git2::RepositoryState::Revert | git2::RepositoryState::RevertSequence => Some("revert"),
            git2::RepositoryState::Bisect => Some("bisect"),
        };
        if let Some(what) = what {
            return Err(GitError::ForeignOperation(what.to_string()));
        }
        let mut index = self.repo.index()?;
        index.read(true)?;
        if index.has_conflicts() {
            return Err(GitError::ForeignOperation("merge".to_string()));
        }
        if let Some(n) = self.reconcile_interrupted_apply()? {
            done.push(format!(
                "recorded {n} files an interrupted update had already written"
            ));
        }
        Ok(done)
    }
}

/// Conflict-copy names for this computer, now.
fn local_copy_name(path: &[u8], n: u32) -> Vec<u8> {
    integrate::conflict_copy_name(
        &String::from_utf8_lossy(path),
        chrono::Local::now(),
        &gethostname::gethostname().to_string_lossy(),
        n,
    )
    .into_bytes()
}

/// The cross-process lock on one folder (`.git/ferry.lock`, `flock`):
/// released when the last holder drops it or the process dies. Within one
/// process it is shared: the folder's loop holds it for its life, and each
/// cycle takes it again without waiting for itself.
#[derive(Clone)]
pub struct FolderLock {
    _held: std::sync::Arc<std::fs::File>,
}

type HeldLocks = std::collections::HashMap<PathBuf, std::sync::Weak<std::fs::File>>;

fn held_locks() -> &'static std::sync::Mutex<HeldLocks> {
    static HELD: std::sync::OnceLock<std::sync::Mutex<HeldLocks>> = std::sync::OnceLock::new();
    HELD.get_or_init(Default::default)
}

impl FolderLock {
    fn try_take(git_dir: &Path) -> Result<FolderLock, GitError> {
        let path = git_dir.join("ferry.lock");
        let key = std::fs::canonicalize(git_dir).unwrap_or_else(|_| git_dir.to_path_buf());
        let mut held = held_locks().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = held.get(&key).and_then(std::sync::Weak::upgrade) {
            return Ok(FolderLock { _held: file });
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                use std::io::{Seek, Write};
                let _ = file.set_len(0);
                let _ = file.seek(std::io::SeekFrom::Start(0));
                let _ = write!(file, "{}", std::process::id());
                let file = std::sync::Arc::new(file);
                held.insert(key, std::sync::Arc::downgrade(&file));
                Ok(FolderLock { _held: file })
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let owner = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                Err(GitError::AlreadySyncing(owner))
            }
            Err(e) => Err(std::io::Error::from(e).into()),
        }
    }
}

/// One cycle at a time on a folder within this process (two loops of one
/// folder — say, while it is removed and added again — take turns).
pub struct CycleTurn {
    key: PathBuf,
}

fn turns() -> &'static (
    std::sync::Mutex<std::collections::HashSet<PathBuf>>,
    std::sync::Condvar,
) {
    static TURNS: std::sync::OnceLock<(
        std::sync::Mutex<std::collections::HashSet<PathBuf>>,
        std::sync::Condvar,
    )> = std::sync::OnceLock::new();
    TURNS.get_or_init(Default::default)
}

impl CycleTurn {
    /// Waits for this process's other cycle on `dir`, if any, to end.
    pub fn take(dir: &Path) -> CycleTurn {
        let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let (lock, ended) = turns();
        let mut running = lock.lock().unwrap_or_else(|e| e.into_inner());
        while running.contains(&key) {
            running = ended.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        running.insert(key.clone());
        CycleTurn { key }
    }
}

impl Drop for CycleTurn {
    fn drop(&mut self) {
        let (lock, ended) = turns();
        lock.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
        ended.notify_all();
    }
}

/// Takes the folder `dir` for this process (see [`FolderLock`]).
pub fn lock_folder(dir: &Path) -> Result<FolderLock, GitError> {
    FolderLock::try_take(&dir.join(".git"))
}

/// The lock files git leaves in a git directory: `index.lock`, `HEAD.lock`,
/// `config.lock`, `packed-refs.lock` and any ref's `.lock`.
fn lock_files(git_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for name in [
        "index.lock",
        "HEAD.lock",
        "config.lock",
        "packed-refs.lock",
        "shallow.lock",
    ] {
        let p = git_dir.join(name);
        if p.symlink_metadata().is_ok() {
            out.push(p);
        }
    }
    let mut stack = vec![git_dir.join("refs")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) if p.extension().is_some_and(|x| x == "lock") => out.push(p),
                _ => {}
            }
        }
    }
    out
}

/// How long a lock may be held by a live git before Ferry stops waiting.
const LOCK_PATIENCE: Duration = Duration::from_secs(600);

/// A lock file no live git holds: no git process works in the folder (and
/// the file isn't brand new), or it is older than any git operation takes.
/// A date in the future proves nothing about its age.
fn lock_is_stale(lock: &Path, folder: &Path) -> bool {
    let modified = std::fs::symlink_metadata(lock)
        .and_then(|m| m.modified())
        .ok();
    let age = modified.and_then(|t| t.elapsed().ok());
    if git_process_running(folder) {
        return age.is_some_and(|a| a > LOCK_PATIENCE);
    }
    // Possibly being written right now by a git that just started.
    age.is_none_or(|a| a >= Duration::from_secs(2))
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

/// True if a git process (`git`, `git-*`) may be working in `folder`. On
/// Linux: its working directory is inside the folder (`git -C` changes to
/// it), or it has a file of the folder open, or its environment names the
/// folder (`GIT_DIR`). Elsewhere, any running git counts.
fn git_process_running(folder: &Path) -> bool {
    let me = std::process::id();
    #[cfg(target_os = "linux")]
    {
        let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
        if let Ok(entries) = std::fs::read_dir("/proc") {
            return entries.flatten().any(|e| {
                let pid: Option<u32> = e.file_name().to_str().and_then(|n| n.parse().ok());
                if pid.is_none_or(|p| p == me) {
                    return false;
                }
                let proc = e.path();
                let is_git =
                    std::fs::read_to_string(proc.join("comm")).is_ok_and(|c| is_git_name(c.trim()));
                is_git && works_in(&proc, &folder)
            });
        }
    }
    let _ = (me, folder);
    // Elsewhere (and without /proc): ask the system's process list.
    let listing = if cfg!(windows) {
        std::process::Command::new("tasklist")
            .args(["/fo", "csv", "/nh"])
            .output()
    } else {
        std::process::Command::new("ps")
            .args(["-A", "-o", "comm="])
            .output()
    };
    match listing {
        Ok(out) => String::from_utf8_lossy(&out.stdout).lines().any(|l| {
            let name = l.trim().trim_start_matches('"');
            let name = name.split('"').next().unwrap_or_default();
            let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
            is_git_name(base.trim_end_matches(".exe"))
        }),
        // Can't tell: assume one runs, so only old locks are removed.
        Err(_) => true,
    }
}

/// The process at `/proc/PID` works in `folder`: by its working
/// directory, an open file, or `GIT_DIR`/`GIT_WORK_TREE`. A process whose
/// details can't be read (another user's) counts, to be safe.
#[cfg(target_os = "linux")]
fn works_in(proc: &Path, folder: &Path) -> bool {
    match std::fs::read_link(proc.join("cwd")) {
        Ok(cwd) if cwd.starts_with(folder) => return true,
        Ok(_) => {}
        // Gone, or a zombie (it holds nothing any more).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    }
    let open_here = std::fs::read_dir(proc.join("fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.starts_with(folder)));
    if open_here {
        return true;
    }
    let needle = folder.as_os_str().as_encoded_bytes();
    std::fs::read(proc.join("environ")).is_ok_and(|env| {
        env.split(|b| *b == 0).any(|var| {
            (var.starts_with(b"GIT_DIR=") || var.starts_with(b"GIT_WORK_TREE="))
                && var.windows(needle.len()).any(|w| w == needle)
        })
    })
}

fn is_git_name(name: &str) -> bool {
    name == "git" || name.starts_with("git-")
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

    #[test]
    fn a_refused_or_cut_connection_is_retried() {
        for (class, code, text) in [
            (
                git2::ErrorClass::Os,
                git2::ErrorCode::GenericError,
                "failed to connect to gitlab.example.org: Connection refused",
            ),
            (
                git2::ErrorClass::Ssl,
                git2::ErrorCode::GenericError,
                "SSL error: received early EOF",
            ),
            (git2::ErrorClass::Net, git2::ErrorCode::Eof, "early EOF"),
        ] {
            let e = git2::Error::new(code, class, text);
            let got = GitError::from_transport(&e);
            assert_eq!(got.class(), ErrorClass::RetryLater, "{text}: {got:?}");
        }
        let cert = git2::Error::new(
            git2::ErrorCode::Certificate,
            git2::ErrorClass::Ssl,
            "the SSL certificate is invalid",
        );
        assert!(matches!(GitError::from_transport(&cert), GitError::Tls(_)));
    }

    #[test]
    fn ds18_classes_come_from_codes_never_from_words_in_a_path() {
        let e = git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Os,
            "could not open 'docs/certificate-404.pdf': Permission denied",
        );
        let got = GitError::from_git2(&e);
        assert!(
            !matches!(
                got,
                GitError::Tls(_) | GitError::RepositoryGone | GitError::Network(_)
            ),
            "a file's name says nothing about the network: {got:?}"
        );
        let e = git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Odb,
            "object 4013a401a4034040404040404040404040404040 not found",
        );
        assert!(matches!(GitError::from_git2(&e), GitError::Other(_)));
        let e = git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Http,
            "unexpected http status code: 403",
        );
        assert!(matches!(GitError::from_git2(&e), GitError::NoPermission(_)));
        let e = git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Os,
            "failed to write 'objects/ab/cd': No space left on device",
        );
        assert!(matches!(GitError::from_git2(&e), GitError::DiskFull));
        assert_eq!(
            GitError::DiskFull.class(),
            ErrorClass::RetryLater,
            "disk full resumes by itself"
        );
    }
}
