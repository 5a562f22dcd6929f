//! Watching a folder: file events become "something changed" for the
//! folder's loop, as soon as a change can be committed whole.
//!
//! Editors save with close-after-write (or write a temporary file and
//! rename it into place). A file closed after writing (or renamed into
//! place) that nothing touches for a short settle time, that no one still
//! has open for writing, and whose status on disk hasn't changed for that
//! settle time either, is *settled*:
//! the loop is woken at once, and the snapshot commits it without waiting
//! the quiet period — as long as it still looks exactly as it did (inode,
//! size, times). Files written without a close, written in bursts or
//! changed in other ways wait the full quiet period after their last event,
//! as before — and so do files on disks with coarse timestamps (FAT), where
//! "unchanged" can't be told. Opens are not counted from events: inotify
//! reports no close of a file opened only to read (Ferry's own snapshot
//! reads every file it commits), so a count could never come back to zero.
//! Instead, on Linux, whether anyone has the file open for writing is
//! asked of the kernel at that moment (a read lease can't be had on such a
//! file); where that can't be asked (another user's file, another system),
//! the file waits the quiet period. A write by anyone after the close
//! undoes "settled", and so does any change the snapshot sees.
//!
//! Events under `.git/` and Ferry's own temporary files never wake the
//! folder's loop, and symbolic links are never followed: a link a
//! collaborator pushed (say, to `/`) adds no watches outside the folder.
//! The watcher only triggers; the cycle always scans the whole folder, so a
//! dropped event, an overflow or a watcher error at worst delays a change
//! until the next trigger, and the periodic poll is the backstop. Errors
//! (such as the inotify watch limit) are logged and turn into a trigger,
//! never into silence.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::git::{Settled, SettledFiles};

/// How long a file closed after writing must then be left alone (a
/// script that writes a file in two steps usually takes less).
pub const SETTLE: Duration = Duration::from_millis(200);

/// How often pending files are looked at.
const TICK: Duration = Duration::from_millis(15);

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _inner: Option<RecommendedWatcher>,
    settled: Arc<Mutex<SettledFiles>>,
}

impl Watcher {
    /// The files settled since they were last written (see the module docs).
    pub fn settled(&self) -> SettledFiles {
        self.settled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// True when a change at `path` (inside `root`) should wake the loop.
pub fn relevant(root: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    if rel
        .components()
        .any(|c| c == Component::Normal(".git".as_ref()))
    {
        return false;
    }
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    !name.starts_with(crate::git::writer::TEMP_PREFIX)
        && !name.contains(".ferry-tmp-")
        && !name.contains(".ferry-write-check-")
}

/// Starts watching `root`; calls `changed` when a change is ready: a file
/// settled, or `quiet_ms` after the last event of any other change.
pub fn start(root: &Path, quiet_ms: u64, changed: impl Fn() + Send + 'static) -> Watcher {
    let quiet = Duration::from_millis(quiet_ms.clamp(100, 10_000));
    let settled = Arc::new(Mutex::new(SettledFiles::new()));
    let (tx, rx) = mpsc::channel::<notify::Result<Event>>();
    // Never follow a link out of the folder (a collaborator can push a link
    // to `/`): no watches beyond the folder itself.
    let config = notify::Config::default().with_follow_symlinks(false);
    let inner = match RecommendedWatcher::new(tx, config) {
        Ok(mut w) => match w.watch(root, RecursiveMode::Recursive) {
            Ok(()) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "can't watch {} ({e}); changes are picked up by periodic checks instead. \
                     On Linux, raise fs.inotify.max_user_watches if the folder is very large.",
                    root.display()
                );
                None
            }
        },
        Err(e) => {
            tracing::warn!("can't start the file watcher: {e}");
            None
        }
    };
    if inner.is_some() {
        let mut files = Files::new(root, quiet, settled.clone());
        let spawned = std::thread::Builder::new()
            .name("ferry-watch".into())
            .spawn(move || {
                // Ends when the watcher (the channel's sender) is dropped.
                loop {
                    // Nothing pending: sleep until something happens.
                    let event = if files.idle() {
                        rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected)
                    } else {
                        rx.recv_timeout(TICK)
                    };
                    match event {
                        Ok(event) => files.on(event, Instant::now()),
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                    // Everything queued first: a later write undoes a close.
                    while let Ok(event) = rx.try_recv() {
                        files.on(event, Instant::now());
                    }
                    if files.tick(Instant::now(), SystemTime::now()) {
                        changed();
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("can't start the file watcher: {e}");
        }
    }
    Watcher {
        _inner: inner,
        settled,
    }
}

/// What the watcher knows of one changed path.
#[derive(Debug)]
struct Pending {
    /// The last event that changed it (not an open, a read or a close).
    last_change: Instant,
    /// When it was last closed after writing (or renamed into place),
    /// unless something changed it since.
    closed: Option<Instant>,
    /// A close after writing came within the quiet period of another (a
    /// program writing in pieces), or the file can't be judged whole (still
    /// open for writing, coarse timestamps): it waits the full quiet period.
    bursty: bool,
}

/// Whether a file closed after writing can be taken as whole now.
enum Whole {
    /// Yes: this is how it looks.
    Yes(Settled),
    /// Its status on disk changed too recently: look again.
    NotYet,
    /// It can't be told (or someone still writes it): the quiet period.
    CantTell,
}

/// True when someone has `file` open for writing, asked of the kernel: a
/// read lease can't be had on such a file. `None` when the kernel won't
/// say (not the file's owner, a disk without leases).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // fcntl(F_SETLEASE) has no safe wrapper in std or rustix.
fn open_for_writing(path: &Path) -> Option<bool> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let fd = file.as_raw_fd();
    // Linux's F_SETSIG (asm-generic/fcntl.h, every architecture); the libc
    // crate doesn't export it for glibc targets.
    const F_SETSIG: libc::c_int = 10;
    // SAFETY: fcntl on a descriptor this function owns and keeps open for
    // both calls. A writer opening the file while the lease is held (for
    // microseconds) would send a lease-break signal: SIGURG, ignored by
    // default, never the default SIGIO, which would end the process.
    unsafe {
        if libc::fcntl(fd, F_SETSIG, libc::SIGURG) != 0 {
            return None;
        }
        if libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) == 0 {
            libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK);
            return Some(false);
        }
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) => Some(true),
        _ => None,
    }
}

