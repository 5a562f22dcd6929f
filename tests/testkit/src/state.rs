//! The testkit's GitLab data: users, tokens, OAuth applications and grants,
//! namespaces, projects and their members. Kept in memory behind one mutex
//! and saved to `<data>/state.json` after every change, so a server started
//! again on the same `--data` keeps its users, tokens and projects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// GitLab's access levels.
pub mod access {
    /// Guest.
    pub const GUEST: u32 = 10;
    /// Reporter: can read, not push.
    pub const REPORTER: u32 = 20;
    /// Developer: can push to unprotected branches.
    pub const DEVELOPER: u32 = 30;
    /// Maintainer: can push to protected branches.
    pub const MAINTAINER: u32 = 40;
    /// Owner.
    pub const OWNER: u32 = 50;
}

/// Scopes a personal access token or OAuth grant can carry.
pub const ALL_SCOPES: &[&str] = &[
    "api",
    "read_api",
    "read_user",
    "read_repository",
    "write_repository",
    "openid",
    "profile",
    "email",
];

/// A GitLab user.
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub is_admin: bool,
}

/// A personal access token.
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonalToken {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub token: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<NaiveDate>,
    pub revoked: bool,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A registered OAuth application.
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthApp {
    pub id: u64,
    pub name: String,
    /// The Application ID (`client_id`).
    pub uid: String,
    /// The Secret; `None` for a public (non-confidential) application.
    pub secret: Option<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
}

/// An issued OAuth access token and its refresh token (one row, as in Doorkeeper).
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthToken {
    pub id: u64,
    pub app_uid: String,
    pub user_id: u64,
    pub access_token: String,
    pub refresh_token: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_in: i64,
    pub revoked: bool,
}

impl OAuthToken {
    /// Seconds until expiry (negative once expired).
    pub fn remaining(&self, now: DateTime<Utc>) -> i64 {
        self.expires_in - (now - self.created_at).num_seconds()
    }
}

/// An authorization code waiting to be exchanged.
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub code: String,
    pub app_uid: String,
    pub user_id: u64,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub created_at: DateTime<Utc>,
    pub used: bool,
}

/// A user's or a group's namespace.
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Namespace {
    pub id: u64,
    pub name: String,
    pub path: String,
    /// `user` or `group`.
    pub kind: String,
    /// For a user namespace, its owner.
    pub owner_id: Option<u64>,
    /// Group members and their access levels.
    #[serde(default)]
    pub members: BTreeMap<u64, u32>,
}

/// A project (repository).
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub namespace_id: u64,
    pub description: Option<String>,
    pub visibility: String,
    /// The default branch's name (used once the repository has commits).
    pub default_branch: String,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub archived: bool,
    /// Project members and their access levels (on top of namespace membership).
    #[serde(default)]
    pub members: BTreeMap<u64, u32>,
    /// Protected branches and the access level needed to push to each.
    #[serde(default)]
    pub protected_branches: BTreeMap<String, u32>,
}

/// Everything the server knows.
#[allow(missing_docs)] // Fields as GitLab's API and git name them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Data {
    pub next_id: u64,
    pub users: Vec<User>,
    pub tokens: Vec<PersonalToken>,
    pub apps: Vec<OAuthApp>,
    pub oauth_tokens: Vec<OAuthToken>,
    pub grants: Vec<Grant>,
    pub namespaces: Vec<Namespace>,
    pub projects: Vec<Project>,
}

/// A random lower-case hex string of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// A new personal access token value in GitLab's format.
pub fn new_pat_value() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut rng = rand::rng();
    let tail: String = (0..20)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("glpat-{tail}")
}

