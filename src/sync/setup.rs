//! Adding a folder: checks it, then clones the project into it — or adopts
//! it when it already is a clone of that project, or uploads its files when
//! asked (the natural choice for a new, empty project). A folder with files
//! is never silently replaced: they are moved to a backup folder whose path
//! is reported, before anything is cloned into it.

use std::path::{Path, PathBuf};

use chrono::Local;
use serde::Serialize;

use super::folder_choice::{check_folder, ChoiceContext, FolderRejection};
use crate::config::{ConfigStore, Folder, Instance};
use crate::git::{Auth, GitError, Progress, Repo};
use crate::gitlab::account::{AccountError, Accounts, OwnedCredential};
use crate::gitlab::client::Project;

/// What to do with files already in the chosen folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExistingFiles {
    /// Move them to a backup folder, then clone (default for a project with content).
    #[default]
    Backup,
    /// Upload them into the project (default for an empty project).
    Upload,
}

/// How the folder was set up.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum SetUp {
    /// Cloned into an empty folder.
    Cloned,
    /// The folder already was a clone of the project.
    Adopted,
    /// The existing files were moved here first.
    BackedUp {
        /// The backup folder.
        backup: PathBuf,
    },
    /// The existing files will be uploaded by the first sync.
    Uploading {
        /// How many entries were there.
        files: usize,
    },
}

/// A new synced folder.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// What was saved in the settings.
    pub folder: Folder,
    /// How it was set up.
    pub set_up: SetUp,
    /// The project's page on GitLab.
    pub web_url: String,
}

/// Why a folder could not be added.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The folder can't be used.
    #[error(transparent)]
    Folder(#[from] FolderRejection),
    /// The account or GitLab failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Git failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The folder is a clone of another project.
    #[error("{} already holds a copy of another repository ({other}). Choose another folder.", dir.display())]
    OtherRepository {
        /// The folder.
        dir: PathBuf,
        /// Its remote URL.
        other: String,
    },
    /// The folder didn't exist and couldn't be made.
    #[error("Ferry couldn't create the folder {} ({why}).", dir.display())]
    CreateFolder {
        /// The folder.
        dir: PathBuf,
        /// What failed.
        why: String,
    },
    /// Moving the existing files failed; nothing was cloned.
    #[error("Ferry couldn't move the existing files of {} to a backup folder ({why}); nothing was changed.", dir.display())]
    Backup {
        /// The folder.
        dir: PathBuf,
        /// What failed.
        why: String,
    },
    /// The folder is a clone of the project Ferry can't take over as it is.
    #[error("{} already holds a copy of this project, but Ferry can't take it over: {why}.", dir.display())]
    NotAdoptable {
        /// The folder.
        dir: PathBuf,
        /// Why, and what to do.
        why: String,
    },
    /// Saving the settings failed.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl SetupError {
    /// A stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Folder(r) => r.code(),
            Self::Account(e) => e.code(),
            Self::Git(_) => "git",
            Self::OtherRepository { .. } => "other_repository",
            Self::NotAdoptable { .. } => "not_adoptable",
            Self::Backup { .. } => "backup",
            Self::CreateFolder { .. } => "create_folder",
            Self::Config(_) => "settings",
        }
    }
}

/// The git credentials for an account's credential.
pub fn git_auth(instance: &Instance, cred: &OwnedCredential) -> Auth {
    let (username, secret) = cred.git_basic(instance.username.as_deref().unwrap_or("ferry"));
    Auth {
        username,
        secret: secret.clone(),
    }
}

/// The backup folder for `dir`: a sibling named after it and the time.
pub fn backup_dir_for(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "folder".into());
    let stamp = Local::now().format("%Y-%m-%d %H%M");
    let parent = dir.parent().unwrap_or(Path::new("."));
    let mut candidate = parent.join(format!("{name} (backup before Ferry {stamp})"));
    let mut n = 2;
    while candidate.exists() {
        candidate = parent.join(format!("{name} (backup before Ferry {stamp} {n})"));
        n += 1;
    }
    candidate
}

/// Moves every entry of `from` into the new folder `to`; on failure, what
/// was moved goes back, so the error can say nothing was changed.
fn move_entries(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    let mut moved = Vec::new();
    let result = (|| {
        for entry in std::fs::read_dir(from)? {
            let name = entry?.file_name();
            std::fs::rename(from.join(&name), to.join(&name))?;
            moved.push(name);
        }
        Ok(())
    })();
    if result.is_err() {
        for name in &moved {
            let _ = std::fs::rename(to.join(name), from.join(name));
        }
        let _ = std::fs::remove_dir(to);
    }
    result
}

fn same_remote(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s
            .trim_end_matches('/')
            .trim_end_matches(".git")
            .to_ascii_lowercase();
        // Drop credentials a foreign tool may have put in the URL.
        match s.split_once("://") {
            Some((scheme, rest)) => {
                format!("{scheme}://{}", rest.rsplit('@').next().unwrap_or(rest))
            }
            None => s,
        }
    };
    norm(a) == norm(b)
}

