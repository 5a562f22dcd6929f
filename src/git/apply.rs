//! Bringing the folder to a commit's tree — the first checkout and every
//! change from GitLab — through the one [folder writer](super::writer).
//!
//! The index is Ferry's record of what is on disk: every entry says which
//! content Ferry last saw (or wrote) at a path, with the file's status. An
//! apply plans the steps from the index to the target tree, checks every
//! file the plan touches *before* writing anything (a file changed since
//! the last snapshot stops the apply, so it is committed first and merged),
//! then deletes (deepest first) and writes, each file checked again at its
//! swap. The index is updated from what was written, and the branch ref
//! moves last with a compare-and-swap.
//!
//! A journal (`.git/ferry-apply`) names the target while an apply runs.
//! After a crash, recovery reconciles the index with the disk: a file that
//! holds the target's content was written by Ferry and is recorded as
//! such — never committed as the user's edit — and anything else is left
//! for the next snapshot. Recovery never blocks a cycle.
//!
//! Paths the folder can't hold (a name git refuses, one the file system
//! refuses, a local ignored file in the way, a case collision) are skipped
//! and reported as [`Note`]s; they stay in the index (marked
//! skip-worktree) and the tree, so nothing deletes them on GitLab.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use git2::{IndexEntry, IndexTime, ObjectType, Oid};
use serde::{Deserialize, Serialize};

use super::snapshot::{Change, ChangeKind};
use super::writer::{
    Capabilities, Content, Durability, FolderWriter, Found, Kind, Old, Removed, Stat, TreePath,
    WriteError, Written,
};
use super::{GitError, Repo};

/// A tree or index path as a file system path (bytes kept as they are:
/// names that aren't UTF-8 reach git unchanged).
pub(crate) fn bytes_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

/// Files larger than this stream into the object store (when no filter applies).
const STREAM_ABOVE: u64 = 32 << 20;

/// Regular file.
pub(crate) const MODE_FILE: u32 = 0o100644;
/// Executable file.
pub(crate) const MODE_EXEC: u32 = 0o100755;
/// Symbolic link.
pub(crate) const MODE_LINK: u32 = 0o120000;
/// Submodule (a commit of another repository).
pub(crate) const MODE_GITLINK: u32 = 0o160000;
/// The index's skip-worktree flag (in `flags_extended`).
pub(crate) const SKIP_WORKTREE: u16 = 1 << 14;

/// Something the user should know about one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Note {
    /// The path inside the folder, as in the tree.
    pub path: String,
    /// What it is about.
    pub kind: NoteKind,
    /// One sentence for a content editor.
    pub message: String,
}

/// The kinds of [`Note`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// A name from GitLab that git's own checks refuse: never written.
    UnsafeName,
    /// A name this computer's file system refused.
    NotHoldable,
    /// Something the folder keeps (ignored by git) is where GitLab's file goes.
    Occupied,
    /// Two names from GitLab differ only in case, and this disk ignores case.
    CaseCollision,
    /// A submodule: another repository's commit, never written.
    Submodule,
    /// A folder inside the synced folder that is its own git repository:
    /// left out of what Ferry sends.
    NestedRepository,
    /// A file in the folder Ferry can't read (permissions): not sent.
    Unreadable,
}

impl NoteKind {
    /// True when files from GitLab are missing from the folder because of it.
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            Self::UnsafeName
                | Self::NotHoldable
                | Self::Occupied
                | Self::CaseCollision
                | Self::Unreadable
        )
    }
}

impl Note {
    pub(crate) fn new(path: &[u8], kind: NoteKind, detail: &str) -> Note {
        let shown = String::from_utf8_lossy(path).into_owned();
        let message = match kind {
            NoteKind::UnsafeName => format!(
                "{shown} from GitLab was not saved: its name isn't safe ({detail}). Ask whoever added it to rename or remove it."
            ),
            NoteKind::NotHoldable => format!(
                "{shown} from GitLab can't be saved on this computer ({detail}). Ask whoever added it to rename it."
            ),
            NoteKind::Occupied => format!(
                "{shown} from GitLab was not saved: your folder keeps something else at that place ({detail}). Move it away to receive GitLab's version."
            ),
            NoteKind::CaseCollision => format!(
                "{shown} from GitLab was not saved: another file has the same name apart from upper/lower case, and this disk can't hold both. Ask whoever added it to rename one."
            ),
            NoteKind::Submodule => format!(
                "{shown} is a link to another repository (a submodule); Ferry doesn't download it."
            ),
            NoteKind::NestedRepository => format!(
                "{shown} is a separate git repository inside the folder; Ferry leaves it out of what it sends."
            ),
            NoteKind::Unreadable => format!(
                "Ferry can't read {shown} in your folder ({detail}), so it isn't sent to GitLab. Check its permissions; other files keep syncing."
            ),
        };
        Note {
            path: shown,
            kind,
            message,
        }
    }
}

/// What applying a tree to the folder did.
#[derive(Debug, Clone, Serialize)]
pub enum Applied {
    /// The folder holds the target tree (apart from skipped paths); the ref moved.
    Done {
        /// Files written or removed.
        changes: Vec<Change>,
        /// Local versions kept beside a file because they changed while it
        /// was being replaced.
        conflict_copies: Vec<String>,
    },
    /// A file the apply would touch changed since the last snapshot: nothing
    /// was written; commit it first and integrate again.
    Interrupted {
        /// The file that changed.
        path: String,
    },
    /// The change from GitLab deletes an unusual share of the files: asks first.
    MassDelete {
        /// Files it deletes.
        deleted: usize,
        /// Files tracked now.
        tracked: usize,
        /// Names this deletion set, for the user's approval.
        fingerprint: String,
    },
}

/// How an apply treats what it finds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApplyOptions {
    /// Stop before writing anything when a file in the plan changed.
    pub interruptible: bool,
    /// Leave existing files that differ from GitLab's in place, to be
    /// uploaded as the user's (adding a folder with files to a project).
    pub keep_existing: bool,
    /// Per-file or end-of-apply syncing.
    pub durability: Durability,
    /// Ask before deleting an unusual share of the files.
    pub guard_deletions: bool,
    /// The first checkout of a new clone: files are created in place, and
    /// a file that holds a prefix of its content is this checkout's own
    /// write cut short by a crash (finished, not kept).
    pub first_checkout: bool,
}

/// One entry of a tree, flattened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TreeItem {
    pub id: Oid,
    pub mode: u32,
}

/// One entry of the index (stage 0).
#[derive(Debug, Clone)]
pub(crate) struct IndexItem {
    pub id: Oid,
    pub mode: u32,
    pub stat: Stat,
    pub skip: bool,
}

