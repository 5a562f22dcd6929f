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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExistingFiles {
    /// Move them to a backup folder, then clone (default for a project with content).
    #[default]
    Backup,
    /// Upload them into the project (default for an empty project).
    Upload,
}

/// How the folder was set up.
#[derive(Debug, Clone, Serialize)]
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
    /// Moving the existing files failed; nothing was cloned.
    #[error("Ferry couldn't move the existing files of {} to a backup folder ({why}); nothing was changed.", dir.display())]
    Backup {
        /// The folder.
        dir: PathBuf,
        /// What failed.
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
            Self::Backup { .. } => "backup",
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

fn move_entries(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::rename(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
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
        let remote = repo
            .raw()
            .find_remote("origin")
            .ok()
            .and_then(|r| r.url().ok().map(str::to_string))
            .unwrap_or_default();
        if !same_remote(&remote, &url) {
            return Err(SetupError::OtherRepository { dir, other: remote });
        }
        repo.prepare()?;
        repo.set_identity(&user.name, &email)?;
        SetUp::Adopted
    } else if choice.existing_entries == 0 {
        clone_blocking(
            url,
            dir.clone(),
            Some(branch.clone()).filter(|_| !empty_project),
            auth,
            progress,
        )
        .await?;
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
                clone_blocking(
                    url,
                    dir.clone(),
                    Some(branch.clone()).filter(|_| !empty_project),
                    auth,
                    progress,
                )
                .await?;
                SetUp::BackedUp { backup }
            }
            ExistingFiles::Upload => {
                let d = dir.clone();
                let b = branch.clone();
                tokio::task::spawn_blocking(move || upload_into(&d, &url, &b, &auth))
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
    branch: Option<String>,
    auth: Auth,
    progress: impl FnMut(Progress) + Send + 'static,
) -> Result<(), GitError> {
    tokio::task::spawn_blocking(move || {
        // libgit2 clones into an empty directory; the folder was checked empty.
        Repo::clone(&url, &dir, branch.as_deref(), &auth, progress).map(|_| ())
    })
    .await
    .map_err(|e| GitError::Other(e.to_string()))?
}

/// Turns `dir` (with files) into a clone of `url` without touching its
/// files: the history is fetched into it, files only on the server are
/// written, and the first sync commits and uploads the folder's files.
fn upload_into(dir: &Path, url: &str, branch: &str, auth: &Auth) -> Result<(), GitError> {
    let repo = git2::Repository::init(dir)?;
    if repo.find_remote("origin").is_err() {
        repo.remote("origin", url)?;
    }
    repo.set_head(&format!("refs/heads/{branch}"))?;
    let r = Repo::open(dir, branch)?;
    r.prepare()?;
    if let crate::git::RemoteTip::At(tip) = r.fetch(auth)? {
        // Start from the server's history; keep every local file as it is.
        repo.reference(
            &format!("refs/heads/{branch}"),
            tip,
            true,
            "ferry: adopt the server's history",
        )?;
        let tree = repo.find_commit(tip)?.tree()?;
        let mut index = repo.index()?;
        index.read_tree(&tree)?;
        index.write()?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        // Only create files that are missing: never overwrite one that exists.
        checkout.safe().recreate_missing(true).allow_conflicts(true);
        repo.checkout_index(Some(&mut index), Some(&mut checkout))?;
    }
    Ok(())
}
