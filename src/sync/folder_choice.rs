//! The checks a directory must pass before it can become a synced folder:
//! the same checks for a drop on the window, "Choose folder…" and the CLI.
//!
//! Promise: checking writes nothing lasting (a probe file is created and
//! removed at once) and never changes the folder's content.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// A directory that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FolderChoice {
    /// The folder, with symbolic links resolved.
    pub path: PathBuf,
    /// Entries directly inside it (0 for an empty folder).
    pub existing_entries: usize,
    /// It already contains a `.git` directory.
    pub is_git_repository: bool,
}

/// What the checks need to know besides the path itself.
#[derive(Debug, Clone, Default)]
pub struct ChoiceContext {
    /// The user's home folder.
    pub home: Option<PathBuf>,
    /// Folders already being synced.
    pub synced: Vec<PathBuf>,
    /// Ferry's own state directory (settings, logs).
    pub state_dir: Option<PathBuf>,
}

impl ChoiceContext {
    /// The context for this user: their home folder, the folders in
    /// `config`, and Ferry's settings directory `state_dir`.
    pub fn for_user(config: &crate::config::Config, state_dir: &Path) -> Self {
        Self {
            home: dirs::home_dir(),
            synced: config.folders.iter().map(|f| f.path.clone()).collect(),
            state_dir: Some(state_dir.to_path_buf()),
        }
    }
}

/// Why a directory can't be a synced folder. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FolderRejection {
    /// Nothing exists at the path.
    #[error("There is no folder at {}. It may have been moved or deleted; choose it again.", .0.display())]
    Missing(PathBuf),
    /// The path is a file, not a directory.
    #[error("{} is a file, not a folder. Choose the folder that holds your files.", .0.display())]
    NotADirectory(PathBuf),
    /// Ferry can't create files in it.
    #[error("Ferry can't save files in {}: {}. Choose a folder you own, or ask whoever manages this computer for access.", .0.display(), .1)]
    NotWritable(PathBuf, String),
    /// The user's whole home folder.
    #[error("{} is your whole home folder. Create a folder inside it for this repository (for example {}) and choose that one.", .0.display(), .0.join("Website").display())]
    HomeFolder(PathBuf),
    /// A folder that belongs to the operating system.
    #[error("{} is a system folder. Choose a folder inside your home folder instead.", .0.display())]
    SystemFolder(PathBuf),
    /// The folder is already synced.
    #[error("{} is already being synced by Ferry.", .0.display())]
    AlreadySynced(PathBuf),
    /// Inside another synced folder.
    #[error("{} is inside {}, which Ferry already syncs. Choose a folder outside it.", .0.display(), .1.display())]
    InsideSyncedFolder(PathBuf, PathBuf),
    /// Holds another synced folder.
    #[error("{} contains {}, which Ferry already syncs. Choose a folder that doesn't contain it.", .0.display(), .1.display())]
    ContainsSyncedFolder(PathBuf, PathBuf),
    /// Ferry's own settings or log folder.
    #[error("{} holds Ferry's own settings. Choose another folder.", .0.display())]
    FerryStateFolder(PathBuf),
    /// A drop that carried no file paths (text, a link from a browser...).
    #[error("That wasn't a folder. Drag a folder from your file manager onto this window.")]
    NothingDropped,
    /// More than one item was dropped.
    #[error("You dropped {0} items. Drop just one folder: the one to keep in sync.")]
    SeveralItems(usize),
}

impl FolderRejection {
    /// A stable code for the UI to branch on (it never matches messages).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) => "missing",
            Self::NotADirectory(_) => "not_a_directory",
            Self::NotWritable(..) => "not_writable",
            Self::HomeFolder(_) => "home_folder",
            Self::SystemFolder(_) => "system_folder",
            Self::AlreadySynced(_) => "already_synced",
            Self::InsideSyncedFolder(..) => "inside_synced_folder",
            Self::ContainsSyncedFolder(..) => "contains_synced_folder",
            Self::FerryStateFolder(_) => "ferry_state_folder",
            Self::NothingDropped => "nothing_dropped",
            Self::SeveralItems(_) => "several_items",
        }
    }
}

