//! What each folder's sync state is, and how the whole app sums it up.
//!
//! Every front end (CLI printer, tray, window) shows the same words from
//! here; the tray shows the *worst* folder's state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The state of one folder, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// The folder and GitLab are equal.
    Synced,
    /// A cycle is running: committing, pulling or pushing.
    Syncing,
    /// The user paused syncing.
    Paused,
    /// GitLab can't be reached; changes are kept and sent later.
    Offline,
    /// Both sides changed the same file; both versions were kept.
    Conflict,
    /// Something needs the user (sign in again, a protected branch, ...).
    Error,
}

impl SyncState {
    /// Every state, best first.
    pub const ALL: [SyncState; 6] = [
        Self::Synced,
        Self::Syncing,
        Self::Paused,
        Self::Offline,
        Self::Conflict,
        Self::Error,
    ];

    /// The word shown in the tray menu, the folder card and `ferry status`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Synced => "Synced",
            Self::Syncing => "Syncing",
            Self::Paused => "Paused",
            Self::Offline => "Offline",
            Self::Conflict => "Conflict",
            Self::Error => "Needs attention",
        }
    }

    /// The machine name (`synced`, `syncing`, ...), as in `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "synced",
            Self::Syncing => "syncing",
            Self::Paused => "paused",
            Self::Offline => "offline",
            Self::Conflict => "conflict",
            Self::Error => "error",
        }
    }
}

/// Why a folder is in its state, for front ends to branch on (never on
/// the message's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The user paused it.
    UserPaused,
    /// Files are still being written.
    WaitingForFiles,
    /// Both versions of a file were kept.
    Conflict,
    /// Some files aren't synced (see the notes).
    FilesNotSynced,
    /// The folder is gone (moved, deleted, its disk unplugged).
    FolderMissing,
    /// The folder's `.git` is gone.
    NotSetUp,
    /// Many files were deleted here: waiting for a confirmation.
    MassDelete,
    /// A change on GitLab deletes many files: waiting for a confirmation.
    IncomingMassDelete,
    /// Another Ferry process syncs it.
    OtherProcess,
    /// The sign-in failed or GitLab refused it.
    SignIn,
    /// GitLab can't be reached (or is busy); retrying.
    Offline,
    /// The disk is full; retrying once there is room.
    DiskFull,
    /// Another program using git in the folder holds its lock; waiting.
    WaitingForGit,
    /// Anything else that needs the user.
    Problem,
}

/// The status of one synced folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FolderStatus {
    /// The folder's [`crate::config::Folder::id`].
    pub id: String,
    /// The folder's name as shown to the user (its last path component).
    pub name: String,
    /// Where it is on disk.
    pub path: String,
    /// Its state.
    pub state: SyncState,
    /// One sentence for a content editor: what is happening or what to do.
    pub message: String,
    /// Why it is in this state (none: nothing to explain).
    #[serde(default)]
    pub reason: Option<Reason>,
    /// When it was last fully in sync.
    pub last_synced: Option<DateTime<Utc>>,
    /// Local commits not yet on GitLab.
    pub pending: u32,
    /// Recent files in and out, newest first.
    #[serde(default)]
    pub recent: Vec<Activity>,
    /// Conflict copies still in the folder (paths inside it): the folder
    /// shows `conflict` until the user has dealt with them.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// What the user should know about particular paths: files from GitLab
    /// the folder couldn't take, submodules, nested repositories left out.
    #[serde(default)]
    pub notes: Vec<crate::git::Note>,
    /// A large deletion waiting for the user's confirmation.
    #[serde(default)]
    pub pending_deletion: Option<crate::git::PendingDeletion>,
}

/// How many recent file changes a folder's status keeps.
pub const RECENT_ACTIVITY: usize = 20;

/// One file sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Activity {
    /// When.
    pub at: DateTime<Utc>,
    /// True for a change from GitLab, false for one sent.
    pub incoming: bool,
    /// The file.
    pub path: String,
    /// The commit (id) that carried it.
    pub commit: Option<String>,
    /// That commit's page on GitLab, once GitLab has it.
    #[serde(default)]
    pub url: Option<String>,
}

