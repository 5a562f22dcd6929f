//! ferry-testkit: a GitLab-compatible server for Ferry's tests and demos.
//!
//! It serves, on 127.0.0.1, what Ferry uses of GitLab, shaped as GitLab
//! shapes it (field names, status codes, headers, error bodies):
//! - the REST API under `/api/v4` ([`api`]),
//! - OAuth 2.0 with PKCE, a real sign-in and consent page, and OpenID
//!   discovery ([`oauth`]),
//! - git over smart HTTP through the real `git http-backend`, with GitLab's
//!   authentication, scopes and protected branches ([`git`], [`git_http`]),
//! - optional TLS with a CA it generates ([`tls`]),
//! - fault switches for reliability tests ([`faults`]), and admin endpoints
//!   under `/-/testkit/`, a path real GitLab does not have ([`admin`]).
//!
//! Start it in-process with [`Testkit::start`] (it runs its own runtime on a
//! background thread, so sync tests can use it), or as `ferry-testkit serve`,
//! whose first stdout line is the JSON [`Info`].
//!
//! # Limitations
//! No `id_token` is issued for the `openid` scope (no RS256 keys); one git
//! protocol (smart HTTP); no groups API beyond namespaces; no LFS.

// Handlers return `Result<_, Response>`: the error *is* the HTTP answer.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod api;
pub mod auth;
pub mod faults;
pub mod git;
pub mod git_http;
pub mod oauth;
pub mod server;
pub mod state;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::faults::Faults;
use crate::state::{access, Data};

/// How to start the server.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Port on 127.0.0.1; `None` for one the OS picks.
    pub port: Option<u16>,
    /// Serve HTTPS with a certificate from a CA the testkit generates.
    pub tls: bool,
    /// Where repositories and state live; `None` for a temporary directory.
    pub data: Option<PathBuf>,
    /// Skip the sign-in and consent pages of the OAuth flow.
    pub auto_approve: bool,
    /// Lifetime of OAuth access tokens in seconds (GitLab: 7200).
    pub token_lifetime: Option<i64>,
    /// With `tls`: serve a broken certificate, to test how clients explain it.
    pub certificate: tls::CertKind,
}

/// The seeded OAuth applications.
#[derive(Debug, Clone, Serialize)]
pub struct OAuthInfo {
    /// The confidential application's ID.
    pub client_id: String,
    /// The confidential application's secret.
    pub client_secret: String,
    /// The redirect URI both applications are registered with.
    pub redirect_uri: String,
    /// The public (non-confidential) application's ID.
    pub public_client_id: String,
}

/// What a client needs to use the server: the first line `serve` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The seeded user's name.
    pub user: String,
    /// Their password (for the sign-in page).
    pub password: String,
    /// Their personal access token (`api read_user read_repository write_repository`).
    pub token: String,
    /// The seeded projects' `path_with_namespace`.
    pub projects: Vec<String>,
    /// The seeded OAuth applications.
    pub oauth: OAuthInfo,
    /// The admin endpoints' base URL.
    pub admin: String,
    /// The second user, for multi-user tests.
    pub second_user: String,
    /// Their password.
    pub second_password: String,
    /// Their personal access token.
    pub second_token: String,
    /// The CA certificate (PEM) to trust, with `--tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// Shared server state.
pub struct Kit {
    data: Mutex<Data>,
    /// Where repositories and `state.json` live.
    pub dir: PathBuf,
    /// Base URL clients use.
    pub url: String,
    /// Fault switches.
    pub faults: Faults,
    /// Skip sign-in and consent in the OAuth flow.
    pub auto_approve: bool,
    /// Lifetime of new OAuth access tokens, seconds.
    pub token_lifetime: i64,
    /// Requests served, by kind (for request-count measurements).
    pub counters: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Signed-in browser sessions: cookie value → user id.
    sessions: Mutex<std::collections::HashMap<String, u64>>,
    /// The user `--auto-approve` signs in as (default: the seeded editor).
    auto_user: Mutex<Option<u64>>,
}

impl Kit {
    /// Locks the data.
    pub fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the data and saves it.
    pub fn change<T>(&self, f: impl FnOnce(&mut Data) -> T) -> T {
        let mut data = self.data();
        let out = f(&mut data);
        if let Err(e) = data.save(&self.dir) {
            tracing::error!("could not save state.json: {e}");
        }
        out
    }