/// Every blob, link and submodule of `tree`, by path.
pub(crate) fn flatten_tree(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
) -> Result<BTreeMap<Vec<u8>, TreeItem>, GitError> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<(Vec<u8>, Oid)> = vec![(Vec::new(), tree.id())];
    while let Some((prefix, id)) = stack.pop() {
        let t = repo.find_tree(id)?;
        for e in t.iter() {
            let mut path = prefix.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(e.name_bytes());
            let mode = e.filemode() as u32;
            if mode == 0o040000 {
                stack.push((path, e.id()));
            } else {
                out.insert(
                    path,
                    TreeItem {
                        id: e.id(),
                        mode: normal_mode(mode),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Git's file modes, with the group-writable variant of old repositories folded.
fn normal_mode(mode: u32) -> u32 {
    match mode {
        0o100664 => MODE_FILE,
        m => m,
    }
}

pub(crate) fn index_items(index: &git2::Index) -> BTreeMap<Vec<u8>, IndexItem> {
    index
        .iter()
        .filter(|e| (e.flags >> 12) & 0x3 == 0)
        .map(|e| {
            (
                e.path.clone(),
                IndexItem {
                    id: e.id,
                    mode: e.mode,
                    stat: Stat {
                        dev: u64::from(e.dev),
                        ino: u64::from(e.ino),
                        mode: e.mode,
                        uid: e.uid,
                        gid: e.gid,
                        size: u64::from(e.file_size),
                        mtime: (i64::from(e.mtime.seconds()), e.mtime.nanoseconds()),
                        ctime: (i64::from(e.ctime.seconds()), e.ctime.nanoseconds()),
                    },
                    skip: e.flags_extended & SKIP_WORKTREE != 0,
                },
            )
        })
        .collect()
}

/// An index entry for `path` with `stat` (zero: "look at the file").
pub(crate) fn entry(
    path: &[u8],
    id: Oid,
    mode: u32,
    stat: Option<&Stat>,
    skip: bool,
) -> IndexEntry {
    let s = stat.copied().unwrap_or_default();
    IndexEntry {
        ctime: IndexTime::new(s.ctime.0 as i32, s.ctime.1),
        mtime: IndexTime::new(s.mtime.0 as i32, s.mtime.1),
        dev: s.dev as u32,
        ino: s.ino as u32,
        mode,
        uid: s.uid,
        gid: s.gid,
        file_size: s.size as u32,
        id,
        flags: (path.len().min(0xfff)) as u16,
        flags_extended: if skip { SKIP_WORKTREE } else { 0 },
        path: path.to_vec(),
    }
}

/// True when the index's record of a file still describes `st` (as git's
/// stat check: inode, size, times; never trusted for racily clean entries).
/// A chmod changes the ctime, so the executable bit is covered too.
pub(crate) fn stat_matches(recorded: &Stat, st: &Stat, index_mtime: Option<(i64, u32)>) -> bool {
    if recorded.mtime == (0, 0) {
        return false;
    }
    if let Some(written) = index_mtime {
        if recorded.mtime >= written {
            return false;
        }
    }
    recorded.ino as u32 == st.ino as u32
        && recorded.size as u32 == st.size as u32
        && recorded.mtime == st.mtime
        && recorded.ctime == st.ctime
}

/// [`stat_matches`] for an entry that was just renamed (a rename changes
/// the ctime): the same inode, size, mtime and executable bit.
pub(crate) fn stat_matches_moved(
    recorded: &Stat,
    st: &Stat,
    index_mtime: Option<(i64, u32)>,
) -> bool {
    if recorded.mtime == (0, 0) {
        return false;
    }
    if let Some(written) = index_mtime {
        if recorded.mtime >= written {
            return false;
        }
    }
    recorded.ino as u32 == st.ino as u32
        && recorded.size as u32 == st.size as u32
        && recorded.mtime == st.mtime
}

/// What the index's last write time is (for the racy-clean check).
pub(crate) fn index_mtime(repo: &git2::Repository) -> Option<(i64, u32)> {
    let m = std::fs::metadata(repo.path().join("index")).ok()?;
    let t = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some((t.as_secs() as i64, t.subsec_nanos()))
}

/// One step of an apply.
#[derive(Debug, Clone)]
struct Step {
    path: Vec<u8>,
    old: Option<IndexItem>,
    new: Option<TreeItem>,
}

impl Repo {
    pub(crate) fn journal(&self) -> std::path::PathBuf {
        self.raw().path().join("ferry-apply")
    }

    /// The folder's writer, with what its file system can hold (as git
    /// found when the repository was made).
    pub(crate) fn writer(&self, durability: Durability) -> Result<FolderWriter, GitError> {
        let config = self.raw().config()?;
        let caps = Capabilities {
            case_insensitive: config.get_bool("core.ignorecase").unwrap_or(false),
            symlinks: config.get_bool("core.symlinks").unwrap_or(true),
            exec_bit: config.get_bool("core.filemode").unwrap_or(true),
        };
        FolderWriter::open(self.dir(), caps, durability).map_err(write_error)
    }

    /// The line endings `path` is checked out with now (no conversion
    /// unless attributes are in use).
    pub(crate) fn checkout_rule(&self, path: &[u8]) -> Option<super::eol::Crlf> {
        if self.filters_in_use() {
            super::eol::checkout_crlf(self.raw(), path)
        } else {
            None
        }
    }

    /// True when the `size` bytes of `reader` are the blob `id` as it is
    /// checked out (`rule`: the line endings it was written with), or the
    /// blob's own bytes. Nothing is stored: a 10 GB file needs no free space
    /// to be recognised.
    fn disk_is(
        &self,
        reader: &mut dyn Read,
        size: u64,
        id: Oid,
        rule: Option<super::eol::Crlf>,
    ) -> bool {
        let Some(crlf) = rule else {
            return super::pack::blob_id_of(reader, size).is_ok_and(|got| got == id);
        };
        // Converted text files are small enough to compare in memory.
        let mut bytes = Vec::new();
        if reader.read_to_end(&mut bytes).is_err() || bytes.len() as u64 != size {
            return false;
        }
        let Ok(blob) = self.raw().find_blob(id) else {
            return false;
        };
        bytes == super::eol::smudge(blob.content(), crlf) || bytes == blob.content()
    }

    /// Stores the content of `reader` (of `size` bytes, when known) as a
    /// blob, with git's clean filters for `path` when attributes are in use
    /// (line endings as `.gitattributes` says). Without filters, a large
    /// file streams into the object store.
    pub(crate) fn blob_from_reader(
        &self,
        path: &[u8],
        reader: &mut dyn Read,
        size: Option<u64>,
    ) -> Result<Oid, GitError> {
        if self.filters_in_use() {
            let mut w = self.raw().blob_writer(Some(bytes_path(path)))?;
            std::io::copy(reader, &mut w)?;
            return Ok(w.commit()?);
        }
        match size {
            Some(size) if size > STREAM_ABOVE => {
                let odb = self.raw().odb()?;
                let mut w = odb.writer(size as usize, ObjectType::Blob)?;
                let copied = std::io::copy(reader, &mut w)?;
                if copied != size {
                    return Err(GitError::Other(format!(
                        "{} changed while it was read",
                        String::from_utf8_lossy(path)
                    )));
                }
                Ok(w.finalize()?)
            }
            _ => {
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes)?;
                Ok(self.raw().blob(&bytes)?)
            }
        }
    }

    /// Whether `.gitattributes` (or another attributes file) can ask for
    /// filters in this folder; decided at the start of each apply and
    /// snapshot from the paths they will see.
    pub(crate) fn decide_filters<'p>(&self, paths: impl IntoIterator<Item = &'p [u8]>) {
        let named = paths
            .into_iter()
            .any(|p| p == b".gitattributes" || p.ends_with(b"/.gitattributes"));
        let config = self.raw().config().ok();
        let global_file = config
            .as_ref()
            .and_then(|c| c.get_path("core.attributesFile").ok())
            .or_else(|| {
                std::env::var_os("XDG_CONFIG_HOME")
                    .map(std::path::PathBuf::from)
                    .or_else(|| dirs::home_dir().map(|h| h.join(".config")))
                    .map(|c| c.join("git/attributes"))
            })
            .is_some_and(|f| f.exists());
        let info = self.raw().path().join("info/attributes").exists();
        self.set_filters(named || global_file || info);
    }

    /// True when `old`'s bytes are some version git already has (so a
    /// temp file holding them can go: nothing is lost).
    fn is_known_content(&self, old: &Old<'_>) -> bool {
        let Some(st) = old.stat else {
            return true;
        };
        let id = match st.kind() {
            Kind::Symlink => old
                .link_target()
                .ok()
                .and_then(|t| Oid::hash_object(ObjectType::Blob, &t).ok()),
            Kind::File => old
                .open()
                .ok()
                .and_then(|mut f| super::pack::blob_id_of(&mut f, st.size).ok()),
            _ => None,
        };
        let Ok(odb) = self.raw().odb() else {
            return false;
        };
        id.is_some_and(|id| odb.exists(id)) || (st.kind() == Kind::File && st.size == 0)
    }

    /// True when what `old` shows is the index's record `item` (or, for a
    /// file that was absent from the index, nothing at all).
    fn recognises(
        &self,
        item: Option<&IndexItem>,
        old: &Old<'_>,
        racy: Option<(i64, u32)>,
        rule: Option<super::eol::Crlf>,
    ) -> bool {
        match (item, old.stat) {
            (None, None) => true,
            (Some(_), None) | (None, Some(_)) => false,
            (Some(item), Some(st)) => {
                if item.mode == MODE_GITLINK {
                    return false;
                }
                let kind_ok = match st.kind() {
                    Kind::File => item.mode != MODE_LINK || !self.symlinks_supported(),
                    Kind::Symlink => item.mode == MODE_LINK,
                    _ => false,
                };
                if !kind_ok {
                    return false;
                }
                // The entry was just moved aside or swapped out, which
                // changes its ctime: inode, size and mtime say it's the same.
                if stat_matches_moved(&item.stat, &st, racy) {
                    return true;
                }
                match st.kind() {
                    Kind::Symlink => {
                        old.link_target()
                            .ok()
                            .and_then(|t| Oid::hash_object(ObjectType::Blob, &t).ok())
                            == Some(item.id)
                    }
                    _ => old
                        .open()
                        .is_ok_and(|mut f| self.disk_is(&mut f, st.size, item.id, rule)),
                }
            }
        }
    }

    fn symlinks_supported(&self) -> bool {
        self.raw()
            .config()
            .and_then(|c| c.get_bool("core.symlinks"))
            .unwrap_or(true)
    }

    /// Brings the folder to the tree of `target` and moves the branch to it
    /// (from `from`, compare-and-swap). `copy_name` names conflict copies.
    pub(crate) fn apply_commit(
        &self,
        from: Option<Oid>,
        target: Oid,
        options: ApplyOptions,
        copy_name: &dyn Fn(&[u8], u32) -> Vec<u8>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Applied, GitError> {
        let started = std::time::Instant::now();
        let repo = self.raw();
        let tree = repo.find_commit(target)?.tree()?;
        let wanted = flatten_tree(repo, &tree)?;
        let mut index = repo.index()?;
        index.read(true)?;
        let have = index_items(&index);
        self.decide_filters(have.keys().chain(wanted.keys()).map(Vec::as_slice));
        let racy = index_mtime(repo);
        let writer = self.writer(options.durability)?;
        let caps = writer.capabilities();

        // The plan: every path whose index record differs from the target.
        let mut steps = Vec::new();
        let paths: BTreeSet<&Vec<u8>> = have.keys().chain(wanted.keys()).collect();
        for path in paths {
            let old = have.get(path);
            let new = wanted.get(path);
            let same = match (old, new) {
                (Some(o), Some(n)) => o.id == n.id && o.mode == n.mode && !o.skip,
                (None, None) => true,
                _ => false,
            };
            if !same {
                steps.push(Step {
                    path: path.clone(),
                    old: old.cloned(),
                    new: new.copied(),
                });
            }
        }

        // Paths that can't exist side by side on this disk.
        let mut collisions = HashSet::new();
        if caps.case_insensitive {
            let fold = |p: &[u8]| String::from_utf8_lossy(p).to_lowercase();
            let mut seen: HashMap<String, &Vec<u8>> = HashMap::new();
            for path in wanted.keys() {
                if seen.insert(fold(path), path).is_some() {
                    collisions.insert(path.clone());
                }
            }
            // A file whose folder is another file's name in another case
            // (`A` and `a/x`): on this disk both are the same entry.
            for path in wanted.keys() {
                let tp = TreePath::new(path, false);
                let clash = tp.is_ok_and(|tp| {
                    tp.ancestors()
                        .iter()
                        .any(|dir| seen.contains_key(&fold(dir)) && !wanted.contains_key(*dir))
                });
                if clash {
                    collisions.insert(path.clone());
                }
            }
        }

        // An unusual share of deletions from GitLab asks first.
        if options.guard_deletions {
            let added: HashSet<Oid> = steps
                .iter()
                .filter(|s| s.old.is_none())
                .filter_map(|s| s.new.map(|n| n.id))
                .collect();
            let deleted = steps
                .iter()
                .filter(|s| {
                    s.new.is_none() && s.old.as_ref().is_some_and(|o| !added.contains(&o.id))
                })
                .count();
            let tracked = have.len();
            if super::snapshot::unusual_deletion(deleted, tracked) {
                // Names exactly this set of deletions (a local save meanwhile
                // doesn't change it; another deletion does).
                let mut hasher = sha2::Sha256::default();
                for s in steps.iter().filter(|s| s.new.is_none()) {
                    sha2::Digest::update(&mut hasher, &s.path);
                    sha2::Digest::update(&mut hasher, b"\0");
                }
                let digest = sha2::Digest::finalize(hasher);
                let fingerprint = format!(
                    "in:{}",
                    digest
                        .iter()
                        .take(12)
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                );
                if !self.deletion_allowed(&fingerprint) {
                    self.set_pending_deletion(Some(&super::snapshot::PendingDeletion {
                        deleted,
                        tracked,
                        incoming: true,
                        fingerprint: fingerprint.clone(),
                    }))?;
                    return Ok(Applied::MassDelete {
                        deleted,
                        tracked,
                        fingerprint,
                    });
                }
            }
        }

        // Check every file the plan touches before writing any.
        if options.interruptible {
            // On a disk that ignores case, a file being renamed only in case
            // is found under its new name too.
            let going: HashSet<String> = if caps.case_insensitive {
                steps
                    .iter()
                    .filter(|s| {
                        s.new.is_none()
                            || s.old.as_ref().is_some_and(|o| {
                                s.new.is_some_and(|n| kind_of(o.mode) != kind_of(n.mode))
                            })
                    })
                    .map(|s| String::from_utf8_lossy(&s.path).to_lowercase())
                    .collect()
            } else {
                HashSet::new()
            };
            for step in &steps {
                let Ok(path) = TreePath::new(&step.path, false) else {
                    continue;
                };
                if collisions.contains(&step.path)
                    || step
                        .old
                        .as_ref()
                        .is_some_and(|o| o.skip || o.mode == MODE_GITLINK)
                {
                    continue;
                }
                let found = match writer.lookup(&path) {
                    Ok(found) => found,
                    // A path this disk can't hold is skipped (and noted) below.
                    Err(e) if e.is_path_problem() => continue,
                    Err(e) => return Err(write_error(e)),
                };
                let unchanged = match (&step.old, found) {
                    (None, Found::Absent | Found::Blocked) => true,
                    (None, Found::Entry(_)) => {
                        // Something is where GitLab's new file goes: ignored
                        // (kept, reported), about to go (a case-only rename),
                        // or not yet committed (stop).
                        options.keep_existing
                            || self.is_ignored(&step.path)
                            || going.contains(&String::from_utf8_lossy(&step.path).to_lowercase())
                    }
                    // Deleted here too, or deleted here while GitLab changed
                    // it: GitLab's version comes back (modify beats delete).
                    (Some(_), Found::Absent | Found::Blocked) => true,
                    (Some(item), Found::Entry(st)) => {
                        st.kind() != Kind::Dir
                            && writer_recognises(self, &writer, &path, item, &st, racy)
                    }
                };
                if !unchanged {
                    return Ok(Applied::Interrupted {
                        path: path.display(),
                    });
                }
            }
        }

        // How each file about to be replaced was checked out, decided before
        // anything (a new .gitattributes, say) is written.
        let old_rules: HashMap<Vec<u8>, Option<super::eol::Crlf>> = if self.filters_in_use() {
            steps
                .iter()
                .filter(|s| {
                    s.old
                        .as_ref()
                        .is_some_and(|o| o.mode == MODE_FILE || o.mode == MODE_EXEC)
                })
                .map(|s| (s.path.clone(), self.checkout_rule(&s.path)))
                .collect()
        } else {
            HashMap::new()
        };

        // The journal names the target before the first write.
        if !steps.is_empty() {
            self.sync_git_dir()?;
            crate::config::write_atomically(
                &self.journal(),
                format!(
                    "{} {} {}\n",
                    target,
                    from.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
                    if options.first_checkout {
                        "checkout"
                    } else {
                        "update"
                    }
                )
                .as_bytes(),
            )?;
        }

        let total = steps.len();
        let mut done = 0usize;
        let mut acc = Accumulated::default();
        // First-checkout writes left for the parallel pass.
        let parallel = options.first_checkout && steps.len() >= PARALLEL_FROM;
        let mut deferred: Vec<(Vec<u8>, TreePath, TreeItem, bool)> = Vec::new();
        let mut removed_paths = Vec::new();
        let mut folder_error = None;

        // Deletions and type changes first, deepest first, so that a folder
        // replaced by a file (or a case-only rename) has room.
        let mut order: Vec<&Step> = steps.iter().collect();
        order.sort_by(|a, b| {
            let a_del = a.new.is_none();
            let b_del = b.new.is_none();
            b_del.cmp(&a_del).then_with(|| {
                if a_del {
                    b.path.cmp(&a.path)
                } else {
                    a.path.cmp(&b.path)
                }
            })
        });
        let mut type_changed: Vec<&Step> = Vec::new();
        for step in &order {
            if let (Some(old), Some(new)) = (&step.old, &step.new) {
                if kind_of(old.mode) != kind_of(new.mode) {
                    type_changed.push(step);
                }
            }
        }

        let write_index = |index: &mut git2::Index, e: IndexEntry| -> Result<(), GitError> {
            index.add(&e).map_err(GitError::from)
        };

        // 1. Removals (and the old side of type changes).
        for step in order
            .iter()
            .filter(|s| s.new.is_none())
            .chain(type_changed.iter())
        {
            let Some(old) = &step.old else { continue };
            if old.mode == MODE_GITLINK || old.skip {
                if step.new.is_none() {
                    remove_entry(&mut index, &step.path);
                }
                continue;
            }
            let Ok(path) = TreePath::new(&step.path, old.mode == MODE_LINK) else {
                remove_entry(&mut index, &step.path);
                continue;
            };
            let rule = old_rules.get(&step.path).copied().flatten();
            let expect = |o: &Old<'_>| self.recognises(Some(old), o, racy, rule);
            let name_copy = |n: u32| copy_name(&step.path, n);
            match writer.remove(&path, &expect, &name_copy) {
                Ok(Removed::Done) | Ok(Removed::Absent) => {
                    remove_entry(&mut index, &step.path);
                    removed_paths.push(path.clone());
                    if step.new.is_none() {
                        acc.changes.push(Change {
                            path: path.display(),
                            kind: ChangeKind::Deleted,
                        });
                    }
                }
                Ok(Removed::KeptLocal { copy }) => {
                    // Modify beats delete: the changed file stays (and is
                    // sent back by the next snapshot).
                    remove_entry(&mut index, &step.path);
                    if let Some(c) = copy {
                        acc.copies.push(String::from_utf8_lossy(&c).into_owned());
                    }
                }
                Err(e) if e.is_path_problem() => {
                    acc.notes.push(note_for(&step.path, &e));
                }
                Err(WriteError::Folder(e)) => {
                    folder_error = Some(e);
                    break;
                }
                Err(_) => unreachable!("path problems are handled above"),
            }
            done += 1;
            progress(done, total);
            crate::crash_point!("apply-file-written");
        }
        writer.remove_empty_dirs(removed_paths.iter());

        // 2. Writes, parents before children.
        if folder_error.is_none() {
            for step in order.iter().filter(|s| s.new.is_some()) {
                let new = step.new.expect("filtered");
                let record_skip = |index: &mut git2::Index| {
                    let _ = write_index(index, entry(&step.path, new.id, new.mode, None, true));
                };
                if new.mode == MODE_GITLINK {
                    // Never written (a file it replaces went with the removals).
                    let _ =
                        write_index(&mut index, entry(&step.path, new.id, new.mode, None, false));
                    acc.notes
                        .push(Note::new(&step.path, NoteKind::Submodule, ""));
                    done += 1;
                    progress(done, total);
                    crate::crash_point!("apply-file-written");
                    continue;
                }
                let path = match TreePath::new(&step.path, new.mode == MODE_LINK) {
                    Ok(p) => p,
                    Err(why) => {
                        // Never written; kept in the index where git can hold it.
                        record_skip(&mut index);
                        acc.notes
                            .push(Note::new(&step.path, NoteKind::UnsafeName, &why.reason));
                        done += 1;
                        progress(done, total);
                        crate::crash_point!("apply-file-written");
                        continue;
                    }
                };
                if collisions.contains(&step.path) {
                    record_skip(&mut index);
                    acc.notes
                        .push(Note::new(&step.path, NoteKind::CaseCollision, ""));
                    done += 1;
                    progress(done, total);
                    crate::crash_point!("apply-file-written");
                    continue;
                }
                let old_item = step.old.as_ref().filter(|o| {
                    !o.skip && kind_of(o.mode) == kind_of(new.mode) && o.mode != MODE_GITLINK
                });
                // Only the executable bit changed: no content to write.
                if let Some(o) = old_item {
                    if o.id == new.id && o.mode != new.mode {
                        let rule = old_rules.get(&step.path).copied().flatten();
                        let expect = |x: &Old<'_>| self.recognises(Some(o), x, racy, rule);
                        match writer.set_executable(&path, new.mode == MODE_EXEC, &expect) {
                            Ok(Some(st)) => {
                                write_index(
                                    &mut index,
                                    entry(&step.path, new.id, new.mode, Some(&st), false),
                                )?;
                                acc.changes.push(Change {
                                    path: path.display(),
                                    kind: ChangeKind::Modified,
                                });
                            }
                            Ok(None) => {
                                // Changed meanwhile: the next snapshot sends the user's.
                                write_index(
                                    &mut index,
                                    entry(&step.path, new.id, new.mode, None, false),
                                )?;
                            }
                            Err(e) if e.is_path_problem() => {
                                acc.notes.push(note_for(&step.path, &e))
                            }
                            Err(WriteError::Folder(e)) => {
                                folder_error = Some(e);
                                break;
                            }
                            Err(_) => unreachable!("path problems are handled above"),
                        }
                        done += 1;
                        progress(done, total);
                        crate::crash_point!("apply-file-written");
                        continue;
                    }
                }
                // An existing file where GitLab adds one (a first checkout
                // finds out at the exclusive create instead).
                if old_item.is_none() && !options.first_checkout {
                    if let Ok(Found::Entry(st)) = writer.lookup(&path) {
                        let same =
                            st.kind() != Kind::Dir && self.content_is(&writer, &path, &st, new);
                        if same {
                            write_index(
                                &mut index,
                                entry(&step.path, new.id, new.mode, Some(&st), false),
                            )?;
                            done += 1;
                            progress(done, total);
                            crate::crash_point!("apply-file-written");
                            continue;
                        }
                        if options.keep_existing && st.kind() != Kind::Dir {
                            // The user's file stays, to be sent as their change.
                            write_index(
                                &mut index,
                                entry(&step.path, new.id, new.mode, None, false),
                            )?;
                            done += 1;
                            progress(done, total);
                            crate::crash_point!("apply-file-written");
                            continue;
                        }
                        if self.is_ignored(&step.path) || st.kind() == Kind::Dir {
                            record_skip(&mut index);
                            acc.notes.push(Note::new(
                                &step.path,
                                NoteKind::Occupied,
                                if st.kind() == Kind::Dir {
                                    "a folder"
                                } else {
                                    "an ignored file"
                                },
                            ));
                            done += 1;
                            progress(done, total);
                            crate::crash_point!("apply-file-written");
                            continue;
                        }
                    }
                }
                let first = options.first_checkout && old_item.is_none();
                if first && parallel {
                    deferred.push((step.path.clone(), path, new, step.old.is_some()));
                    continue;
                }
                let result = self.write_blob(
                    &writer,
                    &path,
                    new,
                    first,
                    |o: &Old<'_>| {
                        if first {
                            self.holds_part_of(&step.path, o, new)
                        } else {
                            self.recognises(
                                old_item,
                                o,
                                racy,
                                old_rules.get(&step.path).copied().flatten(),
                            )
                        }
                    },
                    &|n| copy_name(&step.path, n),
                );
                let stop = record_write(
                    &mut index,
                    &mut acc,
                    &step.path,
                    &path,
                    new,
                    step.old.is_some(),
                    result,
                )?;
                done += 1;
                progress(done, total);
                crate::crash_point!("apply-file-written");
                if let Some(e) = stop {
                    folder_error = Some(e);
                    break;
                }
            }
        }

        // A first checkout writes its files on every core.
        if folder_error.is_none() && !deferred.is_empty() {
            let workers = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 4);
            let repos = (0..workers)
                .map(|_| git2::Repository::open(repo.path()))
                .collect::<Result<Vec<_>, _>>()?;
            let filters = self.filters_in_use();
            let next = std::sync::atomic::AtomicUsize::new(0);
            let stop = std::sync::atomic::AtomicBool::new(false);
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::scope(|scope| -> Result<(), GitError> {
                for worker_repo in repos {
                    let tx = tx.clone();
                    let (deferred, next, stop, writer) = (&deferred, &next, &stop, &writer);
                    scope.spawn(move || loop {
                        use std::sync::atomic::Ordering::Relaxed;
                        let start = next.fetch_add(PARALLEL_CHUNK, Relaxed);
                        if start >= deferred.len() || stop.load(Relaxed) {
                            return;
                        }
                        for (i, (raw, path, new, _)) in
                            deferred.iter().enumerate().skip(start).take(PARALLEL_CHUNK)
                        {
                            let result = write_blob_from(
                                &worker_repo,
                                filters,
                                writer,
                                path,
                                *new,
                                true,
                                &|o| holds_part_of(&worker_repo, filters, raw, o, *new),
                                &|n| super::local_copy_name(raw, n),
                            );
                            if tx.send((i, result)).is_err() {
                                return;
                            }
                        }
                    });
                }
                drop(tx);
                for (i, result) in rx {
                    let (raw, path, new, had_old) = &deferred[i];
                    let failed =
                        record_write(&mut index, &mut acc, raw, path, *new, *had_old, result);
                    done += 1;
                    progress(done, total);
                    crate::crash_point!("apply-file-written");
                    match failed {
                        Ok(None) => {}
                        Ok(Some(e)) => {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                            folder_error.get_or_insert(e);
                        }
                        Err(e) => {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                }
                Ok(())
            })?;
        }
        let Accumulated {
            changes,
            copies,
            notes,
        } = acc;

        // Record what is on disk, durably, before the ref moves.
        let written = started.elapsed();
        writer.sync().map_err(write_error)?;
        let synced = started.elapsed();
        index.write()?;
        tracing::debug!(
            steps = total,
            write_ms = written.as_millis() as u64,
            sync_ms = (synced - written).as_millis() as u64,
            index_ms = (started.elapsed() - synced).as_millis() as u64,
            "applied"
        );
        self.save_notes(&notes, &wanted, &index)?;
        if let Some(e) = folder_error {
            // The journal stays: recovery records what was written. The
            // folder keeps committing locally meanwhile.
            return Err(GitError::from(e));
        }
        self.move_branch(from, target)?;
        let _ = std::fs::remove_file(self.journal());
        if options.guard_deletions {
            if let Some(p) = self.pending_deletion().filter(|p| p.incoming) {
                if self.deletion_allowed(&p.fingerprint) {
                    self.set_pending_deletion(None)?;
                    let _ = std::fs::remove_file(self.raw().path().join("ferry-allowed-deletion"));
                }
            }
        }
        Ok(Applied::Done {
            changes,
            conflict_copies: copies,
        })
    }

    /// True when `old` is nothing, or the blob `new` (as written here) or
    /// a part of its start: what a first checkout cut short left.
    fn holds_part_of(&self, path: &[u8], old: &Old<'_>, new: TreeItem) -> bool {
        holds_part_of(self.raw(), self.filters_in_use(), path, old, new)
    }

    /// True when the entry `st` at `path` already holds `new`.
    fn content_is(&self, writer: &FolderWriter, path: &TreePath, st: &Stat, new: TreeItem) -> bool {
        match (st.kind(), new.mode) {
            (Kind::Symlink, MODE_LINK) => {
                writer
                    .link_target(path)
                    .ok()
                    .flatten()
                    .and_then(|t| Oid::hash_object(ObjectType::Blob, &t).ok())
                    == Some(new.id)
            }
            (Kind::File, MODE_FILE | MODE_EXEC | MODE_LINK) => {
                let Ok(Some((mut f, st))) = writer.open_file(path) else {
                    return false;
                };
                self.disk_is(&mut f, st.size, new.id, self.checkout_rule(path.as_bytes()))
            }
            _ => false,
        }
    }

    /// Writes the blob `new` at `path` (line endings as `.gitattributes` says).
    fn write_blob(
        &self,
        writer: &FolderWriter,
        path: &TreePath,
        new: TreeItem,
        create: bool,
        expect: impl Fn(&Old<'_>) -> bool,
        copy_name: &dyn Fn(u32) -> Vec<u8>,
    ) -> Result<Result<Written, WriteError>, GitError> {
        write_blob_from(
            self.raw(),
            self.filters_in_use(),
            writer,
            path,
            new,
            create,
            &expect,
            copy_name,
        )
    }

    /// True when `path` is ignored by `.gitignore` or Ferry's excludes.
    pub(crate) fn is_ignored(&self, path: &[u8]) -> bool {
        let p = String::from_utf8_lossy(path).into_owned();
        self.raw()
            .status_should_ignore(Path::new(&p))
            .unwrap_or(false)
    }

    /// After a crash: files holding the journal's target content were
    /// written by Ferry, so the index records them (they are never
    /// committed as the user's edits); stale temp files go. Never fails a
    /// cycle: a journal that can't be used is dropped.
    pub(crate) fn reconcile_interrupted_apply(&self) -> Result<Option<usize>, GitError> {
        let Ok(record) = std::fs::read_to_string(self.journal()) else {
            return Ok(None);
        };
        if record.split_whitespace().nth(3) == Some("recorded") {
            // Reconciled already; the journal stays as the record of what
            // Ferry wrote until an apply completes.
            return Ok(None);
        }
        let target = record
            .split_whitespace()
            .next()
            .and_then(|t| Oid::from_str(t).ok());
        let repo = self.raw();
        let tree = target
            .and_then(|t| repo.find_commit(t).ok())
            .and_then(|c| c.tree().ok());
        let Some(tree) = tree else {
            tracing::warn!("dropping an apply journal whose commit can't be read");
            self.writer(Durability::EachFile)?
                .remove_stale_temps_everywhere(&|o| self.is_known_content(o), &|n| {
                    super::local_copy_name(b"recovered", n)
                });
            let _ = std::fs::remove_file(self.journal());
            return Ok(None);
        };
        if record.split_whitespace().nth(2) == Some("checkout") && self.head().is_none() {
            // A first checkout cut short: finish it (what it wrote is found
            // whole or as a prefix of its content, and completed).
            let target = target.expect("read above");
            let options = ApplyOptions {
                interruptible: false,
                keep_existing: false,
                durability: Durability::AtEnd,
                guard_deletions: false,
                first_checkout: true,
            };
            let copy_name = |path: &[u8], n: u32| {
                super::integrate::conflict_copy_name(
                    &String::from_utf8_lossy(path),
                    chrono::Local::now(),
                    &gethostname::gethostname().to_string_lossy(),
                    n,
                )
                .into_bytes()
            };
            let n = wanted_count(repo, &tree)?;
            self.apply_commit(None, target, options, &copy_name, |_, _| {})?;
            return Ok(Some(n));
        }
        let wanted = flatten_tree(repo, &tree)?;
        let mut index = repo.index()?;
        index.read(true)?;
        let have = index_items(&index);
        let writer = self.writer(Durability::EachFile)?;
        let mut dirs: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut recorded = 0;
        let paths: BTreeSet<&Vec<u8>> = have.keys().chain(wanted.keys()).collect();
        for path in paths {
            let old = have.get(path);
            let new = wanted.get(path);
            if matches!((old, new), (Some(o), Some(n)) if o.id == n.id && o.mode == n.mode) {
                continue;
            }
            let parent = match path.iter().rposition(|b| *b == b'/') {
                Some(i) => path[..i].to_vec(),
                None => Vec::new(),
            };
            dirs.insert(parent);
            let Ok(tp) = TreePath::new(path, new.is_some_and(|n| n.mode == MODE_LINK)) else {
                continue;
            };
            let found = match writer.lookup(&tp) {
                Ok(found) => found,
                Err(e) if e.is_path_problem() => continue,
                Err(e) => return Err(write_error(e)),
            };
            match (new, found) {
                (None, Found::Absent) => {
                    // Removed by Ferry before the crash.
                    remove_entry(&mut index, path);
                    recorded += 1;
                }
                (Some(n), Found::Entry(st))
                    if n.mode != MODE_GITLINK && self.content_is(&writer, &tp, &st, *n) =>
                {
                    index.add(&entry(path, n.id, n.mode, Some(&st), false))?;
                    recorded += 1;
                }
                _ => {}
            }
        }
        writer.remove_stale_temps(
            dirs.iter().map(|d| d.as_slice()),
            &|o| self.is_known_content(o),
            &|n| super::local_copy_name(b"recovered", n),
        );
        index.write()?;
        if target.is_some() && self.head() == target {
            // The apply had finished (the branch is at its target); only
            // removing the journal was cut short. The index now records
            // what Ferry wrote: the journal has nothing left to say.
            let _ = std::fs::remove_file(self.journal());
            return Ok(Some(recorded));
        }
        // Kept, marked: until an apply completes, the snapshot knows these
        // index entries are Ferry's, not changes the user staged.
        let mut parts: Vec<&str> = record.split_whitespace().take(3).collect();
        while parts.len() < 3 {
            parts.push("-");
        }
        parts.push("recorded");
        crate::config::write_atomically(
            &self.journal(),
            format!("{}\n", parts.join(" ")).as_bytes(),
        )?;
        Ok(Some(recorded))
    }

    /// The tree an unfinished apply was writing (its journal's target), by
    /// path: the index entries that match it are Ferry's own records.
    pub(crate) fn journal_target_items(&self) -> Option<BTreeMap<Vec<u8>, TreeItem>> {
        let record = std::fs::read_to_string(self.journal()).ok()?;
        let target = Oid::from_str(record.split_whitespace().next()?).ok()?;
        let tree = self.raw().find_commit(target).ok()?.tree().ok()?;
        flatten_tree(self.raw(), &tree).ok()
    }

    /// Moves the branch from `from` to `to` (compare-and-swap) and points HEAD at it.
    pub(crate) fn move_branch(&self, from: Option<Oid>, to: Oid) -> Result<(), GitError> {
        let name = format!("refs/heads/{}", self.branch());
        let repo = self.raw();
        crate::crash_point!("branch-before-move");
        match from {
            Some(old) if old != to => {
                repo.reference_matching(&name, to, true, old, "ferry: sync")?;
            }
            Some(_) => {}
            None => {
                repo.reference(&name, to, false, "ferry: sync")?;
            }
        }
        crate::crash_point!("branch-after-move");
        let current = repo
            .find_reference("HEAD")
            .ok()
            .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_string));
        if current.as_deref() != Some(name.as_str()) {
            repo.set_head(&name)?;
        }
        Ok(())
    }

    fn notes_file(&self) -> std::path::PathBuf {
        self.raw().path().join("ferry-notes.json")
    }

    /// Saves what GitLab has that the folder doesn't: this apply's notes,
    /// and earlier ones that still hold for the target tree `wanted`.
    fn save_notes(
        &self,
        notes: &[Note],
        wanted: &BTreeMap<Vec<u8>, TreeItem>,
        index: &git2::Index,
    ) -> Result<(), GitError> {
        let items = index_items(index);
        let mut all: BTreeMap<String, Note> = self
            .apply_notes()
            .into_iter()
            .map(|n| (n.path.clone(), n))
            .collect();
        all.retain(|path, note| {
            let key = path.as_bytes();
            let Some(w) = wanted.get(key) else {
                return false;
            };
            match note.kind {
                NoteKind::Submodule => w.mode == MODE_GITLINK,
                NoteKind::UnsafeName => !items.contains_key(key) || items[key].skip,
                _ => items.get(key).is_some_and(|i| i.skip),
            }
        });
        for n in notes {
            all.insert(n.path.clone(), n.clone());
        }
        let list: Vec<&Note> = all.values().collect();
        if list.is_empty() {
            let _ = std::fs::remove_file(self.notes_file());
            return Ok(());
        }
        let text = serde_json::to_vec(&list).map_err(|e| GitError::Other(e.to_string()))?;
        crate::config::write_atomically(&self.notes_file(), &text)?;
        Ok(())
    }

    /// Paths from GitLab the folder doesn't hold, and why.
    pub fn apply_notes(&self) -> Vec<Note> {
        std::fs::read(self.notes_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

#[allow(clippy::too_many_arguments)]
fn write_blob_from(
    repo: &git2::Repository,
    filters: bool,
    writer: &FolderWriter,
    path: &TreePath,
    new: TreeItem,
    create: bool,
    expect: &dyn Fn(&Old<'_>) -> bool,
    copy_name: &dyn Fn(u32) -> Vec<u8>,
) -> Result<Result<Written, WriteError>, GitError> {
    if new.mode == MODE_LINK {
        let blob = repo.find_blob(new.id)?;
        let write = if create {
            FolderWriter::create
        } else {
            FolderWriter::write
        };
        return Ok(write(
            writer,
            path,
            Content::Symlink {
                target: blob.content(),
            },
            expect,
            copy_name,
        ));
    }
    let crlf = if filters {
        super::eol::checkout_crlf(repo, path.as_bytes())
    } else {
        None
    };
    let executable = new.mode == MODE_EXEC;
    let mut reader = blob_reader(repo, new.id)?;
    let mut converted;
    let reader: &mut dyn Read = if let Some(crlf) = crlf {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        converted = std::io::Cursor::new(super::eol::smudge(&bytes, crlf));
        &mut converted
    } else {
        &mut *reader
    };
    let write = if create {
        FolderWriter::create
    } else {
        FolderWriter::write
    };
    Ok(write(
        writer,
        path,
        Content::File { reader, executable },
        expect,
        copy_name,
    ))
}

/// The bytes of the blob `id`: a large object streams (loose, or whole
/// in a pack, through our readers); anything else is read whole.
fn blob_reader(repo: &git2::Repository, id: Oid) -> Result<Box<dyn Read + '_>, GitError> {
    let odb = repo.odb()?;
    let large = odb
        .read_header(id)
        .is_ok_and(|(size, _)| size as u64 > STREAM_ABOVE);
    if large {
        let streamed = super::pack::loose_blob(repo.path(), id)
            .or_else(|| super::pack::packed_blob(repo.path(), id));
        if let Some((r, _)) = streamed {
            return Ok(r);
        }
    }
    let blob = repo.find_blob(id)?;
    Ok(Box::new(BlobBytes { blob, at: 0 }))
}

/// An in-memory blob as a reader.
struct BlobBytes<'r> {
    blob: git2::Blob<'r>,
    at: usize,
}

impl Read for BlobBytes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.blob.content()[self.at..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// True when `old` is nothing, or the blob `new` (as written here) or
/// a part of its start: what a first checkout cut short left. Large files
/// are compared as streams.
fn holds_part_of(
    repo: &git2::Repository,
    filters: bool,
    path: &[u8],
    old: &Old<'_>,
    new: TreeItem,
) -> bool {
    let Some(st) = old.stat else {
        return true;
    };
    match st.kind() {
        Kind::Symlink => {
            return repo
                .find_blob(new.id)
                .is_ok_and(|b| old.link_target().is_ok_and(|t| t == b.content()))
        }
        Kind::File => {}
        _ => return false,
    }
    let crlf = if filters {
        super::eol::checkout_crlf(repo, path)
    } else {
        None
    };
    let (Ok(mut expected), Ok(mut found)) = (
        match crlf {
            Some(crlf) => repo
                .find_blob(new.id)
                .map(|b| {
                    Box::new(std::io::Cursor::new(super::eol::smudge(b.content(), crlf)))
                        as Box<dyn Read>
                })
                .map_err(GitError::from),
            None => blob_reader(repo, new.id),
        },
        old.open(),
    ) else {
        return false;
    };
    // `found` must be a prefix of `expected`.
    let mut a = vec![0u8; 64 * 1024];
    let mut b = vec![0u8; 64 * 1024];
    loop {
        let n = match found.read(&mut a) {
            Ok(0) => return true,
            Ok(n) => n,
            Err(_) => return false,
        };
        if expected.read_exact(&mut b[..n]).is_err() || a[..n] != b[..n] {
            return false;
        }
    }
}

/// What an apply gathered for its report.
#[derive(Default)]
struct Accumulated {
    changes: Vec<Change>,
    copies: Vec<String>,
    notes: Vec<Note>,
}

/// A first checkout of at least this many files writes them in parallel.
const PARALLEL_FROM: usize = 64;
/// Files a parallel worker takes at a time.
const PARALLEL_CHUNK: usize = 16;

/// Records one write's outcome in the index and the report. A problem
/// with the folder itself (disk full) is returned to stop the apply.
fn record_write(
    index: &mut git2::Index,
    acc: &mut Accumulated,
    raw: &[u8],
    path: &TreePath,
    new: TreeItem,
    had_old: bool,
    result: Result<Result<Written, WriteError>, GitError>,
) -> Result<Option<std::io::Error>, GitError> {
    match result? {
        Ok(written) => {
            let (stat, copy) = match written {
                Written::Done(st) => (st, None),
                Written::KeptLocal { stat, copy } => (stat, Some(copy)),
            };
            let stat = (stat != Stat::default()).then_some(stat);
            index.add(&entry(raw, new.id, new.mode, stat.as_ref(), false))?;
            if let Some(c) = copy {
                acc.copies.push(String::from_utf8_lossy(&c).into_owned());
            }
            acc.changes.push(Change {
                path: path.display(),
                kind: if had_old {
                    ChangeKind::Modified
                } else {
                    ChangeKind::Added
                },
            });
            Ok(None)
        }
        Err(WriteError::Folder(e)) => Ok(Some(e)),
        Err(e) => {
            // Kept in the index (skip-worktree) so nothing deletes it on GitLab.
            let _ = index.add(&entry(raw, new.id, new.mode, None, true));
            acc.notes.push(note_for(raw, &e));
            Ok(None)
        }
    }
}

fn wanted_count(repo: &git2::Repository, tree: &git2::Tree<'_>) -> Result<usize, GitError> {
    Ok(flatten_tree(repo, tree)?.len())
}

fn writer_recognises(
    repo: &Repo,
    writer: &FolderWriter,
    path: &TreePath,
    item: &IndexItem,
    st: &Stat,
    racy: Option<(i64, u32)>,
) -> bool {
    if stat_matches(&item.stat, st, racy) {
        return true;
    }
    let new = TreeItem {
        id: item.id,
        mode: item.mode,
    };
    repo.content_is(writer, path, st, new)
}

fn kind_of(mode: u32) -> u32 {
    match mode {
        MODE_FILE | MODE_EXEC => 1,
        MODE_LINK => 2,
        MODE_GITLINK => 3,
        _ => 0,
    }
}

fn remove_entry(index: &mut git2::Index, path: &[u8]) {
    let _ = index.remove(bytes_path(path), 0);
}

fn note_for(path: &[u8], e: &WriteError) -> Note {
    match e {
        WriteError::ThroughSymlink(p) => Note::new(
            path,
            NoteKind::UnsafeName,
            &format!("it would be written through the link {p}"),
        ),
        WriteError::Occupied(p) => {
            Note::new(path, NoteKind::Occupied, &format!("{p} is in the way"))
        }
        WriteError::NotHoldable { source, .. } => {
            let detail = match source.raw_os_error() {
                Some(libc::ENAMETOOLONG) => "the name is too long".to_string(),
                Some(libc::EACCES | libc::EPERM) => "no permission to write there".to_string(),
                Some(libc::EILSEQ | libc::EINVAL) => {
                    "this disk doesn't allow that name".to_string()
                }
                _ => source.to_string(),
            };
            Note::new(path, NoteKind::NotHoldable, &detail)
        }
        WriteError::Folder(e) => Note::new(path, NoteKind::NotHoldable, &e.to_string()),
    }
}

/// Maps a writer error met outside a per-path step.
pub(crate) fn write_error(e: WriteError) -> GitError {
    match e {
        WriteError::Folder(io) => GitError::from(io),
        other => GitError::Other(other.to_string()),
    }
}
