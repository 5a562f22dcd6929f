//! The folder writer: the only code that creates, replaces or deletes
//! anything in a synced folder — for the first checkout and for every
//! change that arrives from GitLab.
//!
//! Promises, by construction rather than by remembering to check:
//! - **Contained.** Every path is a [`TreePath`], validated the way git
//!   validates a path before writing it (gitoxide's `gix-validate`: no empty,
//!   `.` or `..` component, no `.git` in any case or its NTFS/HFS spellings,
//!   nothing absolute). On Unix a backslash is an ordinary character and is
//!   written literally. Every call goes through a directory handle opened
//!   component by component with `O_NOFOLLOW`: nothing is ever written
//!   through a symlink, outside the folder, or into its `.git`.
//! - **Whole files.** New content goes to a temp file beside its target
//!   (`.ferry-tmp-<random>`, created exclusively, never through a link),
//!   is synced, and is swapped in by one rename.
//! - **A save that lands meanwhile is kept.** The check that a file is still
//!   what Ferry last saw happens at the swap itself: on Linux and macOS the
//!   new file is exchanged with the old one atomically (`renameat2
//!   RENAME_EXCHANGE`), then what was swapped out is verified; anything the
//!   caller doesn't recognise is kept beside the file as a conflict copy,
//!   never deleted. Elsewhere the check runs immediately before the rename.
//! - **The user's permissions.** A replaced file keeps its permission bits
//!   (only the executable bit follows the tree); a new one gets the umask's.
//!
//! # Limitations
//! Unix only for now (Windows needs `ReplaceFileW` for the swap). A process
//! that keeps writing to a file's old inode after the swap writes into the
//! conflict copy or, if the check passed just before, into a removed file.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gix_validate::path::component::{Mode as ComponentMode, Options as ComponentOptions};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

/// The prefix of Ferry's temp files in the folder (excluded from commits).
pub const TEMP_PREFIX: &str = ".ferry-tmp-";

/// A path from a git tree, checked as git checks it before writing: one
/// or more `/`-separated components, none of them empty, `.`, `..`, or a
/// name the folder's `.git` could be reached by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreePath(Vec<u8>);

/// Why a tree path is refused before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct UnsafePath {
    /// What is wrong with it, in words.
    pub reason: String,
}

fn component_options() -> ComponentOptions {
    ComponentOptions {
        // A backslash and a colon are ordinary characters on Unix, as in git;
        // the .git aliases of NTFS and HFS+ are refused everywhere, as git's
        // core.protectNTFS (on by default) and core.protectHFS do.
        protect_windows: cfg!(windows),
        protect_hfs: true,
        protect_ntfs: true,
    }
}

impl TreePath {
    /// Checks `bytes` (a path as stored in a tree or the index). `symlink`:
    /// the entry is a symbolic link (`.gitmodules` may not be one).
    pub fn new(bytes: &[u8], symlink: bool) -> Result<TreePath, UnsafePath> {
        let refuse = |reason: &str| {
            Err(UnsafePath {
                reason: reason.to_string(),
            })
        };
        if bytes.is_empty() {
            return refuse("the name is empty");
        }
        if bytes.contains(&0) {
            return refuse("the name contains a NUL byte");
        }
        if bytes.starts_with(b"/") {
            return refuse("the path is absolute");
        }
        let parts: Vec<&[u8]> = bytes.split(|b| *b == b'/').collect();
        let last = parts.len() - 1;
        for (i, part) in parts.iter().enumerate() {
            let mode = (i == last && symlink).then_some(ComponentMode::Symlink);
            if let Err(e) =
                gix_validate::path::component(part[..].into(), mode, component_options())
            {
                return Err(UnsafePath {
                    reason: e.to_string(),
                });
            }
        }
        Ok(TreePath(bytes.to_vec()))
    }

    /// The raw bytes, `/`-separated.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path for messages and status (lossy for names that aren't UTF-8).
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    fn split(&self) -> (Option<&[u8]>, &[u8]) {
        match self.0.iter().rposition(|b| *b == b'/') {
            Some(i) => (Some(&self.0[..i]), &self.0[i + 1..]),
            None => (None, &self.0),
        }
    }

    /// The parent directories, outermost first (`a`, `a/b` for `a/b/c`).
    pub fn ancestors(&self) -> Vec<&[u8]> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'/')
            .map(|(i, _)| &self.0[..i])
            .collect()
    }
}

impl std::fmt::Display for TreePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// File status as the index records it, read without following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, u32),
    /// Status change time (seconds, nanoseconds).
    pub ctime: (i64, u32),
}

impl Stat {
    fn from_raw(s: &rustix::fs::Stat) -> Stat {
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        Stat {
            dev: s.st_dev as u64,
            ino: s.st_ino as u64,
            mode: s.st_mode as u32,
            uid: s.st_uid as u32,
            gid: s.st_gid as u32,
            size: s.st_size.max(0) as u64,
            mtime: (s.st_mtime as i64, s.st_mtime_nsec as u32),
            ctime: (s.st_ctime as i64, s.st_ctime_nsec as u32),
        }
    }

    /// The status of an open file.
    pub fn of_file(file: &std::fs::File) -> io::Result<Stat> {
        Ok(Stat::from_raw(&rustix::fs::fstat(file)?))
    }

    /// What kind of entry this is.
    pub fn kind(&self) -> Kind {
        match FileType::from_raw_mode(self.mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Symlink => Kind::Symlink,
            FileType::Directory => Kind::Dir,
            _ => Kind::Other,
        }
    }

    /// The owner's executable bit is set.
    pub fn executable(&self) -> bool {
        self.mode & 0o100 != 0
    }

    /// The same file, unchanged: inode, size and both times equal.
    pub fn same_as(&self, other: &Stat) -> bool {
        self.dev == other.dev
            && self.ino == other.ino
            && self.size == other.size
            && self.mtime == other.mtime
            && self.ctime == other.ctime
            && self.mode == other.mode
    }
}

/// The kind of an entry on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A directory.
    Dir,
    /// A FIFO, socket or device.
    Other,
}

/// What is at a path, found without following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Nothing.
    Absent,
    /// An entry (see [`Stat::kind`]).
    Entry(Stat),
    /// A parent is a file or a symlink, so nothing can be at the path.
    Blocked,
}

