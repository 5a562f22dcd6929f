//! Integrating the server's branch: in memory, then onto the folder.
//!
//! [`Repo::integrate`] fast-forwards when it can; otherwise it replays the
//! local, unpushed commits onto the server's tip (a linear history), one
//! cherry-pick at a time, all in memory. Text edits that don't overlap merge;
//! a true conflict keeps both: the server's version at the path and the
//! local one beside it as `NAME (conflict YYYY-MM-DD HHMM HOST).EXT`.
//! Modify beats delete, on either side. No conflict markers ever reach a file.
//!
//! [`Repo::apply`] then writes the result to the folder file by file (temp
//! file in the same directory, fsync, rename), re-checking each file right
//! before replacing or deleting it, and moves the branch ref last with a
//! compare-and-swap. A journal in `.git/ferry-apply` lets the next start
//! finish an apply that a crash interrupted.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local};
use git2::{Delta, DiffOptions, FileMode, IndexEntry, IndexTime, MergeOptions, ObjectType, Oid};
use serde::Serialize;

use super::snapshot::{Change, ChangeKind};
use super::{GitError, Repo};

/// The result of combining the local branch with the server's.
#[derive(Debug, Clone, Serialize)]
pub struct Integration {
    /// The commit the branch should move to.
    #[serde(serialize_with = "super::snapshot::oid_hex")]
    pub new_head: Oid,
    /// Conflict copies created (paths inside the folder).
    pub conflict_copies: Vec<String>,
    /// Local commits replayed onto the server's tip.
    pub replayed: usize,
}

/// What applying a tree to the folder did.
#[derive(Debug, Clone, Serialize)]
pub enum Applied {
    /// Every file written, the ref moved.
    Done {
        /// Files written or removed.
        changes: Vec<Change>,
    },
    /// A file changed on disk while applying: the ref did not move; the
    /// next cycle commits that change first.
    Interrupted {
        /// The file that changed.
        path: String,
    },
}

/// `about (conflict 2026-11-22 1430 laptop).md` for `about.md`.
pub fn conflict_copy_name(path: &str, when: DateTime<Local>, host: &str) -> String {
    let (dir, name) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    let (stem, ext) = match name.rfind('.') {
        Some(0) | None => (name, ""),
        Some(i) => (&name[..i], &name[i..]),
    };
    let host: String = host
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    format!(
        "{dir}{stem} (conflict {} {host}){ext}",
        when.format("%Y-%m-%d %H%M")
    )
}

fn index_entry(path: &str, id: Oid, mode: u32) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id,
        flags: (path.len().min(0xfff)) as u16,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

impl Repo {
    /// Combines the local branch with `remote` (the server's tip) in memory:
    /// creates the commits, moves nothing, writes no file.
    pub fn integrate(
        &self,
        remote: Oid,
        host: &str,
        now: DateTime<Local>,
    ) -> Result<Integration, GitError> {
        let repo = self.raw();
        let done = |new_head: Oid| Integration {
            new_head,
            conflict_copies: Vec::new(),
            replayed: 0,
        };
        let Some(local) = self.head() else {
            return Ok(done(remote));
        };
        if local == remote || repo.graph_descendant_of(local, remote)? {
            return Ok(done(local));
        }
        if repo.graph_descendant_of(remote, local)? {
            return Ok(done(remote));
        }
        // Local commits the server does not have, oldest first.
        let mut walk = repo.revwalk()?;
        walk.push(local)?;
        walk.hide(remote)?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
        let local_commits: Vec<Oid> = walk.collect::<Result<_, _>>()?;

        let mut onto = repo.find_commit(remote)?;
        let mut copies = Vec::new();
        for id in &local_commits {
            let commit = repo.find_commit(*id)?;
            let mainline = if commit.parent_count() > 1 { 1 } else { 0 };
            let mut opts = MergeOptions::new();
            opts.fail_on_conflict(false);
            let mut index = repo.cherrypick_commit(&commit, &onto, mainline, Some(&opts))?;
            if index.has_conflicts() {
                copies.extend(self.keep_both(&mut index, host, now)?);
            }
            let tree_id = index.write_tree_to(repo)?;
            if tree_id == onto.tree_id() {
                // Everything in this commit is already on the server.
                continue;
            }
            let tree = repo.find_tree(tree_id)?;
            let committer = repo.signature()?;
            let new = repo.commit(
                None,
                &commit.author(),
                &committer,
                commit.message().unwrap_or("Update from Ferry"),
                &tree,
                &[&onto],
            )?;
            onto = repo.find_commit(new)?;
        }
        Ok(Integration {
            new_head: onto.id(),
            conflict_copies: copies,
            replayed: local_commits.len(),
        })
    }