impl Data {
    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Loads `<dir>/state.json`, if there is one.
    pub fn load(dir: &Path) -> anyhow::Result<Option<Data>> {
        let path = dir.join("state.json");
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Saves to `<dir>/state.json` atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join("state.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(tmp, dir.join("state.json"))
    }

    /// Adds a user and their personal namespace.
    pub fn add_user(&mut self, username: &str, name: &str, password: &str) -> u64 {
        let id = self.next();
        self.users.push(User {
            id,
            username: username.into(),
            name: name.into(),
            email: format!("{username}@example.com"),
            password: password.into(),
            created_at: Utc::now(),
            is_admin: false,
        });
        let ns = self.next();
        self.namespaces.push(Namespace {
            id: ns,
            name: name.into(),
            path: username.into(),
            kind: "user".into(),
            owner_id: Some(id),
            members: BTreeMap::new(),
        });
        id
    }

    /// Adds a group namespace with `members`.
    pub fn add_group(&mut self, path: &str, name: &str, members: &[(u64, u32)]) -> u64 {
        let id = self.next();
        self.namespaces.push(Namespace {
            id,
            name: name.into(),
            path: path.into(),
            kind: "group".into(),
            owner_id: None,
            members: members.iter().copied().collect(),
        });
        id
    }

    /// Issues a personal access token.
    pub fn add_token(
        &mut self,
        user_id: u64,
        name: &str,
        scopes: &[&str],
        expires_at: Option<NaiveDate>,
    ) -> String {
        let id = self.next();
        let token = new_pat_value();
        self.tokens.push(PersonalToken {
            id,
            user_id,
            name: name.into(),
            token: token.clone(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            created_at: Utc::now(),
            expires_at,
            revoked: false,
            last_used_at: None,
        });
        token
    }

    /// Registers an OAuth application; `confidential` ones get a secret.
    pub fn add_app(&mut self, name: &str, redirect_uri: &str, confidential: bool) -> OAuthApp {
        let id = self.next();
        let app = OAuthApp {
            id,
            name: name.into(),
            uid: random_hex(32),
            secret: confidential.then(|| format!("gloas-{}", random_hex(32))),
            redirect_uris: vec![redirect_uri.into()],
            scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        };
        self.apps.push(app.clone());
        app
    }

    /// Adds a project record (the repository is created separately).
    pub fn add_project(&mut self, namespace_id: u64, path: &str, name: &str) -> u64 {
        let id = self.next();
        let now = Utc::now();
        self.projects.push(Project {
            id,
            name: name.into(),
            path: path.into(),
            namespace_id,
            description: None,
            visibility: "private".into(),
            default_branch: "main".into(),
            created_at: now,
            last_activity_at: now,
            archived: false,
            members: BTreeMap::new(),
            protected_branches: BTreeMap::new(),
        });
        id
    }

    /// The user with this name.
    pub fn user_named(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    /// The user with this id.
    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The namespace with this id.
    pub fn namespace(&self, id: u64) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.id == id)
    }

    /// The namespace with this path.
    pub fn namespace_by_path(&self, path: &str) -> Option<&Namespace> {
        self.namespaces
            .iter()
            .find(|n| n.path.eq_ignore_ascii_case(path))
    }

    /// `namespace/path` of a project.
    pub fn full_path(&self, p: &Project) -> String {
        let ns = self
            .namespace(p.namespace_id)
            .map(|n| n.path.as_str())
            .unwrap_or("?");
        format!("{ns}/{}", p.path)
    }

    /// A project by numeric id or `namespace/path` (case-insensitive, as GitLab).
    pub fn project_by_ref(&self, id_or_path: &str) -> Option<&Project> {
        if let Ok(id) = id_or_path.parse::<u64>() {
            return self.projects.iter().find(|p| p.id == id);
        }
        let wanted = id_or_path.trim_end_matches(".git");
        self.projects
            .iter()
            .find(|p| self.full_path(p).eq_ignore_ascii_case(wanted))
    }

    /// The access level `user_id` has on `p` (0 = none).
    pub fn access_level(&self, p: &Project, user_id: u64) -> u32 {
        let direct = p.members.get(&user_id).copied().unwrap_or(0);
        let via_ns = self
            .namespace(p.namespace_id)
            .map(|n| {
                if n.owner_id == Some(user_id) {
                    access::OWNER
                } else {
                    n.members.get(&user_id).copied().unwrap_or(0)
                }
            })
            .unwrap_or(0);
        let admin = if self.user(user_id).is_some_and(|u| u.is_admin) {
            access::OWNER
        } else {
            0
        };
        direct.max(via_ns).max(admin)
    }

    /// Can `user_id` see this project? Members (Guest and up) and, for public
    /// or internal projects, anyone signed in.
    pub fn can_see(&self, p: &Project, user_id: Option<u64>) -> bool {
        match user_id {
            Some(u) => p.visibility != "private" || self.access_level(p, u) >= access::GUEST,
            None => p.visibility == "public",
        }
    }

    /// Namespaces where `user_id` may create projects (own, or group Maintainer+).
    pub fn namespaces_for(&self, user_id: u64) -> Vec<&Namespace> {
        self.namespaces
            .iter()
            .filter(|n| {
                n.owner_id == Some(user_id)
                    || n.members.get(&user_id).copied().unwrap_or(0) >= access::GUEST
            })
            .collect()
    }
}

/// Where repositories live: `<data>/repos/<namespace>/<project>.git`.
pub fn repo_dir(data_dir: &Path, full_path: &str) -> PathBuf {
    data_dir
        .join("repos")
        .join(format!("{}.git", full_path.to_ascii_lowercase()))
}