/// Why a path could not be written, removed or read. Path problems skip
/// that path; folder problems stop the whole operation.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A parent of the path is a symlink: Ferry never writes through one.
    #[error("{0} is reached through a symbolic link")]
    ThroughSymlink(String),
    /// Something the folder keeps (a file or folder git doesn't track) is in the way.
    #[error("{0} is in the way")]
    Occupied(String),
    /// The file system refused this name or path (too long, invalid here, no permission).
    #[error("{path}: {source}")]
    NotHoldable {
        /// The path.
        path: String,
        /// What the file system said.
        source: io::Error,
    },
    /// The folder itself failed (disk full, read-only, I/O error).
    #[error(transparent)]
    Folder(io::Error),
}

impl WriteError {
    /// True when only this path is affected: skip it and go on.
    pub fn is_path_problem(&self) -> bool {
        !matches!(self, Self::Folder(_))
    }
}

/// Errors that concern one path rather than the whole folder.
fn path_level(e: Errno) -> bool {
    matches!(
        e,
        Errno::NAMETOOLONG
            | Errno::ILSEQ
            | Errno::INVAL
            | Errno::NOTDIR
            | Errno::LOOP
            | Errno::ISDIR
            | Errno::ACCESS
            | Errno::PERM
            | Errno::TXTBSY
            | Errno::EXIST
            | Errno::NOTEMPTY
            | Errno::BUSY
    )
}

fn classify(path: &[u8], e: Errno) -> WriteError {
    let err = io::Error::from(e);
    if path_level(e) {
        WriteError::NotHoldable {
            path: String::from_utf8_lossy(path).into_owned(),
            source: err,
        }
    } else {
        WriteError::Folder(err)
    }
}

fn folder(e: io::Error) -> WriteError {
    WriteError::Folder(e)
}

/// New content for a path.
pub enum Content<'a> {
    /// A regular file read from `reader`, executable or not.
    File {
        /// The bytes.
        reader: &'a mut dyn Read,
        /// Set the executable bit.
        executable: bool,
    },
    /// A symbolic link to `target` (a plain file holding the target where
    /// the file system has no links, as git does).
    Symlink {
        /// The link's target.
        target: &'a [u8],
    },
}

/// The entry a write or removal is about to replace, for the caller to
/// recognise: "the version Ferry last saw", or not.
pub struct Old<'a> {
    dir: BorrowedFd<'a>,
    name: &'a [u8],
    /// What it is (`None`: nothing was there).
    pub stat: Option<Stat>,
}

impl Old<'_> {
    /// Opens the (regular) file for reading, never following a link.
    pub fn open(&self) -> io::Result<std::fs::File> {
        let fd = rustix::fs::openat(
            self.dir,
            self.name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        Ok(std::fs::File::from(fd))
    }

    /// The target of the (symbolic link) entry.
    pub fn link_target(&self) -> io::Result<Vec<u8>> {
        Ok(rustix::fs::readlinkat(self.dir, self.name, Vec::new())?.into_bytes())
    }
}

/// The caller's test of the entry being replaced: true when it is what
/// Ferry expected (so it may go), false when someone changed it.
pub type Expect<'a> = &'a dyn Fn(&Old<'_>) -> bool;

/// Names for a conflict copy of a path: the n-th candidate (1, 2, ...).
pub type CopyName<'a> = &'a dyn Fn(u32) -> Vec<u8>;

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The new content is at the path.
    Done(Stat),
    /// The new content is at the path, and what was there — changed by
    /// someone since Ferry last saw it — was kept beside it as `copy`.
    KeptLocal {
        /// The new file's status.
        stat: Stat,
        /// Where the previous entry was kept (path in the folder).
        copy: Vec<u8>,
    },
}

/// What a removal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// Removed.
    Done,
    /// Nothing was there.
    Absent,
    /// It had been changed since Ferry last saw it: it was left where it
    /// was (or, if the path was taken meanwhile, moved to `copy`).
    KeptLocal {
        /// Where it is now, when not at its path.
        copy: Option<Vec<u8>>,
    },
}

/// How carefully writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Each file is synced before it is swapped in, and each directory
    /// after its renames ([`FolderWriter::sync`]): a power cut leaves every
    /// file wholly old or wholly new.
    EachFile,
    /// Nothing is synced per file; [`FolderWriter::sync`] syncs the whole
    /// file system once (a first checkout, which starts over if cut).
    AtEnd,
}

/// What this folder's file system can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `About.md` and `about.md` are the same file.
    pub case_insensitive: bool,
    /// Symbolic links can be created.
    pub symlinks: bool,
    /// The executable bit is kept.
    pub exec_bit: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            case_insensitive: false,
            symlinks: true,
            exec_bit: true,
        }
    }
}

/// A path's directory (open) and its last component.
type Located<'p> = (Arc<OwnedFd>, &'p [u8]);

/// The one writer of a synced folder.
pub struct FolderWriter {
    root: Arc<OwnedFd>,
    root_path: PathBuf,
    caps: Capabilities,
    durability: Durability,
    /// Open directories, by path inside the folder (only during one writer's life).
    dirs: Mutex<std::collections::HashMap<Vec<u8>, Arc<OwnedFd>>>,
    /// Directories whose entries changed, to sync at the end.
    touched: Mutex<std::collections::BTreeSet<Vec<u8>>>,
}

fn random_temp_name() -> Vec<u8> {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{TEMP_PREFIX}{n:016x}").into_bytes()
}

/// The executable bits of `mode` set (where readable) or cleared.
fn with_exec(mode: u32, executable: bool) -> u32 {
    let perm = mode & 0o7777;
    if executable {
        perm | ((perm & 0o444) >> 2)
    } else {
        perm & !0o111
    }
}