    /// Resolves every conflict in `index` by keeping both versions: the
    /// server's ("ours" in a cherry-pick onto the server's tip) at the path,
    /// the local one as a conflict copy. Modify beats delete.
    fn keep_both(
        &self,
        index: &mut git2::Index,
        host: &str,
        now: DateTime<Local>,
    ) -> Result<Vec<String>, GitError> {
        let conflicts: Vec<git2::IndexConflict> = index.conflicts()?.collect::<Result<_, _>>()?;
        let mut copies = Vec::new();
        for c in conflicts {
            let path_bytes = c
                .our
                .as_ref()
                .or(c.their.as_ref())
                .or(c.ancestor.as_ref())
                .map(|e| e.path.clone())
                .unwrap_or_default();
            let path = String::from_utf8_lossy(&path_bytes).into_owned();
            index.conflict_remove(Path::new(&path))?;
            match (c.our, c.their) {
                (Some(server), Some(local)) => {
                    index.add(&index_entry(&path, server.id, server.mode))?;
                    if server.id != local.id {
                        let mut copy = conflict_copy_name(&path, now, host);
                        let mut n = 2;
                        while index.get_path(Path::new(&copy), 0).is_some() {
                            copy = conflict_copy_name(&format!("{path} {n}"), now, host);
                            n += 1;
                        }
                        index.add(&index_entry(&copy, local.id, local.mode))?;
                        copies.push(copy);
                    }
                }
                // Deleted here, changed on the server: the change wins.
                (Some(server), None) => index.add(&index_entry(&path, server.id, server.mode))?,
                // Deleted on the server, changed here: the change wins.
                (None, Some(local)) => index.add(&index_entry(&path, local.id, local.mode))?,
                (None, None) => {}
            }
        }
        Ok(copies)
    }

    fn journal(&self) -> PathBuf {
        self.raw().path().join("ferry-apply")
    }

    /// Writes the tree of `to` into the folder, coming from `from` (the
    /// current branch tip), then moves the branch ref from `from` to `to`.
    pub fn apply(&self, from: Option<Oid>, to: Oid) -> Result<Applied, GitError> {
        if from == Some(to) {
            return Ok(Applied::Done {
                changes: Vec::new(),
            });
        }
        let record = format!(
            "{} {}\n",
            from.map(|o| o.to_string()).unwrap_or_default(),
            to
        );
        crate::config::write_atomically(&self.journal(), record.as_bytes())?;
        let outcome = self.apply_files(from, to)?;
        if matches!(outcome, Applied::Done { .. }) {
            self.move_branch(from, to)?;
        }
        let _ = std::fs::remove_file(self.journal());
        Ok(outcome)
    }

    /// Finishes an apply a crash interrupted: every file that still holds
    /// the old or already the new content is brought to the new one; a file
    /// the user changed meanwhile is left for the next snapshot.
    pub fn finish_interrupted_apply(&self) -> Result<Option<Applied>, GitError> {
        let Ok(record) = std::fs::read_to_string(self.journal()) else {
            return Ok(None);
        };
        let mut parts = record.split_whitespace();
        let (from, to) = match (parts.next(), parts.next()) {
            (Some(a), Some(b)) => (Oid::from_str(a).ok(), Oid::from_str(b)?),
            (Some(b), None) => (None, Oid::from_str(b)?),
            _ => {
                let _ = std::fs::remove_file(self.journal());
                return Ok(None);
            }
        };
        if self.head() != from {
            // The ref already moved (the crash came after): nothing to finish.
            let _ = std::fs::remove_file(self.journal());
            return Ok(None);
        }
        self.remove_stale_temp_files(from, to)?;
        let outcome = self.apply_files(from, to)?;
        if matches!(outcome, Applied::Done { .. }) {
            self.move_branch(from, to)?;
        }
        let _ = std::fs::remove_file(self.journal());
        Ok(Some(outcome))
    }

