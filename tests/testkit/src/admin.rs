//! Admin endpoints for tests and demos, under `/-/testkit/` (a path real
//! GitLab does not have): create users, tokens, projects and members,
//! protect branches, archive or delete projects, expire or revoke tokens,
//! switch faults, read request counts. No authentication: loopback only.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::FaultConfig;
use crate::state::{access, random_hex};
use crate::Kit;

type Kitted = State<Arc<Kit>>;

/// The `/-/testkit` routes.
pub fn router() -> Router<Arc<Kit>> {
    Router::new()
        .route("/", get(overview))
        .route("/users", post(create_user))
        .route("/tokens", post(create_token))
        .route("/tokens/expire", post(expire_tokens))
        .route("/tokens/revoke", post(revoke_tokens))
        .route("/projects", post(create_project))
        .route("/projects/bulk", post(bulk_projects))
        .route("/projects/{id}", axum::routing::delete(delete_project))
        .route("/projects/{id}/protect", post(protect))
        .route("/projects/{id}/archive", post(archive))
        .route("/members", post(add_member))
        .route("/faults", get(get_faults).post(set_faults))
        .route("/requests", get(requests).delete(reset_requests))
        .route("/oauth/auto-approve", post(auto_approve_as))
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"message": message}))).into_response()
}

async fn overview(State(kit): Kitted) -> Json<Value> {
    let d = kit.data();
    Json(json!({
        "url": kit.url,
        "data": kit.dir,
        "users": d.users.iter().map(|u| &u.username).collect::<Vec<_>>(),
        "projects": d.projects.iter().map(|p| d.full_path(p)).collect::<Vec<_>>(),
        "faults": kit.faults.get(),
    }))
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    name: Option<String>,
    password: Option<String>,
}

async fn create_user(State(kit): Kitted, Json(u): Json<NewUser>) -> Response {
    if kit.data().user_named(&u.username).is_some() {
        return bad("username has already been taken");
    }
    let password = u.password.unwrap_or_else(|| random_hex(8));
    let name = u.name.unwrap_or_else(|| u.username.clone());
    let id = kit.change(|d| d.add_user(&u.username, &name, &password));
    Json(json!({"id": id, "username": u.username, "password": password})).into_response()
}

#[derive(Deserialize)]
struct NewToken {
    username: String,
    scopes: Vec<String>,
    name: Option<String>,
    /// `YYYY-MM-DD`.
    expires_at: Option<chrono::NaiveDate>,
}

async fn create_token(State(kit): Kitted, Json(t): Json<NewToken>) -> Response {
    let Some(user) = kit.data().user_named(&t.username).map(|u| u.id) else {
        return bad("no such user");
    };
    let scopes: Vec<&str> = t.scopes.iter().map(String::as_str).collect();
    let name = t.name.unwrap_or_else(|| "test".into());
    let token = kit.change(|d| d.add_token(user, &name, &scopes, t.expires_at));
    Json(json!({"token": token})).into_response()
}

#[derive(Deserialize, Default)]
struct Which {
    /// `oauth`, `pat` or `all` (default).
    which: Option<String>,
}

/// Expires tokens now: OAuth access tokens run out (refresh still works),
/// personal tokens get yesterday as their expiry date.
async fn expire_tokens(State(kit): Kitted, body: Option<Json<Which>>) -> Json<Value> {
    let which = body.and_then(|b| b.0.which).unwrap_or_else(|| "all".into());
    let n = kit.change(|d| {
        let mut n = 0;
        if which == "oauth" || which == "all" {
            for t in d.oauth_tokens.iter_mut().filter(|t| !t.revoked) {
                t.expires_in = (Utc::now() - t.created_at).num_seconds() - 1;
                n += 1;
            }
        }
        if which == "pat" || which == "all" {
            let yesterday = (Utc::now() - Duration::days(1)).date_naive();
            for t in d.tokens.iter_mut().filter(|t| !t.revoked) {
                t.expires_at = Some(yesterday);
                n += 1;
            }
        }
        n
    });
    Json(json!({"expired": n}))
}

