//! Snapshot commits: everything in the folder that differs from the last
//! commit (respecting `.gitignore` and Ferry's built-in excludes) is staged
//! and committed, once the files have been quiet for a moment, with a
//! message that says what changed ("Add 3 files, update index.md").

use std::time::{Duration, SystemTime};

use git2::{IndexAddOption, Oid, Status, StatusOptions};
use serde::Serialize;

use super::{GitError, Repo};
use crate::config::CommitMessageStyle;

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New file.
    Added,
    /// Changed content.
    Modified,
    /// Removed.
    Deleted,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Path inside the folder, with `/` separators.
    pub path: String,
    /// What happened.
    pub kind: ChangeKind,
}

/// A commit made from the folder's changes.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The new commit.
    #[serde(serialize_with = "oid_hex")]
    pub commit: Oid,
    /// What it contains.
    pub changes: Vec<Change>,
    /// Its message.
    pub message: String,
}

pub(crate) fn oid_hex<S: serde::Serializer>(oid: &Oid, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&oid.to_string())
}

/// The outcome of [`Repo::snapshot`].
#[derive(Debug, Clone)]
pub enum SnapshotOutcome {
    /// Nothing differs from the last commit.
    Clean,
    /// A file changed less than the quiet period ago: try again after this.
    NotQuiet(Duration),
    /// An unusual share of the files would be deleted: ask the user first.
    MassDelete {
        /// Files that would be deleted.
        deleted: usize,
        /// Files tracked before.
        tracked: usize,
    },
    /// Committed.
    Committed(Snapshot),
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The commit message for `changes`: "Update about.md", "Add 3 files,
/// update index.md", "Delete old.md".
pub fn summarize(changes: &[Change]) -> String {
    let part = |kind: ChangeKind, verb: &str| -> Option<String> {
        let of_kind: Vec<&Change> = changes.iter().filter(|c| c.kind == kind).collect();
        match of_kind.as_slice() {
            [] => None,
            [one] => Some(format!("{verb} {}", file_name(&one.path))),
            many => Some(format!("{verb} {} files", many.len())),
        }
    };
    let parts: Vec<String> = [
        part(ChangeKind::Added, "add"),
        part(ChangeKind::Modified, "update"),
        part(ChangeKind::Deleted, "delete"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let text = parts.join(", ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => "Update from Ferry".to_string(),
    }
}

/// Share of tracked files whose deletion needs the user's confirmation.
const MASS_DELETE_MIN: usize = 10;

impl Repo {
    /// Files that differ from the last commit (untracked included, ignored not).
    pub fn changes(&self) -> Result<Vec<Change>, GitError> {
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false)
            .include_unmodified(false)
            .renames_head_to_index(false)
            .exclude_submodules(true);
        let statuses = self.raw().statuses(Some(&mut opts))?;
        let mut out = Vec::new();
        for entry in statuses.iter() {
            let Ok(path) = entry.path() else { continue };
            let s = entry.status();
            let kind = if s.intersects(Status::WT_DELETED | Status::INDEX_DELETED)
                && !s.intersects(Status::WT_NEW)
            {
                if s.contains(Status::INDEX_NEW) {
                    // Added to the index, then deleted from disk: nothing to record.
                    continue;
                }
                ChangeKind::Deleted
            } else if s.intersects(Status::WT_NEW | Status::INDEX_NEW) {
                ChangeKind::Added
            } else if s.intersects(
                Status::WT_MODIFIED
                    | Status::INDEX_MODIFIED
                    | Status::WT_TYPECHANGE
                    | Status::INDEX_TYPECHANGE,
            ) {
                ChangeKind::Modified
            } else {
                continue;
            };
            out.push(Change {
                path: path.to_string(),
                kind,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Commits everything that differs from the last commit, if every
    /// changed file has been quiet for `quiet`. Deleting more than half of
    /// the files (and at least ten) needs `allow_mass_delete`.
    pub fn snapshot(
        &self,
        quiet: Duration,
        style: CommitMessageStyle,
        allow_mass_delete: bool,
    ) -> Result<SnapshotOutcome, GitError> {
        let changes = self.changes()?;
        if changes.is_empty() {
            return Ok(SnapshotOutcome::Clean);
        }
        let now = SystemTime::now();
        let mut wait = Duration::ZERO;
        for c in changes.iter().filter(|c| c.kind != ChangeKind::Deleted) {
            if let Ok(modified) =
                std::fs::symlink_metadata(self.dir().join(&c.path)).and_then(|m| m.modified())
            {
                let age = now.duration_since(modified).unwrap_or(Duration::ZERO);
                if age < quiet {
                    wait = wait.max(quiet - age);
                }
            }
        }
        if !wait.is_zero() {
            return Ok(SnapshotOutcome::NotQuiet(wait));
        }
        let deleted = changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Deleted)
            .count();
        let tracked = self.raw().index()?.len();
        if !allow_mass_delete && deleted >= MASS_DELETE_MIN && deleted * 2 > tracked {
            return Ok(SnapshotOutcome::MassDelete { deleted, tracked });
        }

        let repo = self.raw();
        let mut index = repo.index()?;
        index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
        index.update_all(["*"], None)?;
        index.write()?;
        let tree_id = index.write_tree()?;
        let tree = repo.find_tree(tree_id)?;
        let parent = self.head().map(|h| repo.find_commit(h)).transpose()?;
        if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
            return Ok(SnapshotOutcome::Clean);
        }
        let message = match style {
            CommitMessageStyle::Descriptive => summarize(&changes),
            CommitMessageStyle::Simple => "Update from Ferry".to_string(),
        };
        let sig = repo.signature()?;
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let commit = repo.commit(
            Some(&format!("refs/heads/{}", self.branch())),
            &sig,
            &sig,
            &message,
            &tree,
            &parents,
        )?;
        if repo.head_detached().unwrap_or(false) || repo.head().is_err() {
            repo.set_head(&format!("refs/heads/{}", self.branch()))?;
        }
        Ok(SnapshotOutcome::Committed(Snapshot {
            commit,
            changes,
            message,
        }))
    }

    /// The id of the tree at `commit`.
    pub(crate) fn tree_of(&self, commit: Oid) -> Result<Oid, GitError> {
        Ok(self.raw().find_commit(commit)?.tree_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(path: &str, kind: ChangeKind) -> Change {
        Change {
            path: path.into(),
            kind,
        }
    }

    #[test]
    fn messages_say_what_changed() {
        assert_eq!(
            summarize(&[c("about.md", ChangeKind::Modified)]),
            "Update about.md"
        );
        assert_eq!(
            summarize(&[c("docs/new.md", ChangeKind::Added)]),
            "Add new.md"
        );
        assert_eq!(
            summarize(&[c("old.md", ChangeKind::Deleted)]),
            "Delete old.md"
        );
        assert_eq!(
            summarize(&[
                c("a.md", ChangeKind::Added),
                c("b.md", ChangeKind::Added),
                c("c.md", ChangeKind::Added),
                c("index.md", ChangeKind::Modified),
            ]),
            "Add 3 files, update index.md"
        );
        assert_eq!(
            summarize(&[
                c("x.png", ChangeKind::Deleted),
                c("y.png", ChangeKind::Deleted),
                c("about.md", ChangeKind::Modified),
            ]),
            "Update about.md, delete 2 files"
        );
        assert_eq!(summarize(&[]), "Update from Ferry");
    }
}