    /// Removes the temp files a killed apply left beside the files it was
    /// replacing (`.NAME.ferry-tmp-PID`); the files themselves are whole.
    fn remove_stale_temp_files(&self, from: Option<Oid>, to: Oid) -> Result<(), GitError> {
        let repo = self.raw();
        let old_tree = from
            .map(|f| self.tree_of(f))
            .transpose()?
            .map(|t| repo.find_tree(t))
            .transpose()?;
        let new_tree = repo.find_tree(self.tree_of(to)?)?;
        let diff = repo.diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)?;
        for delta in diff.deltas() {
            let Some(path) = delta.new_file().path().or_else(|| delta.old_file().path()) else {
                continue;
            };
            let disk = self.dir().join(path);
            let (Some(dir), Some(name)) = (disk.parent(), disk.file_name()) else {
                continue;
            };
            let prefix = format!(".{}.ferry-tmp-", name.to_string_lossy());
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    fn move_branch(&self, from: Option<Oid>, to: Oid) -> Result<(), GitError> {
        let name = format!("refs/heads/{}", self.branch());
        let repo = self.raw();
        match from {
            Some(old) => {
                repo.reference_matching(&name, to, true, old, "ferry: sync")?;
            }
            None => {
                repo.reference(&name, to, false, "ferry: sync")?;
            }
        }
        let current = repo
            .head()
            .ok()
            .and_then(|h| h.name().ok().map(str::to_string));
        if current.as_deref() != Some(name.as_str()) {
            repo.set_head(&name)?;
        }
        Ok(())
    }

    fn apply_files(&self, from: Option<Oid>, to: Oid) -> Result<Applied, GitError> {
        let repo = self.raw();
        let old_tree = from
            .map(|f| self.tree_of(f))
            .transpose()?
            .map(|t| repo.find_tree(t))
            .transpose()?;
        let new_tree = repo.find_tree(self.tree_of(to)?)?;
        let mut opts = DiffOptions::new();
        opts.include_typechange(true);
        let diff = repo.diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), Some(&mut opts))?;
        let mut index = repo.index()?;
        let mut changes = Vec::new();
        for delta in diff.deltas() {
            let old = delta.old_file();
            let new = delta.new_file();
            let path_str = new
                .path()
                .or_else(|| old.path())
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let disk = self.dir().join(&path_str);
            let old_id = (delta.status() != Delta::Added).then(|| old.id());
            let new_id = (delta.status() != Delta::Deleted).then(|| new.id());
            // Re-check the file right before touching it.
            let on_disk = disk_blob(&disk)?;
            // Old content (untouched since the snapshot) or already the new
            // content (the same edit, or an apply being finished): go ahead.
            if on_disk != old_id && on_disk != new_id {
                return Ok(Applied::Interrupted { path: path_str });
            }
            match delta.status() {
                Delta::Deleted => {
                    if disk.symlink_metadata().is_ok() {
                        std::fs::remove_file(&disk)?;
                        remove_empty_parents(&disk, self.dir());
                    }
                    index.remove_path(Path::new(&path_str))?;
                    changes.push(Change {
                        path: path_str,
                        kind: ChangeKind::Deleted,
                    });
                }
                _ => {
                    let blob = repo.find_blob(new.id())?;
                    let mode = new.mode();
                    if on_disk != new_id {
                        write_file(&disk, blob.content(), mode)?;
                    }
                    index.add_path(Path::new(&path_str)).or_else(|_| {
                        index.add(&index_entry(&path_str, new.id(), u32::from(mode)))
                    })?;
                    changes.push(Change {
                        path: path_str,
                        kind: if delta.status() == Delta::Added {
                            ChangeKind::Added
                        } else {
                            ChangeKind::Modified
                        },
                    });
                }
            }
        }
        index.write()?;
        Ok(Applied::Done { changes })
    }
}

/// The blob id of the file at `path` as it is on disk, or `None` if absent.
fn disk_blob(path: &Path) -> Result<Option<Oid>, GitError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let target = std::fs::read_link(path)?;
            Ok(Some(Oid::hash_object(
                ObjectType::Blob,
                target.to_string_lossy().as_bytes(),
            )?))
        }
        Ok(m) if m.is_file() => Ok(Some(Oid::hash_file(ObjectType::Blob, path)?)),
        Ok(_) => Ok(Some(Oid::ZERO_SHA1)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory,
/// fsync, mode, rename.
fn write_file(path: &Path, bytes: &[u8], mode: FileMode) -> Result<(), GitError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    if mode == FileMode::Link {
        let target = String::from_utf8_lossy(bytes).into_owned();
        let tmp = dir.join(format!(
            ".{}.ferry-tmp-{}",
            file_name(path),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &tmp)?;
        #[cfg(not(unix))]
        std::fs::write(&tmp, target.as_bytes())?;
        std::fs::rename(&tmp, path)?;
        return Ok(());
    }
    let tmp = dir.join(format!(
        ".{}.ferry-tmp-{}",
        file_name(path),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let bits = if mode == FileMode::BlobExecutable {
                0o755
            } else {
                0o644
            };
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(bits))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(result?)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn remove_empty_parents(path: &Path, root: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn conflict_copies_are_named_beside_the_file() {
        let when = Local.with_ymd_and_hms(2026, 11, 22, 14, 30, 0).unwrap();
        assert_eq!(
            conflict_copy_name("about.md", when, "laptop"),
            "about (conflict 2026-11-22 1430 laptop).md"
        );
        assert_eq!(
            conflict_copy_name("content/news.md", when, "laptop"),
            "content/news (conflict 2026-11-22 1430 laptop).md"
        );
        assert_eq!(
            conflict_copy_name("README", when, "pc"),
            "README (conflict 2026-11-22 1430 pc)"
        );
        assert_eq!(
            conflict_copy_name(".env", when, "pc"),
            ".env (conflict 2026-11-22 1430 pc)"
        );
        assert_eq!(
            conflict_copy_name("a/archive.tar.gz", when, "pc/x"),
            "a/archive.tar (conflict 2026-11-22 1430 pc-x).gz"
        );
    }
}