    /// Where a project's bare repository lives.
    pub fn repo_dir(&self, full_path: &str) -> PathBuf {
        state::repo_dir(&self.dir, full_path)
    }

    /// Signed-in browser sessions.
    pub fn sessions(&self) -> MutexGuard<'_, std::collections::HashMap<String, u64>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user `--auto-approve` acts as.
    pub fn auto_approve_user(&self) -> u64 {
        let chosen = *self.auto_user.lock().unwrap_or_else(|e| e.into_inner());
        chosen.unwrap_or_else(|| self.data().user_named("editor").map(|u| u.id).unwrap_or(1))
    }

    /// Makes `--auto-approve` act as `user_id`.
    pub fn set_auto_approve_user(&self, user_id: u64) {
        *self.auto_user.lock().unwrap_or_else(|e| e.into_inner()) = Some(user_id);
    }

    /// Counts one request of `kind`.
    pub fn count(&self, kind: &str) {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *c.entry(kind.to_string()).or_default() += 1;
    }
}

const WEBSITE_FILES: &[(&str, &[u8])] = &[
    (
        "README.md",
        b"# Website\n\nThe team's website. Edit the pages in `content/`.\n",
    ),
    (
        "index.md",
        b"---\ntitle: Home\n---\n\n# Welcome\n\nThis is our website.\n",
    ),
    (
        "about.md",
        b"---\ntitle: About us\n---\n\n# About us\n\nWe write things.\n",
    ),
    (
        "content/news.md",
        b"# News\n\n- 2026-11-01: Site launched.\n",
    ),
    (
        "content/contact.md",
        b"# Contact\n\nWrite to hello@example.com.\n",
    ),
    (
        "images/logo.png",
        include_bytes!("../../../icons/app/32x32.png"),
    ),
];

/// Creates the seeded users, tokens, applications and projects.
fn seed(kit_dir: &Path, token_scopes: &[&str]) -> anyhow::Result<Data> {
    let mut d = Data::default();
    let editor = d.add_user("editor", "Eddie Editor", &state::random_hex(8));
    let reviewer = d.add_user("reviewer", "Rita Reviewer", &state::random_hex(8));
    d.add_token(editor, "Ferry", token_scopes, None);
    d.add_token(reviewer, "Ferry", token_scopes, None);
    d.add_app("Ferry", "http://127.0.0.1/callback", true);
    d.add_app("Ferry (public)", "http://127.0.0.1/callback", false);

    let editor_ns = d.namespace_by_path("editor").expect("just added").id;
    let website = d.add_project(editor_ns, "website", "Website");
    let empty = d.add_project(editor_ns, "empty", "Empty");
    let team = d.add_group(
        "team",
        "Team",
        &[(editor, access::DEVELOPER), (reviewer, access::MAINTAINER)],
    );
    let handbook = d.add_project(team, "handbook", "Handbook");
    for p in d.projects.iter_mut() {
        if p.id == website {
            p.members.insert(reviewer, access::DEVELOPER);
            p.description = Some("The team's website".into());
        }
        if p.id == handbook {
            // As GitLab protects a default branch: Maintainers push, Developers don't.
            p.protected_branches
                .insert("main".into(), access::MAINTAINER);
        }
    }
    for (id, files) in [
        (website, WEBSITE_FILES),
        (empty, &[][..]),
        (handbook, &[("README.md", &b"# Handbook\n"[..])][..]),
    ] {
        let p = d.projects.iter().find(|p| p.id == id).expect("seeded");
        let dir = state::repo_dir(kit_dir, &d.full_path(p));
        git::ensure_bare(&dir, "main")?;
        if !files.is_empty() {
            git::seed(
                &dir,
                "main",
                ("Eddie Editor", "editor@example.com"),
                "Initial content",
                files,
            )?;
        }
    }
    Ok(d)
}

/// Scopes of the seeded personal access tokens.
pub const SEED_SCOPES: &[&str] = &["api", "read_user", "read_repository", "write_repository"];

/// A running testkit server. Dropping it stops the server (and removes its
/// temporary data directory, if it made one).
pub struct Testkit {
    info: Info,
    kit: Arc<Kit>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
}

