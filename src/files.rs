//! Ferry's own files (settings, status, journals, CA bundles — never the
//! synced folders' content, which only [`crate::git::writer`] writes):
//! written atomically, and locked between processes.
//!
//! Promises: a crash leaves a file wholly old or wholly new (temp file,
//! fsync, rename, directory fsync); files are readable by their owner
//! only; a lock is released when its holder drops it or dies.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` so that a crash leaves the old file or the new
/// one: temp file in the same directory, fsync, rename, fsync the directory.
/// The file is readable by its owner only.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// An exclusive advisory lock on a file, released on drop.
pub(crate) struct FileLock {
    #[allow(dead_code)] // held for its lock, released when closed
    file: File,
}

impl FileLock {
    /// Waits for and takes the lock on `path` (created if missing).
    pub(crate) fn acquire(path: &Path) -> io::Result<Self> {
        let file = lock_file(path)?;
        // Released when the file closes.
        #[cfg(unix)]
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(Self { file })
    }
}

/// The file a lock is taken on (created, with its folder, if missing;
/// never truncated).
fn lock_file(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// An exclusive lock on `path` if nobody holds it (`None` when someone does).
pub fn try_lock(path: &Path) -> io::Result<Option<File>> {
    let file = lock_file(path)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What a file looks like from outside (modified time, size, inode), to
/// notice that another process replaced or changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(Option<(std::time::SystemTime, u64, u64)>);

impl Stamp {
    /// `path`'s stamp now (a missing file has one too).
    pub fn of(path: &Path) -> Stamp {
        Stamp(std::fs::metadata(path).ok().map(|m| {
            #[cfg(unix)]
            let ino = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let ino = 0;
            (m.modified().unwrap_or(std::time::UNIX_EPOCH), m.len(), ino)
        }))
    }
}
