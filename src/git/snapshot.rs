//! Snapshot commits: what the user changed in the folder since Ferry last
//! recorded it (the index), committed on top of the branch once each file
//! has been quiet for a moment, with a message that says what changed
//! ("Add 3 files, update index.md").
//!
//! Promises:
//! - Exactly the files that were checked are staged, each read once through
//!   the folder writer's handle (never through a link) and checked again
//!   after reading: a file still being written is never committed half
//!   written — it waits, alone, while the others go (no cap that commits
//!   it anyway). A file's age is judged by its status-change time too, so a
//!   timestamp from the future (an archive, a camera card) can't stall it.
//! - A file the watcher saw closed after writing, and settled since, goes at
//!   once (editors save with close-after-write), as long as it still looks
//!   exactly as it did then (inode, size, times); anything else waits the
//!   quiet period.
//! - A deletion is committed once its folder has been quiet as long, so an
//!   editor's delete-then-create is one change, never a delete.
//! - The commit is the branch tip plus those changes only: what the index
//!   records from an unfinished apply is never committed as the user's.
//! - Deleting an unusual share of the files (half or more; all of a small
//!   folder; also spread over an hour) waits for the user's approval of
//!   exactly that set. A move is not a deletion.
//! - A folder that is its own git repository is left out, with a note.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use git2::{Oid, Status, StatusOptions, StatusShow};
use serde::{Deserialize, Serialize};

use super::apply::{
    bytes_path, entry, index_items, Note, NoteKind, MODE_EXEC, MODE_FILE, MODE_GITLINK, MODE_LINK,
};
use super::writer::{Found, Kind, Stat, TreePath};
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

/// What [`Repo::snapshot`] did.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOutcome {
    /// The commit, when something was committed.
    pub committed: Option<Snapshot>,
    /// Files changed too recently (still being written): not committed yet.
    pub waiting: Vec<String>,
    /// When to look at them again.
    pub retry_in: Option<Duration>,
    /// Things left out, for the user to know.
    pub notes: Vec<Note>,
    /// An unusual share of the files would be deleted: nothing was committed.
    pub mass_delete: Option<PendingDeletion>,
}

/// A large deletion waiting for the user's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PendingDeletion {
    /// Files it deletes.
    pub deleted: usize,
    /// Files tracked before it.
    pub tracked: usize,
    /// True when it comes from GitLab, false when made in the folder.
    pub incoming: bool,
    /// Names exactly this set of deletions.
    pub fingerprint: String,
}

/// Snapshot settings.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotOptions<'a> {
    /// A file must be unchanged this long before it is committed...
    pub quiet: Duration,
    /// ...unless the watcher saw it closed after writing and settled.
    pub settled: &'a SettledFiles,
    /// Commit message style.
    pub style: CommitMessageStyle,
}

/// A file as it was when the watcher saw it closed after writing and
/// nothing touched it for a moment: while it still looks exactly so, its
/// content is whole and need not wait the quiet period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    ino: u64,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl Settled {
    /// The file `meta` describes, as it is now (none where the platform
    /// doesn't give status-change times).
    pub fn of(meta: &std::fs::Metadata) -> Option<Settled> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            meta.file_type().is_file().then(|| Settled {
                ino: meta.ino(),
                size: meta.size(),
                mtime: (meta.mtime(), meta.mtime_nsec() as u32),
                ctime: (meta.ctime(), meta.ctime_nsec() as u32),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }

    fn is(&self, st: &Stat) -> bool {
        st.kind() == Kind::File
            && self.ino == st.ino
            && self.size == st.size
            && self.mtime == st.mtime
            && self.ctime == st.ctime
    }
}

/// Settled files by their path in the folder (`/`-separated bytes).
pub type SettledFiles = std::collections::HashMap<Vec<u8>, Settled>;

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

/// Deleting `deleted` of `tracked` files is unusual enough to ask: half or
/// more of them (at least three), or every file of the folder.
pub(crate) fn unusual_deletion(deleted: usize, tracked: usize) -> bool {
    deleted > 0 && (deleted >= tracked || (deleted >= 3 && deleted * 2 >= tracked))
}

