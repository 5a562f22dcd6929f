//! Integrating the server's branch, in memory.
//!
//! [`Repo::integrate`] fast-forwards when it can; otherwise it replays the
//! local commits that were never on the server onto the server's tip (a
//! linear history), one cherry-pick at a time, all in memory. Text edits
//! that don't overlap merge; a true conflict keeps both: the server's
//! version at the path and the local one beside it as
//! `NAME (conflict YYYY-MM-DD HHMM HOST).EXT` — one copy per file per sync.
//! Modify beats delete, on either side; a rename conflict leaves one copy
//! beside the renamed file, never the old path; a file and a folder of the
//! same name keep both (the file becomes the copy). Before a merged tree is
//! used, every version that took part in a conflict is checked to be in it:
//! integration fails closed rather than drop one.
//!
//! Commits the server once had — every tip this folder saw of the server's
//! branch, from its reflog — are never replayed: a maintainer's force-push
//! (say, purging a secret) stays done.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Local};
use git2::{IndexEntry, MergeOptions, Oid};
use serde::Serialize;

use super::apply::{bytes_path, flatten_tree, MODE_GITLINK};
use super::{GitError, Repo, REMOTE};

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

/// Longest file name most file systems take, in bytes.
const NAME_MAX: usize = 255;

/// `about (conflict 2026-11-22 1430 laptop).md` for `about.md`; the `n`-th
/// copy (n ≥ 2) of the same minute is `about (conflict 2026-11-22 1430
/// laptop 2).md`. The name is shortened to fit the file system.
pub fn conflict_copy_name(path: &str, when: DateTime<Local>, host: &str, n: u32) -> String {
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
        .take(40)
        .collect();
    let number = if n > 1 {
        format!(" {n}")
    } else {
        String::new()
    };
    let tag = format!(
        " (conflict {} {host}{number})",
        when.format("%Y-%m-%d %H%M")
    );
    // Keep the extension and the tag; shorten the stem on a character boundary.
    let room = NAME_MAX.saturating_sub(tag.len() + ext.len());
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let ext = if ext.len() > NAME_MAX / 2 { "" } else { ext };
    format!("{dir}{}{tag}{ext}", &stem[..cut])
}

fn stage0(path: &[u8], id: Oid, mode: u32) -> IndexEntry {
    super::apply::entry(path, id, mode, None, false)
}

impl Repo {
    /// Every tip this folder saw of the server's branch (newest first).
    fn server_tips(&self) -> Vec<Oid> {
        let name = format!("refs/remotes/{REMOTE}/{}", self.branch());
        let mut tips = Vec::new();
        if let Ok(log) = self.raw().reflog(&name) {
            for e in log.iter().take(1000) {
                for id in [e.id_new(), e.id_old()] {
                    if !id.is_zero() && !tips.contains(&id) {
                        tips.push(id);
                    }
                }
            }
        }
        tips
    }