/// The answer to "can this be a synced folder?", as the UI and `--json` see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FolderCheck {
    /// Every check passed.
    Accepted {
        /// The folder and what is in it.
        folder: FolderChoice,
    },
    /// A check failed.
    Rejected {
        /// A stable code ([`FolderRejection::code`]).
        reason: &'static str,
        /// What is wrong and what to do, for a content editor.
        message: String,
    },
}

impl From<Result<FolderChoice, FolderRejection>> for FolderCheck {
    fn from(result: Result<FolderChoice, FolderRejection>) -> Self {
        match result {
            Ok(folder) => Self::Accepted { folder },
            Err(why) => Self::Rejected {
                reason: why.code(),
                message: why.to_string(),
            },
        }
    }
}

/// Checks what was dropped on the window: exactly one item, and that item a
/// folder that passes [`check_folder`].
pub fn check_drop(paths: &[PathBuf], ctx: &ChoiceContext) -> Result<FolderChoice, FolderRejection> {
    match paths {
        [] => Err(FolderRejection::NothingDropped),
        [one] => check_folder(one, ctx),
        several => Err(FolderRejection::SeveralItems(several.len())),
    }
}

/// Directories that are system folders themselves, though folders inside them may be fine.
const SYSTEM_ROOTS: &[&str] = &[
    "/", "/home", "/mnt", "/media", "/opt", "/srv", "/tmp", "/var/tmp", "/root", "/Users",
    "/Volumes",
];

/// Directories whose whole tree belongs to the operating system.
const SYSTEM_TREES: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/snap",
    "/sys",
    "/usr",
    "/var",
    "/System",
    "/Library",
    "/Applications",
    "/private",
];

/// Checks `path` against everything a synced folder must be.
pub fn check_folder(path: &Path, ctx: &ChoiceContext) -> Result<FolderChoice, FolderRejection> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(FolderRejection::Missing(path.to_path_buf()))
        }
        Err(e) => {
            return Err(FolderRejection::NotWritable(
                path.to_path_buf(),
                describe(&e),
            ))
        }
    };
    if !meta.is_dir() {
        return Err(FolderRejection::NotADirectory(path.to_path_buf()));
    }
    let real = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let home = ctx.home.as_deref().map(canonical);

    if home.as_deref() == Some(real.as_path()) {
        return Err(FolderRejection::HomeFolder(real));
    }
    let inside_home = home.as_deref().is_some_and(|h| real.starts_with(h));
    if !inside_home && is_system_folder(&real) {
        return Err(FolderRejection::SystemFolder(real));
    }
    if let Some(state) = ctx.state_dir.as_deref().map(canonical) {
        if real.starts_with(&state) || state.starts_with(&real) {
            return Err(FolderRejection::FerryStateFolder(real));
        }
    }
    for synced in ctx.synced.iter().map(|p| canonical(p)) {
        if synced == real {
            return Err(FolderRejection::AlreadySynced(real));
        }
        if real.starts_with(&synced) {
            return Err(FolderRejection::InsideSyncedFolder(real, synced));
        }
        if synced.starts_with(&real) {
            return Err(FolderRejection::ContainsSyncedFolder(real, synced));
        }
    }
    probe_writable(&real).map_err(|e| FolderRejection::NotWritable(real.clone(), describe(&e)))?;

    let entries = fs::read_dir(&real)
        .map_err(|e| FolderRejection::NotWritable(real.clone(), describe(&e)))?
        .filter_map(Result::ok)
        .collect::<Vec<_>>();
    Ok(FolderChoice {
        is_git_repository: entries.iter().any(|e| e.file_name() == OsStr::new(".git")),
        existing_entries: entries.len(),
        path: real,
    })
}

fn is_system_folder(real: &Path) -> bool {
    SYSTEM_ROOTS.iter().any(|root| real == Path::new(root))
        || SYSTEM_TREES.iter().any(|tree| real.starts_with(tree))
        || is_windows_system_folder(real)
}