/// Adds `dir` as a synced folder for `project` on `instance`.
#[allow(clippy::too_many_arguments)]
pub async fn add_folder(
    accounts: &Accounts,
    store: &ConfigStore,
    state_dir: &Path,
    instance: &Instance,
    project: &str,
    dir: &Path,
    branch: Option<&str>,
    existing: Option<ExistingFiles>,
    progress: impl FnMut(Progress) + Send + 'static,
) -> Result<Added, SetupError> {
    let config = store.load()?;
    let ctx = ChoiceContext::for_user(&config, state_dir);
    // A folder that doesn't exist yet is made, as `git clone` does, when
    // the folder it goes in exists.
    if !dir.exists() && dir.parent().is_some_and(|p| p.is_dir()) {
        std::fs::create_dir(dir).map_err(|e| SetupError::CreateFolder {
            dir: dir.to_path_buf(),
            why: e.to_string(),
        })?;
    }
    let choice = check_folder(dir, &ctx)?;
    let server = accounts.server(instance)?;
    let cred = accounts.credential(instance).await?;
    let info: Project = server
        .project(cred.as_credential(), project)
        .await
        .map_err(AccountError::from)?;
    let user = server
        .user(cred.as_credential())
        .await
        .map_err(AccountError::from)?;
    let email = user
        .commit_email
        .clone()
        .or(user.email.clone())
        .unwrap_or_else(|| format!("{}@users.noreply.{}", user.username, server.host()));
    let branch = branch
        .map(str::to_string)
        .or(info.default_branch.clone())
        .unwrap_or_else(|| "main".to_string());
    let url = info.http_url_to_repo.clone();
    let auth = git_auth(instance, &cred);
    let dir = choice.path.clone();
    let empty_project = info.empty_repo.unwrap_or(false) || info.default_branch.is_none();

    let existing_repo = Repo::open(&dir, &branch).ok();
    let set_up = if let Some(repo) = existing_repo {
        let remote = repo.origin_url().unwrap_or_default();
        if !same_remote(&remote, &url) {
            return Err(SetupError::OtherRepository { dir, other: remote });
        }
        check_adoptable(&repo, &dir, &branch)?;
        repo.prepare()?;
        repo.set_identity(&user.name, &email)?;
        SetUp::Adopted
    } else if choice.existing_entries == 0 {
        clone_blocking(url, dir.clone(), branch.clone(), auth, progress).await?;
        SetUp::Cloned
    } else {
        let mode = existing.unwrap_or(if empty_project {
            ExistingFiles::Upload
        } else {
            ExistingFiles::Backup
        });
        match mode {
            ExistingFiles::Backup => {
                let backup = backup_dir_for(&dir);
                move_entries(&dir, &backup).map_err(|e| SetupError::Backup {
                    dir: dir.clone(),
                    why: e.to_string(),
                })?;
                tracing::info!(backup = %backup.display(), "moved the folder's files to a backup");
                clone_blocking(url, dir.clone(), branch.clone(), auth, progress).await?;
                SetUp::BackedUp { backup }
            }
            ExistingFiles::Upload => {
                let d = dir.clone();
                let b = branch.clone();
                tokio::task::spawn_blocking(move || Repo::init_with_files(&url, &d, &b, &auth))
                    .await
                    .map_err(|e| GitError::Other(e.to_string()))??;
                SetUp::Uploading {
                    files: choice.existing_entries,
                }
            }
        }
    };
    let repo = Repo::open(&dir, &branch)?;
    repo.prepare()?;
    repo.set_identity(&user.name, &email)?;

    let folder = store.update(|c| {
        let base = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase().replace(' ', "-"))
            .unwrap_or_else(|| "folder".into());
        let mut id = base.clone();
        let mut n = 2;
        while c.folders.iter().any(|f| f.id == id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let folder = Folder {
            id,
            path: dir.clone(),
            instance: instance.id.clone(),
            project: info.path_with_namespace.clone(),
            branch: Some(branch.clone()),
            paused: false,
        };
        c.folders.push(folder.clone());
        folder
    })?;
    Ok(Added {
        folder,
        set_up,
        web_url: info.web_url,
    })
}

async fn clone_blocking(
    url: String,
    dir: PathBuf,
    branch: String,
    auth: Auth,
    progress: impl FnMut(Progress) + Send + 'static,
) -> Result<(), GitError> {
    tokio::task::spawn_blocking(move || {
        // The folder was checked empty; the writer keeps anything that appears.
        Repo::clone(&url, &dir, &branch, &auth, progress).map(|_| ())
    })
    .await
    .map_err(|e| GitError::Other(e.to_string()))?
}

/// A clone can be adopted as it is only on the synced branch and with no
/// merge or rebase of another git tool under way: otherwise its first
/// snapshot would send another branch's files, or conflict markers.
fn check_adoptable(repo: &Repo, dir: &Path, branch: &str) -> Result<(), SetupError> {
    if repo.operation_under_way() {
        return Err(SetupError::NotAdoptable {
            dir: dir.to_path_buf(),
            why: "a merge or rebase is unfinished in it; finish or abort it first".into(),
        });
    }
    match repo.head_branch().as_deref() {
        Some(b) if b == branch => Ok(()),
        Some(other) => Err(SetupError::NotAdoptable {
            dir: dir.to_path_buf(),
            why: format!(
                "it is on the branch {other}, and Ferry syncs {branch}; switch it to {branch} in your git tool, or choose another folder"
            ),
        }),
        None => Err(SetupError::NotAdoptable {
            dir: dir.to_path_buf(),
            why: format!("it isn't on a branch; switch it to {branch} in your git tool first"),
        }),
    }
}