    /// Combines the local branch with `remote` (the server's tip) in memory:
    /// creates the commits, moves nothing, writes no file. `seen`: a tip of
    /// the server's branch known from before this fetch.
    pub fn integrate(
        &self,
        remote: Oid,
        seen: Option<Oid>,
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
        if local == remote {
            return Ok(done(local));
        }
        // Local commits the server never had, oldest first. A commit the
        // server once had and dropped (a force-push) is not among them.
        let mut walk = repo.revwalk()?;
        walk.push(local)?;
        walk.hide(remote)?;
        for tip in self.server_tips().into_iter().chain(seen) {
            if repo.find_commit(tip).is_ok() {
                walk.hide(tip)?;
            }
        }
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
        let local_commits: Vec<Oid> = walk.collect::<Result<_, _>>()?;
        if local_commits.is_empty() {
            // Nothing here the server never had: the server's tip is the truth.
            return Ok(done(remote));
        }
        if repo.graph_descendant_of(local, remote)? {
            let (ahead, _) = repo.graph_ahead_behind(local, remote)?;
            if ahead == local_commits.len() {
                // A fast-forward of commits the server never had.
                return Ok(done(local));
            }
        }
        let mut onto = repo.find_commit(remote)?;
        let mut copies: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for id in &local_commits {
            let commit = repo.find_commit(*id)?;
            let mainline = if commit.parent_count() > 1 { 1 } else { 0 };
            let mut opts = MergeOptions::new();
            opts.fail_on_conflict(false);
            let mut index = repo.cherrypick_commit(&commit, &onto, mainline, Some(&opts))?;
            let mut must_keep = HashSet::new();
            if index.has_conflicts() {
                let sides = Sides {
                    base: match commit.parent(0) {
                        Ok(p) => Some(p.tree()?),
                        Err(_) => None,
                    },
                    server: onto.tree()?,
                    local: commit.tree()?,
                };
                must_keep = self.keep_both(&mut index, &sides, &mut copies, host, now)?;
            }
            self.separate_files_and_folders(&mut index, &mut copies, host, now)?;
            let tree_id = index.write_tree_to(repo)?;
            let tree = repo.find_tree(tree_id)?;
            // Fail closed: every version that took part in a conflict is kept.
            if !must_keep.is_empty() {
                let present: HashSet<Oid> =
                    flatten_tree(repo, &tree)?.values().map(|i| i.id).collect();
                if let Some(missing) = must_keep.iter().find(|id| !present.contains(id)) {
                    return Err(GitError::Other(format!(
                        "combining changes would drop a version ({missing}); nothing was changed"
                    )));
                }
            }
            if tree_id == onto.tree_id() {
                // Everything in this commit is already on the server.
                continue;
            }
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
            conflict_copies: copies
                .into_values()
                .map(|c| String::from_utf8_lossy(&c).into_owned())
                .collect(),
            replayed: local_commits.len(),
        })
    }

    /// A free conflict-copy name for `path` (the same one all sync long).
    fn copy_for(
        &self,
        index: &git2::Index,
        copies: &mut BTreeMap<Vec<u8>, Vec<u8>>,
        path: &[u8],
        host: &str,
        now: DateTime<Local>,
    ) -> Vec<u8> {
        if let Some(c) = copies.get(path) {
            return c.clone();
        }
        let text = String::from_utf8_lossy(path);
        let taken: HashSet<&Vec<u8>> = copies.values().collect();
        let mut n = 1;
        loop {
            let candidate = conflict_copy_name(&text, now, host, n).into_bytes();
            let free = !taken.contains(&candidate)
                && index.get_path(bytes_path(&candidate), 0).is_none()
                && self
                    .dir()
                    .join(bytes_path(&candidate))
                    .symlink_metadata()
                    .is_err();
            if free {
                copies.insert(path.to_vec(), candidate.clone());
                return candidate;
            }
            n += 1;
        }
    }

    /// Resolves every conflict in `index` by keeping both versions: the
    /// server's ("ours" in a cherry-pick onto the server's tip) at its path,
    /// the local one as a conflict copy beside it. Modify beats delete.
    /// Returns the blob ids that must be in the merged tree.
    fn keep_both(
        &self,
        index: &mut git2::Index,
        sides: &Sides<'_>,
        copies: &mut BTreeMap<Vec<u8>, Vec<u8>>,
        host: &str,
        now: DateTime<Local>,
    ) -> Result<HashSet<Oid>, GitError> {
        let conflicts: Vec<git2::IndexConflict> = index.conflicts()?.collect::<Result<_, _>>()?;
        let mut keep = HashSet::new();
        // Renamed files a guess already paired with a conflict.
        let mut claimed: HashSet<Vec<u8>> = HashSet::new();
        for c in &conflicts {
            for side in [&c.ancestor, &c.our, &c.their].into_iter().flatten() {
                let _ = index.conflict_remove(bytes_path(&side.path));
            }
        }
        // A rename libgit2 half-detected leaves the new name as a conflict
        // of its own (no ancestor, one side): a guess may pair with it.
        let orphans: std::collections::HashMap<Vec<u8>, Oid> = conflicts
            .iter()
            .filter(|c| c.ancestor.is_none())
            .filter_map(|c| match (&c.our, &c.their) {
                (Some(e), None) | (None, Some(e)) => Some((e.path.clone(), e.id)),
                _ => None,
            })
            .collect();
        // What goes where: (path, id, mode), and versions kept beside a path.
        let mut placed: Vec<(Vec<u8>, Oid, u32)> = Vec::new();
        let mut beside: Vec<(Vec<u8>, Oid, u32)> = Vec::new();
        for c in conflicts {
            // A rename git's similarity check missed (small files): the
            // file's other version is kept beside its new name, never
            // merged on a guess, and the old name doesn't come back.
            if let Some(anc) = &c.ancestor {
                let guess = match (&c.our, &c.their) {
                    (None, Some(local)) => self
                        .renamed_to(anc, &sides.base, &sides.server, &claimed)
                        .map(|target| (target, local.id, local.mode)),
                    (Some(server), None) => self
                        .renamed_to(anc, &sides.base, &sides.local, &claimed)
                        .map(|target| (target, server.id, server.mode)),
                    _ => None,
                };
                if let Some((target, other_id, other_mode)) = guess {
                    // The renamed file, as the merge left it, stays as it is.
                    let current = index
                        .get_path(bytes_path(&target), 0)
                        .map(|e| e.id)
                        .or_else(|| orphans.get(&target).copied())
                        .filter(|id| *id == target_side_id(&target, sides, &c));
                    if let Some(current) = current {
                        claimed.insert(target.clone());
                        keep.insert(current);
                        if current != other_id {
                            beside.push((target, other_id, other_mode));
                        }
                        continue;
                    }
                }
            }
            match (c.our, c.their) {
                (Some(server), Some(local)) => {
                    placed.push((server.path.clone(), server.id, server.mode));
                    if server.id != local.id || server.mode != local.mode {
                        // The copy sits beside the server's version (after a
                        // rename, beside the new name: the old path stays gone).
                        beside.push((server.path, local.id, local.mode));
                    }
                }
                // Deleted here, changed on the server: the change wins.
                (Some(server), None) => placed.push((server.path, server.id, server.mode)),
                // Deleted on the server, changed here: the change wins.
                (None, Some(local)) => placed.push((local.path, local.id, local.mode)),
                (None, None) => {}
            }
        }
        // A file where the other side has a folder (or the reverse) would
        // replace it in the index: the folder stays, the file goes beside.
        let mut dirs: HashSet<Vec<u8>> = HashSet::new();
        let existing: Vec<(Vec<u8>, Oid, u32)> = index
            .iter()
            .filter(|e| (e.flags >> 12) & 0x3 == 0)
            .map(|e| (e.path.clone(), e.id, e.mode))
            .collect();
        for path in existing
            .iter()
            .map(|e| &e.0)
            .chain(placed.iter().map(|p| &p.0))
        {
            for (i, b) in path.iter().enumerate() {
                if *b == b'/' {
                    dirs.insert(path[..i].to_vec());
                }
            }
        }
        for (path, id, mode) in existing {
            if dirs.contains(&path) {
                index.remove(bytes_path(&path), 0)?;
                beside.push((path, id, mode));
            }
        }
        for (path, id, mode) in placed {
            if dirs.contains(&path) {
                beside.push((path, id, mode));
            } else {
                index.add(&stage0(&path, id, mode))?;
                if mode != MODE_GITLINK {
                    keep.insert(id);
                }
            }
        }
        for (path, id, mode) in beside {
            let copy = self.copy_for(index, copies, &path, host, now);
            index.add(&stage0(&copy, id, mode))?;
            if mode != MODE_GITLINK {
                keep.insert(id);
            }
        }
        Ok(keep)
    }

    /// Where a side moved the file `anc` (from `base`): the file added on
    /// that side whose lines are mostly `anc`'s, if there is one clear
    /// candidate not yet `claimed`.
    fn renamed_to(
        &self,
        anc: &IndexEntry,
        base: &Option<git2::Tree<'_>>,
        side: &git2::Tree<'_>,
        claimed: &HashSet<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        let repo = self.raw();
        let before = match base {
            Some(t) => flatten_tree(repo, t).ok()?,
            None => BTreeMap::new(),
        };
        let after = flatten_tree(repo, side).ok()?;
        let original = repo.find_blob(anc.id).ok()?;
        if original.size() > SIMILARITY_LIMIT {
            return None;
        }
        let mut best: Option<(f64, Vec<u8>)> = None;
        let mut runner_up = 0.0f64;
        for (path, item) in after
            .iter()
            .filter(|(p, _)| !before.contains_key(*p) && !claimed.contains(*p))
        {
            if item.mode == MODE_GITLINK {
                continue;
            }
            let Ok(blob) = repo.find_blob(item.id) else {
                continue;
            };
            if blob.size() > SIMILARITY_LIMIT {
                continue;
            }
            let score = similarity(original.content(), blob.content());
            match &best {
                Some((b, _)) if score <= *b => runner_up = runner_up.max(score),
                _ => {
                    runner_up = runner_up.max(best.as_ref().map_or(0.0, |b| b.0));
                    best = Some((score, path.clone()));
                }
            }
        }
        // A clear match only: most lines shared, and no other file close.
        best.filter(|(score, _)| *score >= 0.6 && *score - runner_up >= 0.2)
            .map(|(_, p)| p)
    }

    /// A path that is both a file and a folder in the merged index (one
    /// side made a folder where the other kept or changed the file): the
    /// folder stays, the file is kept beside it as a conflict copy.
    fn separate_files_and_folders(
        &self,
        index: &mut git2::Index,
        copies: &mut BTreeMap<Vec<u8>, Vec<u8>>,
        host: &str,
        now: DateTime<Local>,
    ) -> Result<(), GitError> {
        let entries: Vec<(Vec<u8>, Oid, u32)> = index
            .iter()
            .filter(|e| (e.flags >> 12) & 0x3 == 0)
            .map(|e| (e.path.clone(), e.id, e.mode))
            .collect();
        let mut dirs: HashSet<&[u8]> = HashSet::new();
        for (path, _, _) in &entries {
            for (i, b) in path.iter().enumerate() {
                if *b == b'/' {
                    dirs.insert(&path[..i]);
                }
            }
        }
        let clashes: Vec<(Vec<u8>, Oid, u32)> = entries
            .iter()
            .filter(|(p, _, _)| dirs.contains(p.as_slice()))
            .cloned()
            .collect();
        for (path, id, mode) in clashes {
            index.remove(bytes_path(&path), 0)?;
            let copy = self.copy_for(index, copies, &path, host, now);
            index.add(&stage0(&copy, id, mode))?;
        }
        Ok(())
    }
}