/// Deletions made recently count together: this long.
const DELETION_WINDOW: Duration = Duration::from_secs(3600);

/// How long ago `t` was (zero for the future).
fn age(now: SystemTime, t: (i64, u32)) -> Duration {
    let at = if t.0 >= 0 {
        UNIX_EPOCH + Duration::new(t.0 as u64, t.1)
    } else {
        UNIX_EPOCH
    };
    now.duration_since(at).unwrap_or(Duration::ZERO)
}

/// How long `st` has been still: by its modification time, unless that is
/// in the future, and never longer than its status-change time says (which
/// no tool can set back).
fn still_for(now: SystemTime, st: &Stat) -> Duration {
    let changed = age(now, st.ctime);
    let modified = age(now, st.mtime);
    let mtime_in_future = st.mtime.0
        > now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
            + 1;
    if mtime_in_future {
        changed
    } else {
        modified.min(changed)
    }
}

/// Changed paths with their status, and the notes of what was left out.
type WorkdirChanges = (Vec<(Vec<u8>, Status)>, Vec<Note>);

struct Staged {
    path: Vec<u8>,
    id: Oid,
    mode: u32,
    stat: Stat,
    kind: ChangeKind,
}

impl Repo {
    /// Files that differ from the index (untracked included, ignored not),
    /// and the nested repositories left out.
    fn workdir_changes(&self) -> Result<WorkdirChanges, GitError> {
        let mut opts = StatusOptions::new();
        opts.show(StatusShow::Workdir)
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false)
            .include_unmodified(false)
            .renames_index_to_workdir(false)
            .exclude_submodules(true)
            // Files whose status changed but not their content (a disk
            // remounted, new inode numbers) are recorded, not re-read each time.
            .update_index(true);
        let statuses = self.raw().statuses(Some(&mut opts))?;
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for e in statuses.iter() {
            let path = e.path_bytes().to_vec();
            if path.ends_with(b"/") {
                // A folder git shows whole: a repository of its own.
                let shown = &path[..path.len() - 1];
                notes.push(note(shown, NoteKind::NestedRepository));
                continue;
            }
            out.push((path, e.status()));
        }
        Ok((out, notes))
    }

    /// Files that differ from the last commit, for display.
    pub fn changes(&self) -> Result<Vec<Change>, GitError> {
        let (changes, _) = self.workdir_changes()?;
        Ok(changes
            .into_iter()
            .map(|(p, s)| Change {
                path: String::from_utf8_lossy(&p).into_owned(),
                kind: if s.contains(Status::WT_DELETED) {
                    ChangeKind::Deleted
                } else if s.contains(Status::WT_NEW) {
                    ChangeKind::Added
                } else {
                    ChangeKind::Modified
                },
            })
            .collect())
    }

    /// Commits what the user changed, as far as it is quiet. See the module docs.
    pub fn snapshot(&self, options: SnapshotOptions) -> Result<SnapshotOutcome, GitError> {
        let repo = self.raw();
        let (mut changes, notes) = self.workdir_changes()?;
        let mut outcome = SnapshotOutcome {
            notes,
            ..SnapshotOutcome::default()
        };
        let mut index = repo.index()?;
        index.read(true)?;
        let items = index_items(&index);
        let head = self.head().map(|h| repo.find_commit(h)).transpose()?;
        let head_tree = head.as_ref().map(|c| c.tree()).transpose()?;
        let writer = self.writer(super::writer::Durability::EachFile)?;
        // What another git tool staged (the index ahead of the branch, the
        // disk agreeing) is the user's change too.
        for path in self.staged_elsewhere(&index, &items, head_tree.as_ref())? {
            if !changes.iter().any(|(c, _)| *c == path) {
                changes.push((path, Status::INDEX_MODIFIED));
            }
        }
        // A file the user put where Ferry couldn't write GitLab's (and that
        // isn't ignored) is theirs to send.
        if !writer.capabilities().case_insensitive {
            for (path, _) in items
                .iter()
                .filter(|(_, i)| i.skip && i.mode != MODE_GITLINK)
            {
                let Ok(tp) = TreePath::new(path, false) else {
                    continue;
                };
                if matches!(writer.lookup(&tp), Ok(Found::Entry(st)) if st.kind() == Kind::File || st.kind() == Kind::Symlink)
                    && !self.is_ignored(path)
                    && !changes.iter().any(|(c, _)| c == path)
                {
                    changes.push((path.clone(), Status::WT_MODIFIED));
                }
            }
        }
        if changes.is_empty() {
            return Ok(outcome);
        }
        self.decide_filters(
            items
                .keys()
                .map(Vec::as_slice)
                .chain(changes.iter().map(|(p, _)| p.as_slice())),
        );
        let now = SystemTime::now();
        let wait = |outcome: &mut SnapshotOutcome, path: &[u8], left: Duration| {
            outcome
                .waiting
                .push(String::from_utf8_lossy(path).into_owned());
            let left = left.max(Duration::from_millis(20));
            outcome.retry_in = Some(outcome.retry_in.map_or(left, |r| r.min(left)));
        };
        // The branch tip's version of a path: what a commit changes.
        let in_head = |path: &[u8]| -> Option<(Oid, u32)> {
            let e = head_tree.as_ref()?.get_path(bytes_path(path)).ok()?;
            let mode = e.filemode() as u32;
            (mode != 0o040000).then(|| (e.id(), if mode == 0o100664 { MODE_FILE } else { mode }))
        };

        let mut staged: Vec<Staged> = Vec::new();
        // Deleted paths, their last id, and whether the branch has them.
        let mut deleted: Vec<(Vec<u8>, Oid, bool)> = Vec::new();
        for (path, _status) in changes {
            let item = items.get(&path);
            let user_filled_skip = item.is_some_and(|i| i.skip);
            if item.is_some_and(|i| i.mode == MODE_GITLINK) {
                continue;
            }
            let Ok(tp) = TreePath::new(&path, false) else {
                tracing::warn!(path = %String::from_utf8_lossy(&path), "not committing a name git refuses");
                continue;
            };
            let head_entry = in_head(&path);
            let known = item.map(|i| i.id).or(head_entry.map(|h| h.0));
            let found = match writer.lookup(&tp) {
                Ok(found) => found,
                Err(e) if e.is_path_problem() => {
                    let why = unreadable(&tp, e).to_string();
                    outcome
                        .notes
                        .push(Note::new(&path, NoteKind::Unreadable, &why));
                    continue;
                }
                Err(e) => return Err(super::apply::write_error(e)),
            };
            match found {
                Found::Absent | Found::Blocked => {
                    if user_filled_skip {
                        continue;
                    }
                    let Some(known) = known else { continue };
                    // Deleted: once its folder has been still for the quiet period.
                    match self.nearest_dir_still_for(&writer, &tp, now) {
                        Some(still) if still < options.quiet => {
                            wait(&mut outcome, &path, options.quiet - still)
                        }
                        _ => deleted.push((path, known, head_entry.is_some())),
                    }
                }
                Found::Entry(st) if st.kind() == Kind::Dir || st.kind() == Kind::Other => {
                    // The file became a folder (its new files are changes of
                    // their own): the file is deleted, once that is quiet.
                    let Some(known) = known.filter(|_| !user_filled_skip) else {
                        continue;
                    };
                    let still = still_for(now, &st);
                    if still < options.quiet {
                        wait(&mut outcome, &path, options.quiet - still);
                    } else {
                        deleted.push((path, known, head_entry.is_some()));
                    }
                }
                Found::Entry(st) => {
                    let still = still_for(now, &st);
                    let settled = options.settled.get(&path).is_some_and(|s| s.is(&st));
                    if still < options.quiet && !settled {
                        wait(&mut outcome, &path, options.quiet - still);
                        continue;
                    }
                    let staged_now = match self.stage(&writer, &tp, &st) {
                        Err(GitError::File { why, .. }) => {
                            outcome
                                .notes
                                .push(Note::new(&path, NoteKind::Unreadable, &why));
                            continue;
                        }
                        other => other?,
                    };
                    match staged_now {
                        Some((id, mode, stat)) => {
                            if head_entry == Some((id, mode)) {
                                // The branch already has it: record the file's
                                // status, nothing to commit.
                                index.add(&entry(&path, id, mode, Some(&stat), false))?;
                                continue;
                            }
                            staged.push(Staged {
                                kind: if head_entry.is_some() {
                                    ChangeKind::Modified
                                } else {
                                    ChangeKind::Added
                                },
                                path,
                                id,
                                mode,
                                stat,
                            })
                        }
                        None => wait(&mut outcome, &path, options.quiet),
                    }
                }
            }
        }

        // An unusual share of deletions (moves excepted) waits for approval.
        let added: HashSet<Oid> = staged
            .iter()
            .filter(|s| s.kind == ChangeKind::Added)
            .map(|s| s.id)
            .collect();
        let real_deletions = deleted
            .iter()
            .filter(|(_, id, in_head)| *in_head && !added.contains(id))
            .count();
        if real_deletions > 0 {
            let recent = self.recent_deletions(now);
            let tracked_before = items.len() + recent;
            if unusual_deletion(real_deletions + recent, tracked_before) {
                let mut paths: Vec<&Vec<u8>> = deleted
                    .iter()
                    .filter(|(_, _, in_head)| *in_head)
                    .map(|(p, _, _)| p)
                    .collect();
                paths.sort();
                let mut hasher = sha2::Sha256::default();
                for p in &paths {
                    sha2::Digest::update(&mut hasher, p);
                    sha2::Digest::update(&mut hasher, b"\0");
                }
                let digest = sha2::Digest::finalize(hasher);
                let fingerprint = format!(
                    "out:{}",
                    digest
                        .iter()
                        .take(12)
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                );
                if !self.deletion_allowed(&fingerprint) {
                    let pending = PendingDeletion {
                        deleted: real_deletions + recent,
                        tracked: tracked_before,
                        incoming: false,
                        fingerprint,
                    };
                    self.set_pending_deletion(Some(&pending))?;
                    outcome.mass_delete = Some(pending);
                    index.write()?;
                    return Ok(outcome);
                }
            }
        }

        if staged.is_empty() && deleted.is_empty() {
            index.write()?;
            return Ok(outcome);
        }

        // The commit: the branch tip plus exactly these changes.
        let head = self.head().map(|h| repo.find_commit(h)).transpose()?;
        let base = match &head_tree {
            Some(t) => t.clone(),
            None => repo.find_tree(repo.treebuilder(None)?.write()?)?,
        };
        // Removals first, then additions: a file that became a folder (or
        // a folder that became a file) needs its old shape gone first.
        let mut removals = git2::build::TreeUpdateBuilder::new();
        for (path, _, in_head) in &deleted {
            // Only what the branch has can be removed from it.
            if *in_head {
                removals.remove(path.as_slice());
            }
        }
        let between = repo.find_tree(removals.create_updated(repo, &base)?)?;
        let mut additions = git2::build::TreeUpdateBuilder::new();
        // A file where a folder stays (holding files from GitLab this
        // folder doesn't have) can't be sent as it is: it waits, unrecorded.
        staged.retain(|s| {
            let still_a_folder = between
                .get_path(bytes_path(&s.path))
                .is_ok_and(|e| e.kind() == Some(git2::ObjectType::Tree));
            // ... or a file in a folder whose name the branch has as a file.
            let under_a_file = TreePath::new(&s.path, false).is_ok_and(|tp| {
                tp.ancestors().iter().any(|dir| {
                    between
                        .get_path(bytes_path(dir))
                        .is_ok_and(|e| e.kind() == Some(git2::ObjectType::Blob))
                })
            });
            if still_a_folder || under_a_file {
                tracing::warn!(path = %String::from_utf8_lossy(&s.path), "a file and a folder of the same name: not sent yet");
            }
            !still_a_folder && !under_a_file
        });
        for s in &staged {
            additions.upsert(s.path.as_slice(), s.id, file_mode(s.mode));
        }
        let tree_id = additions.create_updated(repo, &between)?;
        let mut changes: Vec<Change> = staged
            .iter()
            .map(|s| Change {
                path: String::from_utf8_lossy(&s.path).into_owned(),
                kind: s.kind,
            })
            .chain(deleted.iter().filter(|d| d.2).map(|(p, _, _)| Change {
                path: String::from_utf8_lossy(p).into_owned(),
                kind: ChangeKind::Deleted,
            }))
            .collect();
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        let committed = if head.as_ref().is_some_and(|h| h.tree_id() == tree_id) {
            None
        } else {
            let tree = repo.find_tree(tree_id)?;
            let message = match options.style {
                CommitMessageStyle::Descriptive => summarize(&changes),
                CommitMessageStyle::Simple => "Update from Ferry".to_string(),
            };
            let sig = repo.signature()?;
            let parents: Vec<&git2::Commit<'_>> = head.iter().collect();
            let commit = repo.commit(None, &sig, &sig, &message, &tree, &parents)?;
            self.sync_git_dir()?;
            crate::crash_point!("snapshot-commit-written");
            // The ref first, then the index: a crash between the two makes
            // the next snapshot find the same content again, never lose it.
            self.move_branch(head.as_ref().map(|h| h.id()), commit)?;
            crate::crash_point!("snapshot-branch-moved");
            Some(Snapshot {
                commit,
                changes,
                message,
            })
        };
        for (path, _, _) in &deleted {
            let _ = index.remove(bytes_path(path), 0);
        }
        for s in &staged {
            index.add(&entry(&s.path, s.id, s.mode, Some(&s.stat), false))?;
        }
        index.write()?;
        if real_deletions > 0 {
            self.record_deletions(now, real_deletions)?;
        }
        // An approval of this folder's own deletions is used up; one for a
        // change from GitLab waits for that change.
        if self.pending_deletion().is_some_and(|p| !p.incoming) {
            self.set_pending_deletion(None)?;
        }
        let allowed = self.raw().path().join("ferry-allowed-deletion");
        if std::fs::read_to_string(&allowed).is_ok_and(|f| f.starts_with("out:")) {
            let _ = std::fs::remove_file(allowed);
        }
        outcome.committed = committed;
        Ok(outcome)
    }

    /// Paths whose index entry differs from the branch tip and that Ferry
    /// didn't record itself: staged by another git tool (or left by an
    /// adopted clone). What an unfinished apply recorded — the journal's
    /// target — is excluded.
    fn staged_elsewhere(
        &self,
        index: &git2::Index,
        items: &std::collections::BTreeMap<Vec<u8>, super::apply::IndexItem>,
        head_tree: Option<&git2::Tree<'_>>,
    ) -> Result<Vec<Vec<u8>>, GitError> {
        let diff = self
            .raw()
            .diff_tree_to_index(head_tree, Some(index), None)?;
        if diff.deltas().len() == 0 {
            return Ok(Vec::new());
        }
        let ferrys = self.journal_target_items();
        let mut out = Vec::new();
        for d in diff.deltas() {
            let Some(path) = d
                .new_file()
                .path_bytes()
                .or_else(|| d.old_file().path_bytes())
                .map(<[u8]>::to_vec)
            else {
                continue;
            };
            let item = items.get(&path);
            if item.is_some_and(|i| i.skip || i.mode == MODE_GITLINK) {
                continue;
            }
            if let Some(target) = &ferrys {
                let ours = match (item, target.get(&path)) {
                    (Some(i), Some(t)) => i.id == t.id && i.mode == t.mode,
                    (None, None) => true,
                    _ => false,
                };
                if ours {
                    continue;
                }
            }
            out.push(path);
        }
        Ok(out)
    }

    /// Reads the file or link at `path` into a blob, checking that it did
    /// not change while read. `None`: it did (still being written).
    fn stage(
        &self,
        writer: &super::writer::FolderWriter,
        path: &TreePath,
        st: &Stat,
    ) -> Result<Option<(Oid, u32, Stat)>, GitError> {
        match st.kind() {
            Kind::Symlink => {
                let Some(target) = writer.link_target(path).map_err(|e| unreadable(path, e))?
                else {
                    return Ok(None);
                };
                let id = self.raw().blob(&target)?;
                let after = match writer.lookup(path).map_err(super::apply::write_error)? {
                    Found::Entry(a) => a,
                    _ => return Ok(None),
                };
                Ok(after.same_as(st).then_some((id, MODE_LINK, after)))
            }
            Kind::File => {
                let Some((mut file, before)) =
                    writer.open_file(path).map_err(|e| unreadable(path, e))?
                else {
                    return Ok(None);
                };
                let id = match self.blob_from_reader(path.as_bytes(), &mut file, Some(before.size))
                {
                    Ok(id) => id,
                    // Changed while read: still being written.
                    Err(GitError::Other(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let after = super::writer::Stat::of_file(&file)?;
                if !after.same_as(&before) || !before.same_as(st) {
                    return Ok(None);
                }
                let filemode = self
                    .raw()
                    .config()
                    .and_then(|c| c.get_bool("core.filemode"))
                    .unwrap_or(true);
                let mode = if filemode && after.executable() {
                    MODE_EXEC
                } else if filemode {
                    MODE_FILE
                } else {
                    // No executable bit on this disk: keep what the index says.
                    self.raw()
                        .index()
                        .ok()
                        .and_then(|i| i.get_path(bytes_path(path.as_bytes()), 0))
                        .map(|e| {
                            if e.mode == MODE_EXEC {
                                MODE_EXEC
                            } else {
                                MODE_FILE
                            }
                        })
                        .unwrap_or(MODE_FILE)
                };
                Ok(Some((id, mode, after)))
            }
            _ => Ok(None),
        }
    }

    /// How long the folder holding `path` (or its nearest existing parent)
    /// has been still: a deletion is as recent as its folder's last change.
    fn nearest_dir_still_for(
        &self,
        writer: &super::writer::FolderWriter,
        path: &TreePath,
        now: SystemTime,
    ) -> Option<Duration> {
        for dir in path.ancestors().into_iter().rev() {
            if let Ok(tp) = TreePath::new(dir, false) {
                if let Ok(Found::Entry(st)) = writer.lookup(&tp) {
                    if st.kind() == Kind::Dir {
                        return Some(still_for(now, &st));
                    }
                }
            }
        }
        let root = std::fs::metadata(self.dir()).ok()?;
        use std::os::unix::fs::MetadataExt;
        let st = Stat {
            mtime: (root.mtime(), root.mtime_nsec() as u32),
            ctime: (root.ctime(), root.ctime_nsec() as u32),
            ..Stat::default()
        };
        Some(still_for(now, &st))
    }

    fn deletions_log(&self) -> std::path::PathBuf {
        self.raw().path().join("ferry-deletions")
    }

    /// Files deleted by snapshots in the last hour.
    fn recent_deletions(&self, now: SystemTime) -> usize {
        let cutoff = now
            .checked_sub(DELETION_WINDOW)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        std::fs::read_to_string(self.deletions_log())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter_map(|(t, n)| Some((t.parse::<u64>().ok()?, n.parse::<usize>().ok()?)))
            .filter(|(t, _)| *t >= cutoff)
            .map(|(_, n)| n)
            .sum()
    }

    fn record_deletions(&self, now: SystemTime, count: usize) -> Result<(), GitError> {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let cutoff = secs.saturating_sub(DELETION_WINDOW.as_secs());
        let mut text: String = std::fs::read_to_string(self.deletions_log())
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.split_once(' ')
                    .and_then(|(t, _)| t.parse::<u64>().ok())
                    .is_some_and(|t| t >= cutoff)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        text.push_str(&format!("{secs} {count}\n"));
        crate::config::write_atomically(&self.deletions_log(), text.as_bytes())?;
        Ok(())
    }

    fn pending_file(&self) -> std::path::PathBuf {
        self.raw().path().join("ferry-pending-deletion")
    }

    /// The large deletion waiting for the user's approval, if any.
    pub fn pending_deletion(&self) -> Option<PendingDeletion> {
        serde_json::from_slice(&std::fs::read(self.pending_file()).ok()?).ok()
    }

    pub(crate) fn set_pending_deletion(&self, p: Option<&PendingDeletion>) -> Result<(), GitError> {
        match p {
            Some(p) => {
                let text = serde_json::to_vec(p).map_err(|e| GitError::Other(e.to_string()))?;
                crate::config::write_atomically(&self.pending_file(), &text)?;
            }
            None => {
                let _ = std::fs::remove_file(self.pending_file());
            }
        }
        Ok(())
    }

    /// Approves the pending large deletion (exactly that set). False when
    /// none is pending.
    pub fn allow_pending_deletion(&self) -> Result<bool, GitError> {
        let Some(p) = self.pending_deletion() else {
            return Ok(false);
        };
        crate::config::write_atomically(
            &self.raw().path().join("ferry-allowed-deletion"),
            p.fingerprint.as_bytes(),
        )?;
        Ok(true)
    }

    /// True when the user approved the deletion set `fingerprint`.
    pub(crate) fn deletion_allowed(&self, fingerprint: &str) -> bool {
        std::fs::read_to_string(self.raw().path().join("ferry-allowed-deletion"))
            .is_ok_and(|f| f.trim() == fingerprint)
    }
}

/// A file the snapshot can't read: [`GitError::File`] for a path problem
/// (the caller notes it and goes on), the folder's error otherwise.
fn unreadable(path: &TreePath, e: super::writer::WriteError) -> GitError {
    match e {
        super::writer::WriteError::NotHoldable { source, .. } => GitError::File {
            path: path.display(),
            why: match source.raw_os_error() {
                Some(libc::EACCES | libc::EPERM) => "no permission to read it".to_string(),
                _ => source.to_string(),
            },
        },
        e if e.is_path_problem() => GitError::File {
            path: path.display(),
            why: e.to_string(),
        },
        e => super::apply::write_error(e),
    }
}

fn file_mode(mode: u32) -> git2::FileMode {
    match mode {
        MODE_EXEC => git2::FileMode::BlobExecutable,
        MODE_LINK => git2::FileMode::Link,
        MODE_GITLINK => git2::FileMode::Commit,
        _ => git2::FileMode::Blob,
    }
}

fn note(path: &[u8], kind: NoteKind) -> Note {
    let shown = String::from_utf8_lossy(path).into_owned();
    Note {
        message: format!(
            "{shown} is a separate git repository inside the folder; Ferry leaves it out of what it sends."
        ),
        path: shown,
        kind,
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

    #[test]
    fn unusual_deletions_are_half_or_all() {
        assert!(unusual_deletion(5_000, 10_000), "exactly half asks");
        assert!(unusual_deletion(5_003, 10_006));
        assert!(!unusual_deletion(4_999, 10_000));
        assert!(unusual_deletion(9, 9), "every file of a small folder asks");
        assert!(unusual_deletion(1, 1));
        assert!(!unusual_deletion(1, 3), "one of three is ordinary");
        assert!(!unusual_deletion(2, 4), "two files are ordinary");
        assert!(unusual_deletion(3, 6));
        assert!(!unusual_deletion(0, 0));
    }

    #[test]
    fn a_future_timestamp_does_not_make_a_file_look_busy() {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let st = Stat {
            mtime: (secs + 3600, 0),
            ctime: (secs - 10, 0),
            ..Stat::default()
        };
        assert!(still_for(now, &st) >= Duration::from_secs(9));
        let busy = Stat {
            mtime: (secs - 10, 0),
            ctime: (secs, 0),
            ..Stat::default()
        };
        assert!(
            still_for(now, &busy) < Duration::from_secs(1),
            "a fresh change counts"
        );
    }
}