/// A snapshot of every folder's status: what the tray and window draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Overview {
    /// Each configured folder.
    pub folders: Vec<FolderStatus>,
    /// The user has paused all syncing.
    pub paused: bool,
}

impl Overview {
    /// The state the tray shows: the worst folder's, or paused when the user
    /// paused everything, or synced when there is nothing to sync.
    pub fn overall(&self) -> SyncState {
        let worst = self
            .folders
            .iter()
            .map(|f| f.state)
            .max()
            .unwrap_or(SyncState::Synced);
        if self.paused && worst < SyncState::Paused {
            SyncState::Paused
        } else {
            worst
        }
    }

    /// The tray tooltip: one line that says how things are.
    pub fn tooltip(&self) -> String {
        let state = self.overall();
        let count = self.folders.len();
        let worst_message = self
            .folders
            .iter()
            .filter(|f| f.state == state)
            .map(|f| format!("{}: {}", f.name, f.message))
            .next();
        let line = match state {
            SyncState::Synced if count == 0 => "No folders yet".to_string(),
            SyncState::Synced if count == 1 => "Your folder is up to date".to_string(),
            SyncState::Synced => format!("All {count} folders are up to date"),
            SyncState::Syncing => "Syncing…".to_string(),
            SyncState::Paused if self.paused => "Syncing is paused".to_string(),
            SyncState::Paused => worst_message.unwrap_or_else(|| "Syncing is paused".to_string()),
            SyncState::Offline => {
                "Offline — your changes are kept and sent when GitLab is reachable".to_string()
            }
            SyncState::Conflict | SyncState::Error => {
                worst_message.unwrap_or_else(|| state.label().to_string())
            }
        };
        format!("Ferry — {line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, state: SyncState, message: &str) -> FolderStatus {
        FolderStatus {
            id: name.into(),
            name: name.into(),
            path: format!("/home/e/{name}"),
            state,
            message: message.into(),
            reason: None,
            last_synced: None,
            pending: 0,
            recent: Vec::new(),
            conflicts: Vec::new(),
            notes: Vec::new(),
            pending_deletion: None,
        }
    }

    #[test]
    fn overall_is_the_worst_folder() {
        let o = Overview {
            folders: vec![
                folder("a", SyncState::Synced, "ok"),
                folder(
                    "b",
                    SyncState::Conflict,
                    "about.md was changed on both sides",
                ),
                folder("c", SyncState::Offline, "offline"),
            ],
            paused: false,
        };
        assert_eq!(o.overall(), SyncState::Conflict);
        assert_eq!(o.tooltip(), "Ferry — b: about.md was changed on both sides");
    }

    #[test]
    fn pausing_shows_paused_but_never_hides_a_problem() {
        let mut o = Overview {
            folders: vec![folder("a", SyncState::Synced, "ok")],
            paused: true,
        };
        assert_eq!(o.overall(), SyncState::Paused);
        assert_eq!(o.tooltip(), "Ferry — Syncing is paused");
        o.folders
            .push(folder("b", SyncState::Error, "sign in again"));
        assert_eq!(o.overall(), SyncState::Error, "an error outranks a pause");
    }

    #[test]
    fn nothing_configured_is_synced() {
        let o = Overview {
            folders: vec![],
            paused: false,
        };
        assert_eq!(o.overall(), SyncState::Synced);
        assert_eq!(o.tooltip(), "Ferry — No folders yet");
    }

    #[test]
    fn states_order_from_best_to_worst() {
        let mut sorted = SyncState::ALL;
        sorted.sort();
        assert_eq!(sorted, SyncState::ALL);
        let names: Vec<_> = SyncState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            ["synced", "syncing", "paused", "offline", "conflict", "error"]
        );
        for s in SyncState::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str()),
                "JSON uses the same names as the CLI contract"
            );
        }
    }
}