#[cfg(not(target_os = "linux"))]
fn open_for_writing(_path: &Path) -> Option<bool> {
    None
}

/// Can the file at `path`, closed after writing, be taken as whole now (at
/// `wall` time)?
fn whole(path: &Path, wall: SystemTime) -> Whole {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Whole::CantTell;
    };
    let Some(settled) = Settled::of(&meta) else {
        return Whole::CantTell;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Whole seconds only (FAT): a rewrite within the second can't be seen.
        if meta.mtime_nsec() == 0 && meta.ctime_nsec() == 0 {
            return Whole::CantTell;
        }
        // A write whose event hasn't reached us yet still shows here.
        let ctime = SystemTime::UNIX_EPOCH
            + Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec() as u32);
        if wall.duration_since(ctime).unwrap_or_default() < SETTLE {
            return Whole::NotYet;
        }
    }
    match open_for_writing(path) {
        Some(false) => Whole::Yes(settled),
        _ => Whole::CantTell,
    }
}

/// The watcher's bookkeeping, driven by events and ticks (no threads, no
/// clock of its own: unit-tested below).
struct Files {
    root: PathBuf,
    quiet: Duration,
    pending: HashMap<PathBuf, Pending>,
    /// When each path was last closed after writing (for bursts).
    last_close: HashMap<PathBuf, Instant>,
    /// Something changed that isn't a single path (an error, an overflow).
    rescan: bool,
    settled: Arc<Mutex<SettledFiles>>,
}

impl Files {
    fn new(root: &Path, quiet: Duration, settled: Arc<Mutex<SettledFiles>>) -> Files {
        Files {
            root: root.to_path_buf(),
            quiet,
            pending: HashMap::new(),
            last_close: HashMap::new(),
            rescan: false,
            settled,
        }
    }

    fn key(&self, path: &Path) -> Option<Vec<u8>> {
        let rel = path.strip_prefix(&self.root).ok()?;
        #[cfg(unix)]
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(rel.as_os_str()).to_vec();
        #[cfg(not(unix))]
        let bytes = rel.to_string_lossy().replace('\\', "/").into_bytes();
        Some(bytes)
    }