/// `C:\`, `C:\Windows\...`, `C:\Program Files\...`.
fn is_windows_system_folder(real: &Path) -> bool {
    let mut parts = real
        .components()
        .filter(|c| !matches!(c, Component::Prefix(_)));
    match (parts.next(), parts.next()) {
        (Some(Component::RootDir), None) => cfg!(windows),
        (Some(Component::RootDir), Some(Component::Normal(top))) => {
            let top = top.to_string_lossy().to_ascii_lowercase();
            cfg!(windows)
                && [
                    "windows",
                    "program files",
                    "program files (x86)",
                    "programdata",
                ]
                .contains(&top.as_str())
        }
        _ => false,
    }
}

fn canonical(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Creates and removes a probe file through the folder writer: the only
/// reliable test of "can write here" (permission bits say nothing about
/// read-only mounts, ACLs or quotas).
fn probe_writable(dir: &Path) -> io::Result<()> {
    crate::git::writer::FolderWriter::open(
        dir,
        crate::git::writer::Capabilities::default(),
        crate::git::writer::Durability::AtEnd,
    )
    .and_then(|w| w.probe())
    .map_err(|e| match e {
        crate::git::writer::WriteError::Folder(e) => e,
        crate::git::writer::WriteError::NotHoldable { source, .. } => source,
        other => io::Error::other(other.to_string()),
    })
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "you don't have permission".into(),
        io::ErrorKind::ReadOnlyFilesystem => "the disk is read-only".into(),
        io::ErrorKind::StorageFull => "the disk is full".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        _tmp: tempfile::TempDir,
        home: PathBuf,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let home = fs::canonicalize(tmp.path()).unwrap().join("home");
        fs::create_dir_all(home.join("Website")).unwrap();
        Fixture { _tmp: tmp, home }
    }

    fn ctx(f: &Fixture, synced: &[&str]) -> ChoiceContext {
        ChoiceContext {
            home: Some(f.home.clone()),
            synced: synced.iter().map(|s| f.home.join(s)).collect(),
            state_dir: Some(f.home.join(".config/ferry")),
        }
    }

    #[test]
    fn an_empty_folder_in_home_is_accepted() {
        let f = fixture();
        let choice = check_folder(&f.home.join("Website"), &ctx(&f, &[])).unwrap();
        assert_eq!(choice.path, f.home.join("Website"));
        assert_eq!(choice.existing_entries, 0, "empty folder");
        assert!(!choice.is_git_repository);
        assert_eq!(
            fs::read_dir(&choice.path).unwrap().count(),
            0,
            "the writability probe leaves nothing behind"
        );
    }

    #[test]
    fn existing_files_and_git_clones_are_reported() {
        let f = fixture();
        fs::write(f.home.join("Website/index.md"), "hi").unwrap();
        fs::create_dir(f.home.join("Website/.git")).unwrap();
        let choice = check_folder(&f.home.join("Website"), &ctx(&f, &[])).unwrap();
        assert_eq!(choice.existing_entries, 2);
        assert!(choice.is_git_repository);
    }

    #[test]
    fn a_drop_must_be_exactly_one_folder() {
        let f = fixture();
        let c = ctx(&f, &[]);
        fs::write(f.home.join("a.txt"), "x").unwrap();
        assert_eq!(check_drop(&[], &c).unwrap_err().code(), "nothing_dropped");
        let two = [f.home.join("Website"), f.home.join("a.txt")];
        let err = check_drop(&two, &c).unwrap_err();
        assert_eq!(err.code(), "several_items");
        assert!(err.to_string().contains("You dropped 2 items"), "{err}");
        assert_eq!(
            check_drop(&[f.home.join("a.txt")], &c).unwrap_err().code(),
            "not_a_directory",
            "a single file is refused as a file"
        );
        assert!(check_drop(&[f.home.join("Website")], &c).is_ok());
    }

    #[test]
    fn the_outcome_serializes_for_the_ui() {
        let f = fixture();
        let rejected = FolderCheck::from(check_folder(&f.home.join("Nope"), &ctx(&f, &[])));
        let v = serde_json::to_value(&rejected).unwrap();
        assert_eq!(v["outcome"], "rejected");
        assert_eq!(v["reason"], "missing");
        assert!(v["message"]
            .as_str()
            .unwrap()
            .contains("There is no folder"));
        let accepted = FolderCheck::from(check_folder(&f.home.join("Website"), &ctx(&f, &[])));
        let v = serde_json::to_value(&accepted).unwrap();
        assert_eq!(v["outcome"], "accepted");
        assert_eq!(v["folder"]["existing_entries"], 0);
    }

    #[test]
    fn missing_path_is_rejected() {
        let f = fixture();
        let err = check_folder(&f.home.join("Nope"), &ctx(&f, &[])).unwrap_err();
        assert_eq!(err.code(), "missing");
        assert!(err.to_string().contains("There is no folder"), "{err}");
    }

    #[test]
    fn a_file_is_rejected() {
        let f = fixture();
        fs::write(f.home.join("notes.txt"), "x").unwrap();
        let err = check_folder(&f.home.join("notes.txt"), &ctx(&f, &[])).unwrap_err();
        assert_eq!(err.code(), "not_a_directory");
        assert!(err.to_string().contains("is a file, not a folder"), "{err}");
    }

    #[test]
    fn the_home_folder_itself_is_rejected() {
        let f = fixture();
        let err = check_folder(&f.home, &ctx(&f, &[])).unwrap_err();
        assert_eq!(err.code(), "home_folder");
        assert!(err.to_string().contains("whole home folder"), "{err}");
    }

    #[test]
    fn system_folders_are_rejected() {
        let f = fixture();
        for p in ["/", "/etc", "/usr/share", "/tmp", "/proc"] {
            let err = check_folder(Path::new(p), &ctx(&f, &[])).unwrap_err();
            assert_eq!(err.code(), "system_folder", "{p}: {err}");
        }
    }

    #[test]
    fn a_folder_under_a_system_root_is_fine_when_it_is_not_a_system_tree() {
        let f = fixture();
        // The fixture lives under /tmp: /tmp itself is rejected, folders inside are not.
        let choice = check_folder(&f.home.join("Website"), &ChoiceContext::default());
        assert!(choice.is_ok(), "{choice:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_system_folder_is_rejected() {
        let f = fixture();
        let link = f.home.join("etc-link");
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        let err = check_folder(&link, &ctx(&f, &[])).unwrap_err();
        assert_eq!(
            err.code(),
            "system_folder",
            "links are resolved first: {err}"
        );
    }

    #[test]
    fn synced_folders_and_their_neighbours_are_rejected() {
        let f = fixture();
        fs::create_dir_all(f.home.join("Website/drafts")).unwrap();
        let c = ctx(&f, &["Website"]);
        assert_eq!(
            check_folder(&f.home.join("Website"), &c)
                .unwrap_err()
                .code(),
            "already_synced"
        );
        let inside = check_folder(&f.home.join("Website/drafts"), &c).unwrap_err();
        assert_eq!(inside.code(), "inside_synced_folder");
        assert!(inside.to_string().contains("which Ferry already syncs"));

        fs::create_dir_all(f.home.join("Work/Website2")).unwrap();
        let c = ctx(&f, &["Work/Website2"]);
        assert_eq!(
            check_folder(&f.home.join("Work"), &c).unwrap_err().code(),
            "contains_synced_folder"
        );
    }

    #[test]
    fn ferrys_own_state_folder_is_rejected() {
        let f = fixture();
        fs::create_dir_all(f.home.join(".config/ferry/logs")).unwrap();
        assert_eq!(
            check_folder(&f.home.join(".config/ferry/logs"), &ctx(&f, &[]))
                .unwrap_err()
                .code(),
            "ferry_state_folder"
        );
        assert_eq!(
            check_folder(&f.home.join(".config"), &ctx(&f, &[]))
                .unwrap_err()
                .code(),
            "ferry_state_folder",
            "a folder holding Ferry's state is refused too"
        );
    }
}