impl FolderWriter {
    /// Opens the writer of the folder at `root` (which may itself be a
    /// link the user made: the folder is wherever it points).
    pub fn open(
        root: &Path,
        caps: Capabilities,
        durability: Durability,
    ) -> Result<FolderWriter, WriteError> {
        let fd = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| folder(e.into()))?;
        Ok(FolderWriter {
            root: Arc::new(fd),
            root_path: root.to_path_buf(),
            caps,
            durability,
            dirs: Mutex::default(),
            touched: Mutex::default(),
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root_path
    }

    /// What the folder's file system can hold.
    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// The directory `rel` (a path inside the folder; empty for the root),
    /// opened component by component without following links. `create`:
    /// make missing directories (mode 0777 less the umask).
    fn dir(&self, rel: &[u8], create: bool) -> Result<Option<Arc<OwnedFd>>, WriteError> {
        if rel.is_empty() {
            return Ok(Some(self.root.clone()));
        }
        if let Some(fd) = self.dirs.lock().expect("dir cache").get(rel) {
            return Ok(Some(fd.clone()));
        }
        let (parent, name) = match rel.iter().rposition(|b| *b == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&rel[..0], rel),
        };
        let Some(parent_fd) = self.dir(parent, create)? else {
            return Ok(None);
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let opened = match rustix::fs::openat(&*parent_fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&*parent_fd, name, Mode::from_raw_mode(0o777)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(classify(rel, e)),
                }
                self.touched
                    .lock()
                    .expect("touched dirs")
                    .insert(parent.to_vec());
                rustix::fs::openat(&*parent_fd, name, flags, Mode::empty())
                    .map_err(|e| self.blocked(&parent_fd, rel, name, e))?
            }
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.blocked(&parent_fd, rel, name, e)),
        };
        let fd = Arc::new(opened);
        self.dirs
            .lock()
            .expect("dir cache")
            .insert(rel.to_vec(), fd.clone());
        Ok(Some(fd))
    }

    /// Explains why a directory on the way could not be opened.
    fn blocked(&self, parent: &OwnedFd, rel: &[u8], name: &[u8], e: Errno) -> WriteError {
        let shown = String::from_utf8_lossy(rel).into_owned();
        if matches!(e, Errno::NOTDIR | Errno::LOOP) {
            match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                    return WriteError::ThroughSymlink(shown)
                }
                Ok(_) => return WriteError::Occupied(shown),
                Err(_) => {}
            }
        }
        classify(rel, e)
    }

    /// The directory holding `path`, and the path's last component.
    fn parent_of<'p>(
        &self,
        path: &'p TreePath,
        create: bool,
    ) -> Result<Option<Located<'p>>, WriteError> {
        let (parent, name) = path.split();
        match self.dir(parent.unwrap_or(b""), create) {
            Ok(Some(fd)) => Ok(Some((fd, name))),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What is at `path`, without following links.
    pub fn lookup(&self, path: &TreePath) -> Result<Found, WriteError> {
        let parent = match self.parent_of(path, false) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(Found::Absent),
            Err(WriteError::ThroughSymlink(_) | WriteError::Occupied(_)) => {
                return Ok(Found::Blocked)
            }
            Err(e) => return Err(e),
        };
        match rustix::fs::statat(&*parent.0, parent.1, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Found::Entry(Stat::from_raw(&st))),
            Err(Errno::NOENT) => Ok(Found::Absent),
            Err(e) => Err(classify(path.as_bytes(), e)),
        }
    }

    /// Opens the regular file at `path` for reading (`None` when it isn't one).
    pub fn open_file(&self, path: &TreePath) -> Result<Option<(std::fs::File, Stat)>, WriteError> {
        let Some((dir, name)) = self.parent_of(path, false)? else {
            return Ok(None);
        };
        let fd = match rustix::fs::openat(
            &*dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::LOOP | Errno::NXIO) => return Ok(None),
            Err(e) => return Err(classify(path.as_bytes(), e)),
        };
        let st = Stat::from_raw(&rustix::fs::fstat(&fd).map_err(|e| folder(e.into()))?);
        if st.kind() != Kind::File {
            return Ok(None);
        }
        Ok(Some((std::fs::File::from(fd), st)))
    }

    /// The target of the symbolic link at `path`.
    pub fn link_target(&self, path: &TreePath) -> Result<Option<Vec<u8>>, WriteError> {
        let Some((dir, name)) = self.parent_of(path, false)? else {
            return Ok(None);
        };
        match rustix::fs::readlinkat(&*dir, name, Vec::new()) {
            Ok(t) => Ok(Some(t.into_bytes())),
            Err(Errno::NOENT | Errno::INVAL) => Ok(None),
            Err(e) => Err(classify(path.as_bytes(), e)),
        }
    }

    /// Writes `content` at `path`. The entry there (if any) is checked with
    /// `expect` at the swap; if it isn't what Ferry expected, it is kept
    /// under a conflict-copy name from `copy_name`. A directory in the way
    /// is never replaced: [`WriteError::Occupied`].
    pub fn write(
        &self,
        path: &TreePath,
        content: Content<'_>,
        expect: Expect<'_>,
        copy_name: CopyName<'_>,
    ) -> Result<Written, WriteError> {
        let (dir, name) = self
            .parent_of(path, true)?
            .expect("parents are created when missing");
        let current = match rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(Stat::from_raw(&st)),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(classify(path.as_bytes(), e)),
        };
        if current.is_some_and(|c| c.kind() == Kind::Dir) {
            return Err(WriteError::Occupied(path.display()));
        }
        let tmp = random_temp_name();
        let made = self.make_temp(
            &dir,
            &tmp,
            content,
            current.filter(|c| c.kind() == Kind::File),
        );
        let (file, tmp_stat) = match made {
            Ok(made) => made,
            Err(e) => {
                let _ = rustix::fs::unlinkat(&*dir, &tmp[..], AtFlags::empty());
                return Err(classify(path.as_bytes(), e));
            }
        };
        let result = self.swap_in(&dir, &tmp, name, path, expect, copy_name);
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&*dir, &tmp[..], AtFlags::empty());
        }
        let copy = result?;
        let (parent, _) = path.split();
        self.touched
            .lock()
            .expect("touched dirs")
            .insert(parent.unwrap_or(b"").to_vec());
        // The status after the rename (which changes the ctime), of the
        // very inode written: a save that replaced it since reads as changed.
        let stat = match file {
            Some(f) => Stat::from_raw(&rustix::fs::fstat(&f).map_err(|e| folder(e.into()))?),
            None => match rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if Stat::from_raw(&st).ino == tmp_stat.ino => Stat::from_raw(&st),
                _ => Stat::default(),
            },
        };
        Ok(match copy {
            None => Written::Done(stat),
            Some(copy) => Written::KeptLocal { stat, copy },
        })
    }

    /// Writes `content` at `path` where nothing is expected (a first
    /// checkout): created in place, exclusively (`O_EXCL`, never through a
    /// link) — one directory operation instead of a temp file and a rename.
    /// Anything found there goes through [`FolderWriter::write`] instead, so
    /// it is checked with `expect` and kept if unrecognised. A failed write
    /// removes its own file; a killed one leaves a prefix of the content,
    /// which the caller's `expect` can recognise when it starts over.
    pub fn create(
        &self,
        path: &TreePath,
        content: Content<'_>,
        expect: Expect<'_>,
        copy_name: CopyName<'_>,
    ) -> Result<Written, WriteError> {
        let (dir, name) = self
            .parent_of(path, true)?
            .expect("parents are created when missing");
        let (reader, executable): (&mut dyn Read, bool) = match content {
            Content::Symlink { target } if self.caps.symlinks => {
                match rustix::fs::symlinkat(target, &*dir, name) {
                    Ok(()) => {
                        self.touch(path);
                        let st = rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW)
                            .map_err(|e| classify(path.as_bytes(), e))?;
                        return Ok(Written::Done(Stat::from_raw(&st)));
                    }
                    Err(Errno::EXIST) => {
                        return self.write(path, Content::Symlink { target }, expect, copy_name)
                    }
                    Err(Errno::PERM | Errno::NOSYS | Errno::OPNOTSUPP) => {
                        return self.create(
                            path,
                            Content::File {
                                reader: &mut &target[..],
                                executable: false,
                            },
                            expect,
                            copy_name,
                        )
                    }
                    Err(e) => return Err(classify(path.as_bytes(), e)),
                }
            }
            Content::Symlink { target } => {
                return self.create(
                    path,
                    Content::File {
                        reader: &mut &target[..],
                        executable: false,
                    },
                    expect,
                    copy_name,
                )
            }
            Content::File { reader, executable } => (reader, executable),
        };
        let fd = match rustix::fs::openat(
            &*dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(if executable { 0o777 } else { 0o666 }),
        ) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => {
                return self.write(
                    path,
                    Content::File { reader, executable },
                    expect,
                    copy_name,
                )
            }
            Err(e) => return Err(classify(path.as_bytes(), e)),
        };
        self.touch(path);
        let mut file = std::fs::File::from(fd);
        let written = copy_all(reader, &mut file).and_then(|()| {
            if self.durability == Durability::EachFile {
                rustix::fs::fdatasync(&file)?;
            }
            rustix::fs::fstat(&file)
        });
        match written {
            Ok(st) => Ok(Written::Done(Stat::from_raw(&st))),
            Err(e) => {
                drop(file);
                let _ = rustix::fs::unlinkat(&*dir, name, AtFlags::empty());
                Err(classify(path.as_bytes(), e))
            }
        }
    }

    /// Creates and removes a temp file at the folder's top: whether anything
    /// can be written here at all (read-only mounts, ACLs, quotas).
    pub fn probe(&self) -> Result<(), WriteError> {
        let name = random_temp_name();
        let fd = rustix::fs::openat(
            &*self.root,
            &name[..],
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| classify(b".", e))?;
        drop(fd);
        rustix::fs::unlinkat(&*self.root, &name[..], AtFlags::empty())
            .map_err(|e| classify(b".", e))
    }

    /// Notes that the directory of `path` changed (for [`FolderWriter::sync`]).
    fn touch(&self, path: &TreePath) {
        if self.durability == Durability::EachFile {
            let (parent, _) = path.split();
            self.touched
                .lock()
                .expect("touched dirs")
                .insert(parent.unwrap_or(b"").to_vec());
        }
    }

    /// Creates the temp file (or link) `tmp` in `dir` with `content`.
    /// `replacing`: the regular file it will replace, whose permission
    /// bits it takes.
    fn make_temp(
        &self,
        dir: &OwnedFd,
        tmp: &[u8],
        content: Content<'_>,
        replacing: Option<Stat>,
    ) -> Result<(Option<std::fs::File>, Stat), Errno> {
        match content {
            Content::Symlink { target } if self.caps.symlinks => {
                match rustix::fs::symlinkat(target, dir, tmp) {
                    Ok(()) => {}
                    Err(Errno::PERM | Errno::NOSYS | Errno::OPNOTSUPP) => {
                        return self.make_temp(
                            dir,
                            tmp,
                            Content::File {
                                reader: &mut &target[..],
                                executable: false,
                            },
                            replacing,
                        )
                    }
                    Err(e) => return Err(e),
                }
                let st = rustix::fs::statat(dir, tmp, AtFlags::SYMLINK_NOFOLLOW)?;
                Ok((None, Stat::from_raw(&st)))
            }
            Content::Symlink { target } => self.make_temp(
                dir,
                tmp,
                Content::File {
                    reader: &mut &target[..],
                    executable: false,
                },
                replacing,
            ),
            Content::File { reader, executable } => {
                // A new file: the kernel applies the umask to 0666/0777. A
                // replaced one: private while written, then the old bits.
                let (create_mode, final_mode) = match replacing {
                    Some(old) => (0o600, Some(with_exec(old.mode, executable))),
                    None => (if executable { 0o777 } else { 0o666 }, None),
                };
                let fd = rustix::fs::openat(
                    dir,
                    tmp,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(create_mode),
                )?;
                let mut file = std::fs::File::from(fd);
                copy_all(reader, &mut file)?;
                if let Some(mode) = final_mode.filter(|_| self.caps.exec_bit) {
                    // Where the file system keeps no modes (exFAT, FAT), it may
                    // refuse: the content matters, the bits can't be kept there.
                    match rustix::fs::fchmod(&file, Mode::from_raw_mode(mode)) {
                        Ok(()) | Err(Errno::PERM | Errno::NOSYS | Errno::OPNOTSUPP) => {}
                        Err(e) => return Err(e),
                    }
                }
                if self.durability == Durability::EachFile {
                    rustix::fs::fdatasync(&file)?;
                }
                let st = Stat::from_raw(&rustix::fs::fstat(&file)?);
                Ok((Some(file), st))
            }
        }
    }

    /// Moves `tmp` to `name` in `dir`. Whatever was at `name` is checked
    /// with `expect` after an atomic exchange (or, where the file system
    /// can't exchange, right before the rename); an entry Ferry doesn't
    /// recognise is kept as a conflict copy, whose path is returned.
    fn swap_in(
        &self,
        dir: &OwnedFd,
        tmp: &[u8],
        name: &[u8],
        path: &TreePath,
        expect: Expect<'_>,
        copy_name: CopyName<'_>,
    ) -> Result<Option<Vec<u8>>, WriteError> {
        let err = |e: Errno| classify(path.as_bytes(), e);
        crate::crash_point!("writer-before-swap");
        // Nothing there: the rename must not replace anything that appears meanwhile.
        match rustix::fs::renameat_with(dir, tmp, dir, name, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(None),
            Err(Errno::EXIST) => {}
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                return self.swap_in_checked(dir, tmp, name, path, expect, copy_name)
            }
            Err(e) => return Err(err(e)),
        }
        match rustix::fs::renameat_with(dir, tmp, dir, name, RenameFlags::EXCHANGE) {
            Ok(()) => {}
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                return self.swap_in_checked(dir, tmp, name, path, expect, copy_name)
            }
            Err(e) => return Err(err(e)),
        }
        // `tmp` now holds what was at the path. Whatever goes wrong from
        // here, that entry is never lost: it is swapped back first.
        crate::crash_point!("writer-exchanged");
        let swap_back = |e: WriteError| -> WriteError {
            match rustix::fs::renameat_with(dir, tmp, dir, name, RenameFlags::EXCHANGE) {
                Ok(()) => e,
                // Can't put it back: it stays under the temp name, which the
                // next start keeps as a recovered file (it is unknown to git).
                Err(_) => WriteError::Folder(io::Error::other(format!(
                    "{e}; the previous version of {} is kept beside it",
                    path.display()
                ))),
            }
        };
        let swapped = match rustix::fs::statat(dir, tmp, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Stat::from_raw(&st),
            Err(e) => return Err(swap_back(err(e))),
        };
        if swapped.kind() == Kind::Dir {
            // A folder appeared at the path meanwhile: put it back.
            return Err(swap_back(WriteError::Occupied(path.display())));
        }
        let old = Old {
            dir: dir.as_fd(),
            name: tmp,
            stat: Some(swapped),
        };
        if expect(&old) {
            // Ferry's own last version: it may go (left behind, it is swept).
            let _ = rustix::fs::unlinkat(dir, tmp, AtFlags::empty());
            return Ok(None);
        }
        match self.keep_as_copy(dir, tmp, path, copy_name) {
            Ok(copy) => Ok(Some(copy)),
            Err(e) => Err(swap_back(e)),
        }
    }

    /// The swap where the file system has no atomic exchange: the entry
    /// at the path is moved aside (atomically), checked there, and the new
    /// one renamed in without replacing anything — a save that lands in
    /// between is never overwritten.
    fn swap_in_checked(
        &self,
        dir: &OwnedFd,
        tmp: &[u8],
        name: &[u8],
        path: &TreePath,
        expect: Expect<'_>,
        copy_name: CopyName<'_>,
    ) -> Result<Option<Vec<u8>>, WriteError> {
        let err = |e: Errno| classify(path.as_bytes(), e);
        let mut copy = None;
        for _ in 0..3 {
            let aside = random_temp_name();
            match rustix::fs::renameat(dir, name, dir, &aside[..]) {
                Ok(()) => {
                    let stat = rustix::fs::statat(dir, &aside[..], AtFlags::SYMLINK_NOFOLLOW)
                        .map(|st| Stat::from_raw(&st))
                        .ok();
                    if stat.is_some_and(|st| st.kind() == Kind::Dir) {
                        let _ = rename_noreplace(dir, &aside, name);
                        return Err(WriteError::Occupied(path.display()));
                    }
                    let old = Old {
                        dir: dir.as_fd(),
                        name: &aside,
                        stat,
                    };
                    if expect(&old) {
                        let _ = rustix::fs::unlinkat(dir, &aside[..], AtFlags::empty());
                    } else {
                        match self.keep_as_copy(dir, &aside, path, copy_name) {
                            Ok(c) => copy = Some(c),
                            Err(e) => {
                                let _ = rename_noreplace(dir, &aside, name);
                                return Err(e);
                            }
                        }
                    }
                }
                Err(Errno::NOENT) => {}
                Err(e) => return Err(err(e)),
            }
            match rename_noreplace(dir, tmp, name) {
                Ok(()) => return Ok(copy),
                // Saved again in between: look at that one too.
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(err(e)),
            }
        }
        Err(WriteError::Occupied(path.display()))
    }

    /// Renames the entry `tmp` in `dir` to the first free conflict-copy
    /// name for `path`; returns that copy's path in the folder.
    fn keep_as_copy(
        &self,
        dir: &OwnedFd,
        tmp: &[u8],
        path: &TreePath,
        copy_name: CopyName<'_>,
    ) -> Result<Vec<u8>, WriteError> {
        let (parent, _) = path.split();
        for n in 1..10_000 {
            let candidate = copy_name(n);
            let leaf = match candidate.iter().rposition(|b| *b == b'/') {
                Some(i) => candidate[i + 1..].to_vec(),
                None => candidate.clone(),
            };
            match rename_noreplace(dir, tmp, &leaf) {
                Ok(()) => {
                    let mut full = parent.map(|p| p.to_vec()).unwrap_or_default();
                    if !full.is_empty() {
                        full.push(b'/');
                    }
                    full.extend_from_slice(&leaf);
                    return Ok(full);
                }
                Err(Errno::EXIST | Errno::NOTEMPTY) => continue,
                Err(e) => return Err(classify(&candidate, e)),
            }
        }
        Err(WriteError::Occupied(path.display()))
    }

    /// Removes the file or link at `path` if `expect` recognises it; a
    /// changed one stays (modify beats delete). Empty parent folders are
    /// left for [`FolderWriter::remove_empty_dirs`].
    pub fn remove(
        &self,
        path: &TreePath,
        expect: Expect<'_>,
        copy_name: CopyName<'_>,
    ) -> Result<Removed, WriteError> {
        let (dir, name) = match self.parent_of(path, false) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(Removed::Absent),
            // The path can't exist as a file: nothing of it to remove.
            Err(WriteError::ThroughSymlink(_) | WriteError::Occupied(_)) => {
                return Ok(Removed::Absent)
            }
            Err(e) => return Err(e),
        };
        let err = |e: Errno| classify(path.as_bytes(), e);
        let current = match rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Stat::from_raw(&st),
            Err(Errno::NOENT) => return Ok(Removed::Absent),
            Err(e) => return Err(err(e)),
        };
        if current.kind() == Kind::Dir {
            // The user made a folder of it: that is a change, kept.
            return Ok(Removed::KeptLocal { copy: None });
        }
        // Move it aside atomically, then look at what was moved.
        let aside = random_temp_name();
        match rustix::fs::renameat(&*dir, name, &*dir, &aside[..]) {
            Ok(()) => {}
            Err(Errno::NOENT) => return Ok(Removed::Absent),
            Err(e) => return Err(err(e)),
        }
        let stat = rustix::fs::statat(&*dir, &aside[..], AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| Stat::from_raw(&st))
            .ok();
        let old = Old {
            dir: dir.as_fd(),
            name: &aside,
            stat,
        };
        let (parent, _) = path.split();
        self.touched
            .lock()
            .expect("touched dirs")
            .insert(parent.unwrap_or(b"").to_vec());
        if expect(&old) {
            rustix::fs::unlinkat(&*dir, &aside[..], AtFlags::empty()).map_err(err)?;
            return Ok(Removed::Done);
        }
        // Changed since Ferry saw it: put it back.
        match rename_noreplace(&dir, &aside, name) {
            Ok(()) => Ok(Removed::KeptLocal { copy: None }),
            Err(Errno::EXIST | Errno::NOTEMPTY) => {
                let copy = self.keep_as_copy(&dir, &aside, path, copy_name)?;
                Ok(Removed::KeptLocal { copy: Some(copy) })
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Sets or clears the executable bit of the regular file at `path`,
    /// if `expect` recognises it. False when it was changed or is gone.
    pub fn set_executable(
        &self,
        path: &TreePath,
        executable: bool,
        expect: Expect<'_>,
    ) -> Result<Option<Stat>, WriteError> {
        let Some((dir, name)) = self.parent_of(path, false)? else {
            return Ok(None);
        };
        let fd = match rustix::fs::openat(
            &*dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::LOOP) => return Ok(None),
            Err(e) => return Err(classify(path.as_bytes(), e)),
        };
        let st = Stat::from_raw(&rustix::fs::fstat(&fd).map_err(|e| folder(e.into()))?);
        let old = Old {
            dir: dir.as_fd(),
            name,
            stat: Some(st),
        };
        if st.kind() != Kind::File || !expect(&old) {
            return Ok(None);
        }
        if self.caps.exec_bit {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(with_exec(st.mode, executable)))
                .map_err(|e| classify(path.as_bytes(), e))?;
        }
        Ok(Some(Stat::from_raw(
            &rustix::fs::fstat(&fd).map_err(|e| folder(e.into()))?,
        )))
    }

    /// Removes the now-empty folders that held `paths` (deepest first);
    /// a folder with anything left in it stays.
    pub fn remove_empty_dirs<'p>(&self, paths: impl IntoIterator<Item = &'p TreePath>) {
        let mut dirs: Vec<&[u8]> = paths.into_iter().flat_map(|p| p.ancestors()).collect();
        dirs.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then(b.cmp(a)));
        dirs.dedup();
        for rel in dirs {
            let (parent, name) = match rel.iter().rposition(|b| *b == b'/') {
                Some(i) => (&rel[..i], &rel[i + 1..]),
                None => (&rel[..0], rel),
            };
            let Ok(Some(parent_fd)) = self.dir(parent, false) else {
                continue;
            };
            if rustix::fs::unlinkat(&*parent_fd, name, AtFlags::REMOVEDIR).is_ok() {
                let mut cache = self.dirs.lock().expect("dir cache");
                cache.retain(|k, _| {
                    !(k == rel || k.starts_with(rel) && k.get(rel.len()) == Some(&b'/'))
                });
                self.touched
                    .lock()
                    .expect("touched dirs")
                    .insert(parent.to_vec());
            }
        }
    }

    /// Removes Ferry's temp files (`.ferry-tmp-*`) that a killed process
    /// left in the folders `dirs` (paths inside the folder; empty: the root).
    /// One whose content `known` doesn't recognise (a user's save caught
    /// mid-swap) is kept, renamed to a visible name from `recovered_name`.
    pub fn remove_stale_temps<'d>(
        &self,
        dirs: impl IntoIterator<Item = &'d [u8]>,
        known: &dyn Fn(&Old<'_>) -> bool,
        recovered_name: CopyName<'_>,
    ) {
        for rel in dirs {
            let Ok(Some(fd)) = self.dir(rel, false) else {
                continue;
            };
            let Ok(dup) = rustix::io::fcntl_dupfd_cloexec(&*fd, 0) else {
                continue;
            };
            let Ok(mut entries) = rustix::fs::Dir::read_from(&dup) else {
                continue;
            };
            let mut stale = Vec::new();
            while let Some(Ok(entry)) = entries.next() {
                let name = entry.file_name().to_bytes();
                if name.starts_with(TEMP_PREFIX.as_bytes()) {
                    stale.push(name.to_vec());
                }
            }
            for name in stale {
                let Ok(st) = rustix::fs::statat(&*fd, &name[..], AtFlags::SYMLINK_NOFOLLOW) else {
                    continue;
                };
                let st = Stat::from_raw(&st);
                if st.kind() == Kind::Dir {
                    continue;
                }
                let old = Old {
                    dir: fd.as_fd(),
                    name: &name,
                    stat: Some(st),
                };
                if known(&old) {
                    let _ = rustix::fs::unlinkat(&*fd, &name[..], AtFlags::empty());
                } else {
                    let recovered = TreePath(if rel.is_empty() {
                        b"recovered".to_vec()
                    } else {
                        [rel, b"/recovered"].concat()
                    });
                    match self.keep_as_copy(&fd, &name, &recovered, recovered_name) {
                        Ok(p) => tracing::warn!(
                            path = %String::from_utf8_lossy(&p),
                            "kept a file an interrupted update had set aside"
                        ),
                        Err(e) => tracing::warn!("couldn't keep a set-aside file: {e}"),
                    }
                }
            }
        }
    }

    /// Removes Ferry's temp files anywhere in the folder (never under
    /// `.git`, never through a link): after a crash whose journal can't say
    /// where the apply was writing.
    pub fn remove_stale_temps_everywhere(
        &self,
        known: &dyn Fn(&Old<'_>) -> bool,
        recovered_name: CopyName<'_>,
    ) {
        let mut dirs: Vec<Vec<u8>> = vec![Vec::new()];
        let mut all = Vec::new();
        while let Some(rel) = dirs.pop() {
            let Ok(Some(fd)) = self.dir(&rel, false) else {
                continue;
            };
            let Ok(dup) = rustix::io::fcntl_dupfd_cloexec(&*fd, 0) else {
                continue;
            };
            let Ok(mut entries) = rustix::fs::Dir::read_from(&dup) else {
                continue;
            };
            while let Some(Ok(entry)) = entries.next() {
                let name = entry.file_name().to_bytes();
                if name == b"." || name == b".." || (rel.is_empty() && name == b".git") {
                    continue;
                }
                let is_dir = rustix::fs::statat(&*fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
                if is_dir {
                    let mut child = rel.clone();
                    if !child.is_empty() {
                        child.push(b'/');
                    }
                    child.extend_from_slice(name);
                    dirs.push(child);
                }
            }
            all.push(rel);
        }
        self.remove_stale_temps(all.iter().map(Vec::as_slice), known, recovered_name);
    }

    /// Makes what was written durable: each changed directory is synced
    /// ([`Durability::EachFile`]), or the whole file system once.
    pub fn sync(&self) -> Result<(), WriteError> {
        match self.durability {
            Durability::AtEnd => {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                rustix::fs::syncfs(&*self.root).map_err(|e| folder(e.into()))?;
                #[cfg(not(any(target_os = "linux", target_os = "android")))]
                rustix::fs::fsync(&*self.root).map_err(|e| folder(e.into()))?;
            }
            Durability::EachFile => {
                let touched = std::mem::take(&mut *self.touched.lock().expect("touched dirs"));
                for rel in touched {
                    if let Ok(Some(fd)) = self.dir(&rel, false) {
                        match rustix::fs::fsync(&*fd) {
                            Ok(()) | Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {}
                            Err(e) => return Err(folder(e.into())),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `renameat2(RENAME_NOREPLACE)`, or a check-then-rename where the file
/// system doesn't have it.
fn rename_noreplace(dir: &OwnedFd, from: &[u8], to: &[u8]) -> Result<(), Errno> {
    match rustix::fs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            match rustix::fs::statat(dir, to, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => Err(Errno::EXIST),
                Err(Errno::NOENT) => rustix::fs::renameat(dir, from, dir, to),
                Err(e) => Err(e),
            }
        }
        other => other,
    }
}

fn copy_all(reader: &mut dyn Read, file: &mut std::fs::File) -> Result<(), Errno> {
    // io::copy reads straight from an in-memory blob's own buffer.
    std::io::copy(reader, file)
        .map(|_| ())
        .map_err(|e| io_to_errno(&e))
}

fn io_to_errno(e: &io::Error) -> Errno {
    e.raw_os_error()
        .map(Errno::from_raw_os_error)
        .unwrap_or(Errno::IO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn p(s: &str) -> TreePath {
        TreePath::new(s.as_bytes(), false).unwrap()
    }

    fn writer(dir: &Path) -> FolderWriter {
        FolderWriter::open(dir, Capabilities::default(), Durability::EachFile).unwrap()
    }

    fn file(bytes: &[u8]) -> Content<'_> {
        // A fresh reader per call.
        Content::File {
            reader: Box::leak(Box::new(bytes)),
            executable: false,
        }
    }

    fn copy(n: u32) -> Vec<u8> {
        format!("copy {n}").into_bytes()
    }

    #[test]
    fn tree_paths_are_refused_as_git_refuses_them() {
        for bad in [
            "..",
            "../x",
            "a/../x",
            ".",
            "a/./b",
            "",
            "a//b",
            "/etc/passwd",
            ".git",
            ".git/hooks/post-commit",
            ".GIT/config",
            "a/.Git/x",
            "git~1/config",
            ".git./x",
            ".git /x",
            // HFS+ ignores zero-width characters: ".g\u{200c}it".
            ".g\u{200c}it/x",
        ] {
            assert!(
                TreePath::new(bad.as_bytes(), false).is_err(),
                "{bad:?} is refused"
            );
        }
        assert!(
            TreePath::new(b".gitmodules", true).is_err(),
            "a .gitmodules link is refused"
        );
        for good in [
            "about.md",
            "docs/a b.md",
            "..\\escape.txt",
            "a\\b",
            "a:b.md",
            ".gitignore",
            ".gitlab-ci.yml",
            "café.md",
            "...",
            ".github/x",
        ] {
            assert!(
                TreePath::new(good.as_bytes(), false).is_ok(),
                "{good:?} is an ordinary name on Unix"
            );
        }
    }

    #[test]
    fn a_backslash_is_written_literally_inside_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("site");
        std::fs::create_dir(&root).unwrap();
        let w = writer(&root);
        let path = TreePath::new(b"..\\escape.txt", false).unwrap();
        w.write(&path, file(b"x"), &|_| true, &copy).unwrap();
        assert!(
            root.join("..\\escape.txt").is_file(),
            "one file, named with a backslash"
        );
        assert!(
            !tmp.path().join("escape.txt").exists(),
            "nothing outside the folder"
        );
    }

    #[test]
    fn nothing_is_written_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("site");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let w = writer(&root);
        w.write(
            &TreePath::new(b"up", true).unwrap(),
            Content::Symlink {
                target: b"../outside",
            },
            &|_| true,
            &copy,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_link(root.join("up")).unwrap(),
            Path::new("../outside")
        );
        let err = w
            .write(&p("up/escape.txt"), file(b"x"), &|_| true, &copy)
            .unwrap_err();
        assert!(matches!(err, WriteError::ThroughSymlink(_)), "{err:?}");
        assert!(
            !outside.join("escape.txt").exists(),
            "nothing written through the link"
        );
        assert_eq!(w.lookup(&p("up/escape.txt")).unwrap(), Found::Blocked);
        // A removal through the link removes nothing either.
        std::fs::write(outside.join("victim"), b"keep").unwrap();
        assert_eq!(
            w.remove(&p("up/victim"), &|_| true, &copy).unwrap(),
            Removed::Absent
        );
        assert!(
            outside.join("victim").exists(),
            "nothing removed through the link"
        );
        // Writing over the link itself replaces the link, not its target.
        w.write(&p("up"), file(b"now a file"), &|_| true, &copy)
            .unwrap();
        assert_eq!(std::fs::read(root.join("up")).unwrap(), b"now a file");
        assert!(outside.is_dir());
    }

    #[test]
    fn a_temp_name_planted_as_a_link_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("site");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(tmp.path().join("victim"), b"precious").unwrap();
        // Links under every name of the old scheme, and a few of the new.
        for n in 0..50 {
            std::os::unix::fs::symlink("../victim", root.join(format!("{TEMP_PREFIX}{n:016x}")))
                .unwrap();
        }
        let w = writer(&root);
        w.write(&p("note.md"), file(b"new"), &|_| true, &copy)
            .unwrap();
        assert_eq!(
            std::fs::read(tmp.path().join("victim")).unwrap(),
            b"precious"
        );
    }

    #[test]
    fn a_file_changed_before_the_swap_is_kept_as_a_conflict_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("about.md"), b"user's save").unwrap();
        let w = writer(root);
        // The caller expected another version: what is there is kept.
        let out = w
            .write(&p("about.md"), file(b"server"), &|_| false, &|n| {
                format!("about (conflict {n}).md").into_bytes()
            })
            .unwrap();
        assert!(
            matches!(&out, Written::KeptLocal { copy, .. } if copy == b"about (conflict 1).md")
        );
        assert_eq!(std::fs::read(root.join("about.md")).unwrap(), b"server");
        assert_eq!(
            std::fs::read(root.join("about (conflict 1).md")).unwrap(),
            b"user's save"
        );
        // A second copy takes the next free name.
        std::fs::write(root.join("about.md"), b"second save").unwrap();
        w.write(&p("about.md"), file(b"server 2"), &|_| false, &|n| {
            format!("about (conflict {n}).md").into_bytes()
        })
        .unwrap();
        assert_eq!(
            std::fs::read(root.join("about (conflict 2).md")).unwrap(),
            b"second save"
        );
        let temps: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(temps.is_empty(), "no temp file left");
    }

    #[test]
    fn a_file_that_appears_where_a_new_one_goes_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let w = writer(tmp.path());
        let expect_absent: Expect<'_> = &|old| old.stat.is_none();
        std::fs::write(tmp.path().join("new.md"), b"made by the user").unwrap();
        let out = w
            .write(&p("new.md"), file(b"server"), expect_absent, &copy)
            .unwrap();
        assert!(matches!(out, Written::KeptLocal { .. }));
        assert_eq!(
            std::fs::read(tmp.path().join("copy 1")).unwrap(),
            b"made by the user"
        );
    }

    #[test]
    fn removal_keeps_a_changed_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("docs")).unwrap();
        std::fs::write(tmp.path().join("docs/a.md"), b"edited").unwrap();
        std::fs::write(tmp.path().join("docs/b.md"), b"old").unwrap();
        let w = writer(tmp.path());
        assert_eq!(
            w.remove(&p("docs/a.md"), &|_| false, &copy).unwrap(),
            Removed::KeptLocal { copy: None }
        );
        assert_eq!(
            std::fs::read(tmp.path().join("docs/a.md")).unwrap(),
            b"edited"
        );
        assert_eq!(
            w.remove(&p("docs/b.md"), &|_| true, &copy).unwrap(),
            Removed::Done
        );
        assert!(!tmp.path().join("docs/b.md").exists());
        w.remove_empty_dirs([&p("docs/a.md"), &p("docs/b.md")]);
        assert!(
            tmp.path().join("docs").is_dir(),
            "a folder with a file left stays"
        );
        std::fs::remove_file(tmp.path().join("docs/a.md")).unwrap();
        let w = writer(tmp.path());
        w.remove_empty_dirs([&p("docs/a.md")]);
        assert!(!tmp.path().join("docs").exists(), "an empty folder goes");
    }

    #[test]
    fn permissions_follow_the_old_file_and_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let private = tmp.path().join("notes.md");
        std::fs::write(&private, b"v1").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        let w = writer(tmp.path());
        w.write(&p("notes.md"), file(b"v2"), &|_| true, &copy)
            .unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "a private file stays private");
        w.write(
            &p("run.sh"),
            Content::File {
                reader: &mut &b"#!/bin/sh\n"[..],
                executable: true,
            },
            &|_| true,
            &copy,
        )
        .unwrap();
        let mode = std::fs::metadata(tmp.path().join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o100, 0o100, "executable from the tree");
        w.set_executable(&p("notes.md"), true, &|_| true).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700, "x only where r is");
    }

    #[test]
    fn a_folder_in_the_way_is_never_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("press")).unwrap();
        std::fs::write(tmp.path().join("press/keep.md"), b"x").unwrap();
        let w = writer(tmp.path());
        let err = w
            .write(&p("press"), file(b"file"), &|_| true, &copy)
            .unwrap_err();
        assert!(matches!(err, WriteError::Occupied(_)));
        assert!(tmp.path().join("press/keep.md").exists());
        // And a file in the way of a folder.
        std::fs::write(tmp.path().join("notes"), b"a file").unwrap();
        let err = w
            .write(&p("notes/a.md"), file(b"x"), &|_| true, &copy)
            .unwrap_err();
        assert!(matches!(err, WriteError::Occupied(_)), "{err:?}");
    }

    #[test]
    fn stale_temps_are_removed_but_not_through_links() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("site");
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join(format!("d/{TEMP_PREFIX}0123")), b"half").unwrap();
        std::fs::write(tmp.path().join("victim"), b"keep").unwrap();
        std::os::unix::fs::symlink("../../victim", root.join(format!("d/{TEMP_PREFIX}link")))
            .unwrap();
        std::fs::write(root.join(format!("d/{TEMP_PREFIX}save")), b"a user's save").unwrap();
        let w = writer(&root);
        let known = |old: &Old<'_>| {
            old.stat.is_some_and(|s| s.kind() == Kind::Symlink)
                || old
                    .open()
                    .ok()
                    .and_then(|mut f| {
                        let mut v = Vec::new();
                        f.read_to_end(&mut v).ok().map(|_| v)
                    })
                    .is_some_and(|v| v == b"half")
        };
        w.remove_stale_temps([&b"d"[..]], &known, &|n| {
            format!("recovered {n}").into_bytes()
        });
        let left: Vec<String> = std::fs::read_dir(root.join("d"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            vec!["recovered 1".to_string()],
            "only the unknown save is kept"
        );
        assert_eq!(
            std::fs::read(root.join("d/recovered 1")).unwrap(),
            b"a user's save"
        );
        assert_eq!(std::fs::read(tmp.path().join("victim")).unwrap(), b"keep");
    }
}