/// The three trees of one replayed commit.
struct Sides<'r> {
    /// The tree the local commit started from.
    base: Option<git2::Tree<'r>>,
    /// The server's tree it is replayed onto.
    server: git2::Tree<'r>,
    /// The local commit's tree.
    local: git2::Tree<'r>,
}

/// Files larger than this are not compared for similarity.
const SIMILARITY_LIMIT: usize = 1 << 20;

/// How alike two files are, 0 to 1: the share of their non-blank lines
/// they have in common (for text, with at least two such lines), or
/// equality (for anything else).
fn similarity(a: &[u8], b: &[u8]) -> f64 {
    if a == b {
        return 1.0;
    }
    if a.contains(&0) || b.contains(&0) {
        return 0.0;
    }
    let lines = |x: &'_ [u8]| -> Vec<Vec<u8>> {
        x.split(|c| *c == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| l.iter().any(|c| !c.is_ascii_whitespace()))
            .map(<[u8]>::to_vec)
            .collect()
    };
    let (a_lines, b_lines) = (lines(a), lines(b));
    let mut counts: std::collections::HashMap<&[u8], i64> = std::collections::HashMap::new();
    for l in &a_lines {
        *counts.entry(l).or_default() += 1;
    }
    let mut common = 0usize;
    for l in &b_lines {
        if let Some(n) = counts.get_mut(l.as_slice()) {
            if *n > 0 {
                *n -= 1;
                common += 1;
            }
        }
    }
    if common < 2 {
        return 0.0;
    }
    2.0 * common as f64 / (a_lines.len() + b_lines.len()) as f64
}