#[derive(Deserialize)]
struct Revoke {
    token: Option<String>,
    username: Option<String>,
}

/// Revokes one token (personal, OAuth access or refresh), or every token of a user.
async fn revoke_tokens(State(kit): Kitted, Json(r): Json<Revoke>) -> Json<Value> {
    let n = kit.change(|d| {
        let user = r
            .username
            .as_deref()
            .and_then(|u| d.user_named(u))
            .map(|u| u.id);
        let mut n = 0;
        for t in d.tokens.iter_mut() {
            if r.token.as_deref() == Some(t.token.as_str()) || user == Some(t.user_id) {
                t.revoked = true;
                n += 1;
            }
        }
        for t in d.oauth_tokens.iter_mut() {
            let hit = r
                .token
                .as_deref()
                .is_some_and(|x| x == t.access_token || x == t.refresh_token);
            if hit || user == Some(t.user_id) {
                t.revoked = true;
                n += 1;
            }
        }
        n
    });
    Json(json!({"revoked": n}))
}

#[derive(Deserialize)]
struct NewProject {
    namespace: String,
    path: String,
    name: Option<String>,
    visibility: Option<String>,
    /// Commit a README on the default branch.
    #[serde(default)]
    with_readme: bool,
    /// Extra members: user name → access level.
    #[serde(default)]
    members: BTreeMap<String, u32>,
}

async fn create_project(State(kit): Kitted, Json(p): Json<NewProject>) -> Response {
    let made = kit.change(|d| {
        let ns = match d.namespace_by_path(&p.namespace) {
            Some(n) => n.id,
            None => d.add_group(&p.namespace, &p.namespace, &[]),
        };
        if d.projects
            .iter()
            .any(|x| x.namespace_id == ns && x.path == p.path)
        {
            return Err("path has already been taken");
        }
        let id = d.add_project(ns, &p.path, p.name.as_deref().unwrap_or(&p.path));
        let members: Vec<(u64, u32)> = p
            .members
            .iter()
            .filter_map(|(u, l)| d.user_named(u).map(|u| (u.id, *l)))
            .collect();
        let project = d.projects.iter_mut().find(|x| x.id == id).expect("added");
        project.members.extend(members);
        if let Some(v) = &p.visibility {
            project.visibility = v.clone();
        }
        let full = d.full_path(d.projects.iter().find(|x| x.id == id).expect("added"));
        Ok((id, full))
    });
    let (id, full) = match made {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let dir = kit.repo_dir(&full);
    let readme = p.with_readme;
    let name = p.name.clone().unwrap_or(p.path.clone());
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        crate::git::ensure_bare(&dir, "main")?;
        if readme {
            let text = format!("# {name}\n");
            crate::git::seed(
                &dir,
                "main",
                ("Eddie Editor", "editor@example.com"),
                "Initial commit",
                &[("README.md", text.as_bytes())],
            )?;
        }
        Ok(())
    })
    .await;
    if !matches!(result, Ok(Ok(()))) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not create the repository",
        )
            .into_response();
    }
    Json(json!({"id": id, "path_with_namespace": full})).into_response()
}

#[derive(Deserialize)]
struct Bulk {
    namespace: String,
    count: usize,
    #[serde(default = "default_prefix")]
    prefix: String,
}

fn default_prefix() -> String {
    "project".into()
}

/// Adds many projects at once (their repositories are created on first git use).
async fn bulk_projects(State(kit): Kitted, Json(b): Json<Bulk>) -> Response {
    let n = kit.change(|d| {
        let ns = d.namespace_by_path(&b.namespace).map(|n| n.id)?;
        let start = d.projects.len();
        for i in 0..b.count {
            let path = format!("{}-{:05}", b.prefix, start + i);
            d.add_project(ns, &path, &path);
        }
        Some(b.count)
    });
    match n {
        Some(n) => Json(json!({"created": n})).into_response(),
        None => bad("no such namespace"),
    }
}