    fn unsettle(&self, path: &Path) {
        if let Some(key) = self.key(path) {
            self.settled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }

    fn on(&mut self, event: notify::Result<Event>, now: Instant) {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("watching {}: {e}", self.root.display());
                self.forget_all();
                return;
            }
        };
        if event.need_rescan() || event.kind == EventKind::Other {
            // Events were lost: nothing is known to be settled any more.
            self.forget_all();
            return;
        }
        let mut kind = event.kind;
        if kind == EventKind::Modify(ModifyKind::Name(RenameMode::Both)) {
            // inotify reports the two halves on their own too.
            if cfg!(target_os = "linux") {
                return;
            }
            if let [from, to] = event.paths.as_slice() {
                self.on_path(
                    EventKind::Modify(ModifyKind::Name(RenameMode::From)),
                    from,
                    now,
                );
                self.on_path(EventKind::Modify(ModifyKind::Name(RenameMode::To)), to, now);
                return;
            }
            kind = EventKind::Modify(ModifyKind::Any);
        }
        for path in &event.paths {
            self.on_path(kind, path, now);
        }
    }

    fn forget_all(&mut self) {
        self.pending.clear();
        self.last_close.clear();
        self.settled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.rescan = true;
    }

    fn on_path(&mut self, kind: EventKind, path: &Path, now: Instant) {
        if !relevant(&self.root, path) || path == self.root {
            return;
        }
        let quiet = self.quiet;
        match kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
                // Written and closed, or renamed into place whole.
                let bursty = self
                    .last_close
                    .insert(path.to_path_buf(), now)
                    .is_some_and(|at| now.duration_since(at) < quiet);
                let p = self.pending.entry(path.to_path_buf()).or_insert(Pending {
                    last_change: now,
                    closed: None,
                    bursty: false,
                });
                p.last_change = now;
                p.closed = Some(now);
                p.bursty |= bursty;
                self.unsettle(path);
            }
            // Opened, read, closed after reading: nothing changed.
            EventKind::Access(_) => {}
            _ => {
                // Written, created, deleted, renamed away, its attributes
                // changed: the full quiet period from now.
                let p = self.pending.entry(path.to_path_buf()).or_insert(Pending {
                    last_change: now,
                    closed: None,
                    bursty: false,
                });
                p.last_change = now;
                p.closed = None;
                self.unsettle(path);
            }
        }
    }

    /// True when nothing waits for a look (the thread may sleep).
    fn idle(&self) -> bool {
        self.pending.is_empty() && !self.rescan
    }

    /// Moves ready paths on (at `now`, the wall clock showing `wall`); true
    /// when the loop should look now.
    fn tick(&mut self, now: Instant, wall: SystemTime) -> bool {
        let mut wake = std::mem::take(&mut self.rescan);
        let mut ready: Vec<(PathBuf, Option<Settled>)> = Vec::new();
        let mut cant_tell: Vec<PathBuf> = Vec::new();
        for (path, p) in &self.pending {
            let closed_and_left_alone = p.closed.is_some_and(|c| {
                !p.bursty && now.duration_since(c) >= SETTLE && p.last_change <= c
            });
            if closed_and_left_alone {
                match whole(path, wall) {
                    Whole::Yes(settled) => ready.push((path.clone(), Some(settled))),
                    Whole::NotYet => {}
                    Whole::CantTell => cant_tell.push(path.clone()),
                }
            } else if now.duration_since(p.last_change) >= self.quiet {
                ready.push((path.clone(), None));
            }
        }
        for path in cant_tell {
            if let Some(p) = self.pending.get_mut(&path) {
                p.bursty = true;
            }
        }
        for (path, settled) in ready {
            self.pending.remove(&path);
            wake = true;
            if let (Some(key), Some(s)) = (self.key(&path), settled) {
                self.settled
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, s);
            }
        }
        // Old closes say nothing about bursts any more; settled files past
        // the quiet period need no favour.
        let quiet = self.quiet;
        self.last_close
            .retain(|_, at| now.duration_since(*at) < quiet * 2);
        if self.pending.is_empty() && self.last_close.is_empty() {
            self.settled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
        wake
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange};

    #[test]
    fn git_internals_and_ferry_temp_files_are_ignored() {
        let root = Path::new("/home/e/site");
        assert!(relevant(root, Path::new("/home/e/site/about.md")));
        assert!(relevant(root, Path::new("/home/e/site/docs/a.md")));
        assert!(!relevant(root, Path::new("/home/e/site/.git/index")));
        assert!(!relevant(
            root,
            Path::new("/home/e/site/.git/refs/heads/main")
        ));
        assert!(!relevant(
            root,
            Path::new("/home/e/site/docs/.a.md.ferry-tmp-123")
        ));
    }

    struct Folder {
        dir: tempfile::TempDir,
        files: Files,
        t0: Instant,
        /// The wall clock at `t0` (the files' real status-change times are
        /// compared with it).
        wall0: SystemTime,
    }

    impl Folder {
        fn new() -> Folder {
            let dir = tempfile::tempdir().unwrap();
            let files = Files::new(dir.path(), Duration::from_secs(1), Default::default());
            Folder {
                dir,
                files,
                t0: Instant::now(),
                wall0: SystemTime::now(),
            }
        }
        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
        fn event(&mut self, ms: u64, kind: EventKind, name: &str) {
            let path = self.path(name);
            let at = self.t0 + Duration::from_millis(ms);
            self.files.on(Ok(Event::new(kind).add_path(path)), at);
        }
        fn tick(&mut self, ms: u64) -> bool {
            let d = Duration::from_millis(ms);
            self.files.tick(self.t0 + d, self.wall0 + d)
        }
        fn settled(&self) -> Vec<String> {
            let mut names: Vec<String> = self
                .files
                .settled
                .lock()
                .unwrap()
                .keys()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect();
            names.sort();
            names
        }
    }

    const OPEN: EventKind = EventKind::Access(AccessKind::Open(AccessMode::Any));
    const WRITE: EventKind = EventKind::Modify(ModifyKind::Data(DataChange::Any));
    const CLOSE_WRITE: EventKind = EventKind::Access(AccessKind::Close(AccessMode::Write));
    const CLOSE_READ: EventKind = EventKind::Access(AccessKind::Close(AccessMode::Read));

    #[test]
    fn a_save_closed_after_writing_settles_at_once() {
        let mut f = Folder::new();
        std::fs::write(f.path("a.md"), "saved\n").unwrap();
        f.event(0, EventKind::Create(CreateKind::File), "a.md");
        f.event(0, OPEN, "a.md");
        f.event(1, WRITE, "a.md");
        f.event(2, CLOSE_WRITE, "a.md");
        assert!(!f.tick(100), "not before the settle time");
        assert!(
            f.tick(260),
            "settled: the loop looks now, not after a second"
        );
        assert_eq!(f.settled(), ["a.md"]);
        assert!(!f.tick(290), "once");
        assert!(f.files.idle(), "nothing left to look at: the thread sleeps");
    }

    #[test]
    fn a_file_written_without_a_close_or_written_again_waits_the_quiet_period() {
        let mut f = Folder::new();
        std::fs::write(f.path("a.md"), "x").unwrap();
        // Written, still open: no close yet.
        f.event(0, OPEN, "a.md");
        f.event(0, WRITE, "a.md");
        assert!(!f.tick(300), "still being written");
        // A write after the close undoes it.
        f.event(300, CLOSE_WRITE, "a.md");
        f.event(310, WRITE, "a.md");
        assert!(!f.tick(600));
        assert!(f.settled().is_empty());
        assert!(f.tick(1310), "the quiet period after the last write");
        assert!(
            f.settled().is_empty(),
            "not settled: it waited as any change"
        );
    }

    #[test]
    fn a_file_another_program_still_has_open_for_writing_waits_the_quiet_period() {
        // `: > log; slow_command >> log`: the first close isn't the end.
        let mut f = Folder::new();
        std::fs::write(f.path("log.txt"), "first part\n").unwrap();
        let writer = std::fs::OpenOptions::new()
            .append(true)
            .open(f.path("log.txt"))
            .unwrap();
        f.event(0, WRITE, "log.txt");
        f.event(1, CLOSE_WRITE, "log.txt");
        assert!(!f.tick(260), "someone still has it open for writing");
        assert!(f.settled().is_empty());
        drop(writer);
        assert!(!f.tick(500), "it waits the quiet period, whole or not");
        assert!(f.tick(1001));
        assert!(f.settled().is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_says_whether_a_file_is_open_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.md");
        std::fs::write(&path, "x").unwrap();
        assert_eq!(open_for_writing(&path), Some(false));
        let reader = std::fs::File::open(&path).unwrap();
        assert_eq!(open_for_writing(&path), Some(false), "readers don't count");
        let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert_eq!(open_for_writing(&path), Some(true));
        drop((reader, writer));
        assert_eq!(open_for_writing(&path), Some(false));
    }

    #[test]
    fn a_file_whose_status_changed_just_now_is_looked_at_again() {
        // Its last write's event hasn't arrived yet: the disk says so.
        let mut f = Folder::new();
        std::fs::write(f.path("a.md"), "x").unwrap();
        f.event(0, WRITE, "a.md");
        f.event(1, CLOSE_WRITE, "a.md");
        let later = f.t0 + Duration::from_millis(260);
        assert!(
            !f.files.tick(later, SystemTime::now()),
            "changed on disk just now"
        );
        assert!(f.settled().is_empty());
        let wall = SystemTime::now() + SETTLE;
        assert!(f.files.tick(later, wall), "then left alone: settled");
        assert_eq!(f.settled(), ["a.md"]);
    }

    #[test]
    fn bursts_of_saves_wait_the_quiet_period() {
        let mut f = Folder::new();
        std::fs::write(f.path("log.txt"), "x").unwrap();
        f.event(0, WRITE, "log.txt");
        f.event(1, CLOSE_WRITE, "log.txt");
        assert!(f.tick(260));
        f.event(400, WRITE, "log.txt");
        f.event(401, CLOSE_WRITE, "log.txt");
        assert!(
            !f.tick(700),
            "a second close within the quiet period is a burst"
        );
        assert!(f.settled().is_empty(), "the first settled state was undone");
        assert!(f.tick(1401));
    }

    #[test]
    fn a_file_read_earlier_still_settles_when_saved() {
        // inotify reports the open of a read but never its close: Ferry's
        // own snapshot reading the file must not hold later saves back.
        let mut f = Folder::new();
        std::fs::write(f.path("a.md"), "x").unwrap();
        f.event(0, OPEN, "a.md");
        f.event(100, OPEN, "a.md");
        f.event(100, WRITE, "a.md");
        f.event(101, CLOSE_WRITE, "a.md");
        assert!(f.tick(370));
        assert_eq!(f.settled(), ["a.md"]);
    }

    #[test]
    fn a_person_saving_again_later_still_settles_at_once() {
        let mut f = Folder::new();
        std::fs::write(f.path("a.md"), "x").unwrap();
        f.event(0, WRITE, "a.md");
        f.event(1, CLOSE_WRITE, "a.md");
        assert!(f.tick(260));
        // Saved again a second and a half later: not a burst.
        f.event(1500, WRITE, "a.md");
        f.event(1501, CLOSE_WRITE, "a.md");
        assert!(f.tick(1760));
        assert_eq!(f.settled(), ["a.md"]);
    }

    #[test]
    fn reading_a_file_changes_nothing_and_an_overflow_forgets_all() {
        let mut f = Folder::new();
        f.event(0, OPEN, "a.md");
        f.event(1, CLOSE_READ, "a.md");
        assert!(!f.tick(2000), "a read is not a change");
        std::fs::write(f.path("b.md"), "x").unwrap();
        f.event(2000, WRITE, "b.md");
        f.event(2001, CLOSE_WRITE, "b.md");
        assert!(f.tick(2260));
        assert_eq!(f.settled(), ["b.md"]);
        f.files.on(
            Ok(Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan)),
            f.t0,
        );
        assert!(f.settled().is_empty());
        assert!(f.tick(2280), "a rescan wakes the loop");
    }

    #[test]
    fn a_file_renamed_into_place_settles() {
        let mut f = Folder::new();
        std::fs::write(f.path("a.md"), "whole\n").unwrap();
        f.event(0, WRITE, ".a.md.swp");
        f.event(
            1,
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            "a.md",
        );
        assert!(f.tick(260));
        assert_eq!(f.settled(), ["a.md"]);
    }
}