/// The id the renamed file had on the side that renamed it: a guess is
/// acted on only where the merge left that file untouched.
fn target_side_id(target: &[u8], sides: &Sides<'_>, c: &git2::IndexConflict) -> Oid {
    let side = if c.our.is_none() {
        &sides.server
    } else {
        &sides.local
    };
    side.get_path(bytes_path(target))
        .map(|e| e.id())
        .unwrap_or(Oid::ZERO_SHA1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn similarity_needs_real_shared_lines() {
        assert_eq!(similarity(b"one line\n", b"other line\n"), 0.0);
        assert_eq!(similarity(b"same\n", b"same\n"), 1.0);
        assert_eq!(
            similarity(b"\n\nfooter\n", b"\n\nfooter 2\n"),
            0.0,
            "blank lines don't count"
        );
        let a = b"line 1\nline 2\nline 3\nline 4\n";
        let b = b"line 1 (a)\nline 2\nline 3\nline 4\n";
        assert!(similarity(a, b) >= 0.7);
    }

    #[test]
    fn conflict_copies_are_named_beside_the_file() {
        let when = Local.with_ymd_and_hms(2026, 11, 22, 14, 30, 0).unwrap();
        assert_eq!(
            conflict_copy_name("about.md", when, "laptop", 1),
            "about (conflict 2026-11-22 1430 laptop).md"
        );
        assert_eq!(
            conflict_copy_name("about.md", when, "laptop", 2),
            "about (conflict 2026-11-22 1430 laptop 2).md",
            "a second copy keeps its extension"
        );
        assert_eq!(
            conflict_copy_name("content/news.md", when, "laptop", 1),
            "content/news (conflict 2026-11-22 1430 laptop).md"
        );
        assert_eq!(
            conflict_copy_name("README", when, "pc", 1),
            "README (conflict 2026-11-22 1430 pc)"
        );
        assert_eq!(
            conflict_copy_name(".env", when, "pc", 1),
            ".env (conflict 2026-11-22 1430 pc)"
        );
        assert_eq!(
            conflict_copy_name("a/archive.tar.gz", when, "pc/x", 1),
            "a/archive.tar (conflict 2026-11-22 1430 pc-x).gz"
        );
        let long = format!("{}.md", "é".repeat(125));
        let copy = conflict_copy_name(&long, when, "laptop", 3);
        assert!(copy.len() <= NAME_MAX, "{} bytes", copy.len());
        assert!(copy.ends_with(" laptop 3).md"), "{copy}");
    }
}
