//! Ferry's engine: keeps a folder on this computer in two-way sync with a
//! branch of a GitLab repository, for people who never use git themselves.
//!
//! The engine builds and tests without any GUI; the `ferry` CLI and the
//! `ferry-desktop` shell are thin front ends over it.
//!
//! # Map
//!
//! - [`app`]: the Ferry running on this computer — the application both
//!   front ends share; its methods are the use cases (connect, add a
//!   folder, pause, sync now, status…), and what it publishes for other
//!   processes.
//! - [`files`]: Ferry's own files, written atomically and locked.
//! - [`config`]: the settings file (instances, folders, preferences), saved
//!   atomically and never overwritten when it cannot be read.
//! - [`secrets`]: where tokens live, and [`secrets::Sensitive`], the wrapper
//!   that keeps them out of logs and serialized data.
//! - [`git`]: every git operation (clone, snapshot, fetch, in-memory
//!   integration with conflict copies, apply, push, recovery), and
//!   [`git::writer`], the one folder writer: the only code that writes in
//!   a synced folder, contained by construction.
//! - [`gitlab`]: finding a GitLab server, its REST API, OAuth sign-in,
//!   connection diagnostics, and adding accounts.
//! - [`sync`]: folders and their status: one loop per folder (a state
//!   machine and a thin driver), the one cycle function, setting a folder
//!   up, the status stream every front end subscribes to, and the checks a
//!   directory must pass to become one.
//! - [`watch`]: file events into "something changed": at once for a file
//!   saved whole, after the quiet period otherwise.
//! - [`open`]: the one place that opens a web page, a folder or a file
//!   for the user.
//! - [`logging`]: `tracing` set-up, with a rotating log file for the desktop.
//! - [`paths`]: where Ferry keeps its own state on this computer.
//! - [`crash`]: crash points for the `kill -9` tests (compiled out unless
//!   the `failpoints` feature is on).
//!
//! # Promises
//!
//! Data flows one way: the engine reports through a status stream and never
//! calls up into a front end. Errors are typed and their messages are written
//! for a content editor.
//!
//! # Limitations
//!
//! - Linux (and other Unix systems) only: the folder writer uses
//!   `openat`/`renameat2`, and processes are told apart through `/proc`;
//!   Windows needs its own swap (`ReplaceFileW`) and keyring backend.
//! - Git LFS is not supported: LFS content arrives as pointer files, and
//!   files added are committed as plain blobs.
//! - A save reaches GitLab without waiting the quiet period only on Linux
//!   (inotify, and the kernel's leases tell whether anyone still writes the
//!   file) and on disks with fine timestamps; elsewhere, and for files the
//!   user doesn't own, the quiet period applies.
//! - A branch the user may not push to (GitLab's protected default branch
//!   for a Developer) is not yet handled: the save stays committed locally
//!   and the folder reports GitLab's refusal.

pub mod app;
pub mod config;
pub mod crash;
pub mod files;
pub mod git;
pub mod gitlab;
pub mod logging;
pub mod open;
pub mod paths;
pub mod secrets;
pub mod sync;
pub mod watch;

/// How the engine treats an error: the retry loop and the UI branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Temporary (network, server busy): back off and try again.
    RetryLater,
    /// Only the user can fix it (sign in again, fix a permission, ...).
    NeedsUser,
    /// A bug or an answer Ferry cannot handle.
    Fatal,
}