impl Testkit {
    /// Starts a server on a background thread; returns once it listens.
    pub fn start(options: Options) -> anyhow::Result<Testkit> {
        let (temp, dir) = match &options.data {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("ferry-testkit-")
                    .tempdir()?;
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        std::fs::create_dir_all(&dir)?;
        let dir = dir.canonicalize()?;
        // The server runs on its own thread and runtime, so that callers may
        // be sync tests or async ones (no runtime is entered here).
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (start_tx, start_rx) =
            std::sync::mpsc::channel::<Option<(Arc<Kit>, Option<Arc<rustls::ServerConfig>>)>>();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let wanted_port = options.port;
        let thread = std::thread::Builder::new()
            .name("testkit-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .thread_name("testkit")
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = port_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let listener = match runtime.block_on(server::bind(wanted_port)) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = port_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = port_tx.send(
                    listener
                        .local_addr()
                        .map(|a| a.port())
                        .map_err(|e| e.to_string()),
                );
                if let Ok(Some((kit, config))) = start_rx.recv() {
                    runtime.block_on(server::serve(kit, listener, config, rx));
                }
            })?;
        let port = port_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the testkit server thread ended early"))?
            .map_err(|e| anyhow::anyhow!("could not listen on 127.0.0.1: {e}"))?;
        let tls = if options.tls {
            Some(tls::generate(&dir, options.certificate)?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let data = match Data::load(&dir)? {
            Some(d) => d,
            None => seed(&dir, SEED_SCOPES)?,
        };
        data.save(&dir)?;
        let info = info_for(&data, &url, tls.as_ref().map(|t| t.ca_file.clone()))?;
        let kit = Arc::new(Kit {
            data: Mutex::new(data),
            dir,
            url,
            faults: Faults::default(),
            auto_approve: options.auto_approve,
            token_lifetime: options.token_lifetime.unwrap_or(7200),
            counters: Mutex::default(),
            sessions: Mutex::default(),
            auto_user: Mutex::default(),
        });

        let config = tls.map(|t| t.server_config);
        let _ = start_tx.send(Some((kit.clone(), config)));
        Ok(Testkit {
            info,
            kit,
            shutdown: Some(tx),
            thread: Some(thread),
            _temp: temp,
        })
    }

    /// What clients need: URL, user, token, projects, OAuth apps.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.info.url
    }

    /// The shared state, for tests that reach past HTTP (faults, data).
    pub fn kit(&self) -> &Arc<Kit> {
        &self.kit
    }

    /// The bare repository of `namespace/project`.
    pub fn repo_dir(&self, full_path: &str) -> PathBuf {
        self.kit.repo_dir(full_path)
    }
}

impl Drop for Testkit {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn info_for(d: &Data, url: &str, ca_file: Option<PathBuf>) -> anyhow::Result<Info> {
    let user = |name: &str| -> anyhow::Result<(String, String)> {
        let u = d
            .user_named(name)
            .ok_or_else(|| anyhow::anyhow!("no user {name} in state.json"))?;
        let token = d
            .tokens
            .iter()
            .find(|t| t.user_id == u.id && !t.revoked)
            .map(|t| t.token.clone())
            .unwrap_or_default();
        Ok((u.password.clone(), token))
    };
    let (password, token) = user("editor")?;
    let (second_password, second_token) = user("reviewer")?;
    let confidential = d.apps.iter().find(|a| a.secret.is_some());
    let public = d.apps.iter().find(|a| a.secret.is_none());
    Ok(Info {
        url: url.to_string(),
        user: "editor".into(),
        password,
        token,
        projects: d.projects.iter().map(|p| d.full_path(p)).collect(),
        oauth: OAuthInfo {
            client_id: confidential.map(|a| a.uid.clone()).unwrap_or_default(),
            client_secret: confidential
                .and_then(|a| a.secret.clone())
                .unwrap_or_default(),
            redirect_uri: "http://127.0.0.1/callback".into(),
            public_client_id: public.map(|a| a.uid.clone()).unwrap_or_default(),
        },
        admin: format!("{url}/-/testkit"),
        second_user: "reviewer".into(),
        second_password,
        second_token,
        ca_file,
    })
}