fn project_id(kit: &Kit, id: &str) -> Option<u64> {
    kit.data().project_by_ref(id).map(|p| p.id)
}

async fn delete_project(State(kit): Kitted, Path(id): Path<String>) -> Response {
    let Some(pid) = project_id(&kit, &id) else {
        return (StatusCode::NOT_FOUND, "no such project").into_response();
    };
    let full = kit.change(|d| {
        let full = d.project_by_ref(&id).map(|p| d.full_path(p));
        d.projects.retain(|p| p.id != pid);
        full
    });
    if let Some(full) = full {
        let _ = std::fs::remove_dir_all(kit.repo_dir(&full));
    }
    Json(json!({"deleted": pid})).into_response()
}

#[derive(Deserialize)]
struct Protect {
    branch: String,
    /// Access level needed to push (default 40, Maintainer); 0 unprotects.
    push_access_level: Option<u32>,
}

async fn protect(State(kit): Kitted, Path(id): Path<String>, Json(p): Json<Protect>) -> Response {
    let Some(pid) = project_id(&kit, &id) else {
        return (StatusCode::NOT_FOUND, "no such project").into_response();
    };
    kit.change(|d| {
        if let Some(project) = d.projects.iter_mut().find(|x| x.id == pid) {
            match p.push_access_level.unwrap_or(access::MAINTAINER) {
                0 => {
                    project.protected_branches.remove(&p.branch);
                }
                level => {
                    project.protected_branches.insert(p.branch.clone(), level);
                }
            }
        }
    });
    Json(json!({"protected": p.branch})).into_response()
}

#[derive(Deserialize)]
struct Archive {
    archived: bool,
}

async fn archive(State(kit): Kitted, Path(id): Path<String>, Json(a): Json<Archive>) -> Response {
    let Some(pid) = project_id(&kit, &id) else {
        return (StatusCode::NOT_FOUND, "no such project").into_response();
    };
    kit.change(|d| {
        if let Some(p) = d.projects.iter_mut().find(|x| x.id == pid) {
            p.archived = a.archived;
        }
    });
    Json(json!({"archived": a.archived})).into_response()
}

#[derive(Deserialize)]
struct Member {
    project: String,
    username: String,
    access_level: u32,
}

async fn add_member(State(kit): Kitted, Json(m): Json<Member>) -> Response {
    let done = kit.change(|d| {
        let user = d.user_named(&m.username)?.id;
        let pid = d.project_by_ref(&m.project)?.id;
        let p = d.projects.iter_mut().find(|p| p.id == pid)?;
        if m.access_level == 0 {
            p.members.remove(&user);
        } else {
            p.members.insert(user, m.access_level);
        }
        Some(())
    });
    match done {
        Some(()) => Json(json!({"ok": true})).into_response(),
        None => bad("no such user or project"),
    }
}

async fn get_faults(State(kit): Kitted) -> Json<FaultConfig> {
    Json(kit.faults.get())
}

async fn set_faults(State(kit): Kitted, Json(c): Json<FaultConfig>) -> Json<FaultConfig> {
    kit.faults.set(c);
    Json(kit.faults.get())
}

async fn requests(State(kit): Kitted) -> Json<Value> {
    let c = kit
        .counters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let total: u64 = c
        .iter()
        .filter(|(k, _)| !k.contains("/-/testkit"))
        .map(|(_, v)| v)
        .sum();
    Json(json!({"total": total, "by_kind": c}))
}

async fn reset_requests(State(kit): Kitted) -> StatusCode {
    kit.counters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct AutoUser {
    username: String,
}

async fn auto_approve_as(State(kit): Kitted, Json(a): Json<AutoUser>) -> Response {
    let Some(id) = kit.data().user_named(&a.username).map(|u| u.id) else {
        return bad("no such user");
    };
    kit.set_auto_approve_user(id);
    Json(json!({"auto_approve_user": a.username})).into_response()
}
