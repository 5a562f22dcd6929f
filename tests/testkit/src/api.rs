//! GitLab's REST API (`/api/v4`), the part Ferry uses, with GitLab's field
//! names, pagination headers, scopes and error bodies (`doc/api/*.md`,
//! `lib/api/helpers.rb`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::auth::{self, Caller, Rejection};
use crate::state::{access, Data, Project};
use crate::Kit;

type Kitted = State<Arc<Kit>>;
type Params = Query<HashMap<String, String>>;

/// The `/api/v4` routes.
pub fn router() -> Router<Arc<Kit>> {
    Router::new()
        .route("/user", get(user))
        .route("/version", get(version))
        .route("/metadata", get(version))
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/{id}", get(one_project))
        .route("/projects/{id}/repository/branches/{*branch}", get(branch))
        .route("/personal_access_tokens/self", get(token_self))
        .route("/namespaces", get(namespaces))
        .fallback(|| async { error_json(StatusCode::NOT_FOUND, "error", "404 Not Found") })
}

/// `{"<key>": "<message>"}` with `status`, as GitLab's API errors.
pub fn error_json(status: StatusCode, key: &str, message: &str) -> Response {
    (status, json_headers(), json!({ key: message }).to_string()).into_response()
}

fn json_headers() -> [(&'static str, &'static str); 3] {
    [
        ("content-type", "application/json"),
        ("x-frame-options", "SAMEORIGIN"),
        ("x-content-type-options", "nosniff"),
    ]
}

fn ok_json(status: StatusCode, value: Value) -> Response {
    (status, json_headers(), value.to_string()).into_response()
}

/// GitLab's timestamp format: `2026-11-22T10:00:00.000Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn invalid_token(description: &str) -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        json_headers(),
        json!({"error": "invalid_token", "error_description": description}).to_string(),
    )
        .into_response();
    let header = format!(
        "Bearer realm=\"Protected by OAuth 2.0\", error=\"invalid_token\", error_description=\"{description}\""
    );
    if let Ok(v) = HeaderValue::from_str(&header) {
        r.headers_mut().insert("www-authenticate", v);
    }
    r
}

/// The answer for a rejected token, as GitLab's API guard gives it.
pub fn rejection_response(r: Rejection) -> Response {
    match r {
        Rejection::Unknown => error_json(StatusCode::UNAUTHORIZED, "message", "401 Unauthorized"),
        Rejection::Expired => {
            invalid_token("Token is expired. You can either do re-authorization or token refresh.")
        }
        Rejection::Revoked => {
            invalid_token("Token was revoked. You have to re-authorize from the user.")
        }
    }
}

fn insufficient_scope(scopes: &str) -> Response {
    ok_json(
        StatusCode::FORBIDDEN,
        json!({
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the access token.",
            "scope": scopes,
        }),
    )
}

/// The token a request carries: `PRIVATE-TOKEN`, `Authorization: Bearer`,
/// `private_token=` or `access_token=`.
pub fn token_from(headers: &HeaderMap, params: &HashMap<String, String>) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    params
        .get("private_token")
        .map(String::as_str)
        .or_else(|| header("private-token"))
        .or_else(|| {
            header("authorization").and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
        })
        .or_else(|| params.get("access_token").map(String::as_str))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Authenticates and checks that the token has one of `scopes`.
fn authenticate(
    kit: &Kit,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    scopes: &[&str],
) -> Result<Caller, Response> {
    let Some(token) = token_from(headers, params) else {
        return Err(error_json(
            StatusCode::UNAUTHORIZED,
            "message",
            "401 Unauthorized",
        ));
    };
    let caller = kit
        .change(|d| auth::resolve(d, &token))
        .map_err(rejection_response)?;
    if !caller.has_any(scopes) {
        return Err(insufficient_scope(&scopes.join(" ")));
    }
    Ok(caller)
}

const READ_API: &[&str] = &["api", "read_api"];

fn user_json(kit: &Kit, d: &Data, id: u64) -> Value {
    let Some(u) = d.user(id) else {
        return Value::Null;
    };
    json!({
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "state": "active",
        "locked": false,
        "avatar_url": format!("{}/uploads/-/system/user/avatar/{}/avatar.png", kit.url, u.id),
        "web_url": format!("{}/{}", kit.url, u.username),
        "created_at": ts(u.created_at),
        "bio": "",
        "location": null,
        "public_email": null,
        "linkedin": "",
        "twitter": "",
        "discord": "",
        "github": "",
        "website_url": "",
        "organization": "",
        "job_title": "",
        "pronouns": null,
        "bot": false,
        "work_information": null,
        "followers": 0,
        "following": 0,
        "local_time": null,
        "last_sign_in_at": ts(u.created_at),
        "confirmed_at": ts(u.created_at),
        "last_activity_on": u.created_at.date_naive().to_string(),
        "email": u.email,
        "theme_id": 1,
        "color_scheme_id": 1,
        "projects_limit": 100000,
        "current_sign_in_at": ts(u.created_at),
        "identities": [],
        "can_create_group": true,
        "can_create_project": true,
        "two_factor_enabled": false,
        "external": false,
        "private_profile": false,
        "commit_email": u.email,
        "preferred_language": "en",
        "is_admin": u.is_admin,
    })
}

async fn user(State(kit): Kitted, headers: HeaderMap, Query(params): Params) -> Response {
    let caller = match authenticate(&kit, &headers, &params, &["api", "read_api", "read_user"]) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let d = kit.data();
    ok_json(StatusCode::OK, user_json(&kit, &d, caller.user_id))
}

async fn version(State(kit): Kitted, headers: HeaderMap, Query(params): Params) -> Response {
    if let Err(r) = authenticate(&kit, &headers, &params, &["api", "read_api", "read_user"]) {
        return r;
    }
    ok_json(
        StatusCode::OK,
        json!({
            "version": "17.5.0",
            "revision": "f3rry7e5",
            "kas": {"enabled": false, "externalUrl": null, "externalK8sProxyUrl": null, "version": null},
            "enterprise": false,
        }),
    )
}

fn namespace_json(kit: &Kit, d: &Data, id: u64) -> Value {
    let Some(n) = d.namespace(id) else {
        return Value::Null;
    };
    let web_url = if n.kind == "group" {
        format!("{}/groups/{}", kit.url, n.path)
    } else {
        format!("{}/{}", kit.url, n.path)
    };
    json!({
        "id": n.id,
        "name": n.name,
        "path": n.path,
        "kind": n.kind,
        "full_path": n.path,
        "parent_id": null,
        "avatar_url": null,
        "web_url": web_url,
    })
}

fn repo_is_empty(kit: &Kit, full_path: &str) -> bool {
    let dir = kit.repo_dir(full_path);
    let loose = std::fs::read_dir(dir.join("refs/heads"))
        .map(|mut e| e.next().is_some())
        .unwrap_or(false);
    let packed = std::fs::read_to_string(dir.join("packed-refs"))
        .map(|s| s.contains(" refs/heads/"))
        .unwrap_or(false);
    !(loose || packed)
}

/// A project as GitLab's API shows it; `simple` gives the short form.
pub fn project_json(kit: &Kit, d: &Data, p: &Project, viewer: Option<u64>, simple: bool) -> Value {
    let full = d.full_path(p);
    let ns = d.namespace(p.namespace_id);
    let web_url = format!("{}/{}", kit.url, full);
    let empty = repo_is_empty(kit, &full);
    let default_branch = if empty {
        Value::Null
    } else {
        Value::String(p.default_branch.clone())
    };
    let host = kit
        .url
        .split("://")
        .nth(1)
        .and_then(|h| h.split(':').next())
        .unwrap_or("127.0.0.1");
    let mut v = json!({
        "id": p.id,
        "description": p.description,
        "name": p.name,
        "name_with_namespace": format!("{} / {}", ns.map(|n| n.name.as_str()).unwrap_or("?"), p.name),
        "path": p.path,
        "path_with_namespace": full,
        "created_at": ts(p.created_at),
        "default_branch": default_branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": format!("git@{host}:{full}.git"),
        "http_url_to_repo": format!("{web_url}.git"),
        "web_url": web_url,
        "readme_url": if empty { Value::Null } else { json!(format!("{web_url}/-/blob/{}/README.md", p.default_branch)) },
        "forks_count": 0,
        "avatar_url": null,
        "star_count": 0,
        "last_activity_at": ts(p.last_activity_at),
        "namespace": namespace_json(kit, d, p.namespace_id),
    });
    if simple {
        return v;
    }
    let extra = json!({
        "description_html": p.description.as_deref().map(|s| format!("<p data-sourcepos=\"1:1-1:{}\" dir=\"auto\">{s}</p>", s.len())).unwrap_or_default(),
        "updated_at": ts(p.last_activity_at),
        "visibility": p.visibility,
        "archived": p.archived,
        "empty_repo": empty,
        "creator_id": ns.and_then(|n| n.owner_id).unwrap_or(1),
        "open_issues_count": 0,
        "issues_enabled": true,
        "merge_requests_enabled": true,
        "wiki_enabled": true,
        "jobs_enabled": true,
        "snippets_enabled": true,
        "repository_access_level": "enabled",
        "merge_requests_access_level": "enabled",
        "lfs_enabled": true,
        "shared_with_groups": [],
        "request_access_enabled": true,
        "merge_method": "merge",
        "_links": {
            "self": format!("{}/api/v4/projects/{}", kit.url, p.id),
            "repo_branches": format!("{}/api/v4/projects/{}/repository/branches", kit.url, p.id),
            "members": format!("{}/api/v4/projects/{}/members", kit.url, p.id),
        },
        "permissions": permissions(d, p, viewer),
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut v, extra) {
        base.extend(more);
    }
    v
}

fn permissions(d: &Data, p: &Project, viewer: Option<u64>) -> Value {
    let Some(u) = viewer else {
        return json!({"project_access": null, "group_access": null});
    };
    let level = |l: u32| {
        if l == 0 {
            Value::Null
        } else {
            json!({"access_level": l, "notification_level": 3})
        }
    };
    let ns = d.namespace(p.namespace_id);
    let group = ns
        .filter(|n| n.kind == "group")
        .and_then(|n| n.members.get(&u).copied())
        .unwrap_or(0);
    let project = p.members.get(&u).copied().unwrap_or(0).max(
        ns.filter(|n| n.owner_id == Some(u))
            .map(|_| access::OWNER)
            .unwrap_or(0),
    );
    json!({"project_access": level(project), "group_access": level(group)})
}

fn flag(params: &HashMap<String, String>, name: &str) -> Option<bool> {
    params
        .get(name)
        .map(|v| matches!(v.as_str(), "true" | "1" | "yes"))
}

/// Sets GitLab's offset-pagination headers and returns the page's slice.
fn paginate(
    kit: &Kit,
    path: &str,
    params: &HashMap<String, String>,
    items: Vec<Value>,
) -> Response {
    let per_page = params
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(20)
        .min(100);
    let page = params
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let next = (page < total_pages).then_some(page + 1);
    let prev = (page > 1).then(|| (page - 1).min(total_pages));
    let link_for = |n: usize| {
        let mut q: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "page" | "per_page" | "private_token" | "access_token"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.push(("page".into(), n.to_string()));
        q.push(("per_page".into(), per_page.to_string()));
        q.sort();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        format!("{}/api/v4{path}?{query}", kit.url)
    };
    let counts = total <= 10_000;
    let mut links = Vec::new();
    if let Some(p) = prev {
        links.push(format!("<{}>; rel=\"prev\"", link_for(p)));
    }
    if let Some(n) = next {
        links.push(format!("<{}>; rel=\"next\"", link_for(n)));
    }
    links.push(format!("<{}>; rel=\"first\"", link_for(1)));
    if counts {
        links.push(format!("<{}>; rel=\"last\"", link_for(total_pages)));
    }
    let mut r = ok_json(StatusCode::OK, Value::Array(slice));
    let h = r.headers_mut();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set("x-per-page", per_page.to_string());
    set("x-page", page.to_string());
    set(
        "x-next-page",
        next.map(|n| n.to_string()).unwrap_or_default(),
    );
    set(
        "x-prev-page",
        prev.map(|n| n.to_string()).unwrap_or_default(),
    );
    set("link", links.join(", "));
    if counts {
        set("x-total", total.to_string());
        set("x-total-pages", total_pages.to_string());
    }
    r
}

async fn list_projects(State(kit): Kitted, headers: HeaderMap, Query(params): Params) -> Response {
    let caller = match authenticate(&kit, &headers, &params, READ_API) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let d = kit.data();
    let u = caller.user_id;
    let min_level = params
        .get("min_access_level")
        .and_then(|v| v.parse::<u32>().ok());
    let membership = flag(&params, "membership").unwrap_or(false) || min_level.is_some();
    let terms: Vec<String> = params
        .get("search")
        .map(|s| {
            s.split([' ', '+'])
                .filter(|t| !t.is_empty())
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default();
    let mut list: Vec<&Project> = d
        .projects
        .iter()
        .filter(|p| d.can_see(p, Some(u)))
        .filter(|p| !membership || d.access_level(p, u) >= access::GUEST)
        .filter(|p| min_level.is_none_or(|m| d.access_level(p, u) >= m))
        .filter(|p| flag(&params, "archived").is_none_or(|a| p.archived == a))
        .filter(|p| {
            !flag(&params, "owned").unwrap_or(false)
                || d.namespace(p.namespace_id).and_then(|n| n.owner_id) == Some(u)
        })
        .filter(|p| params.get("visibility").is_none_or(|v| &p.visibility == v))
        .filter(|p| {
            let hay = format!(
                "{} {} {}",
                p.name.to_lowercase(),
                d.full_path(p).to_lowercase(),
                p.description.as_deref().unwrap_or_default().to_lowercase()
            );
            terms.iter().all(|t| hay.contains(t.as_str()))
        })
        .collect();
    let order = params
        .get("order_by")
        .map(String::as_str)
        .unwrap_or("created_at");
    match order {
        "name" => list.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        }),
        "path" => list.sort_by(|a, b| a.path.cmp(&b.path).then(a.id.cmp(&b.id))),
        "updated_at" | "last_activity_at" => list.sort_by(|a, b| {
            a.last_activity_at
                .cmp(&b.last_activity_at)
                .then(a.id.cmp(&b.id))
        }),
        _ => list.sort_by_key(|p| p.id),
    }
    if params.get("sort").map(String::as_str) != Some("asc") {
        list.reverse();
    }
    let simple = flag(&params, "simple").unwrap_or(false);
    let items = list
        .into_iter()
        .map(|p| project_json(&kit, &d, p, Some(u), simple))
        .collect();
    paginate(&kit, "/projects", &params, items)
}

async fn one_project(
    State(kit): Kitted,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let caller = match authenticate(&kit, &headers, &params, READ_API) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let d = kit.data();
    match d.project_by_ref(&id) {
        Some(p) if d.can_see(p, Some(caller.user_id)) => ok_json(
            StatusCode::OK,
            project_json(&kit, &d, p, Some(caller.user_id), false),
        ),
        _ => error_json(StatusCode::NOT_FOUND, "message", "404 Project Not Found"),
    }
}

fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

async fn create_project(
    State(kit): Kitted,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let caller = match authenticate(&kit, &headers, &params, &["api"]) {
        Ok(c) => c,
        Err(r) => return r,
    };
    // GitLab takes JSON or form bodies, and query parameters.
    let mut form: HashMap<String, String> = params.clone();
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                form.insert(k, text);
            }
        }
    } else {
        form.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    let name = form.get("name").cloned().filter(|s| !s.trim().is_empty());
    let path = form.get("path").cloned().filter(|s| !s.trim().is_empty());
    let (name, path) = match (name, path) {
        (None, None) => {
            return error_json(
                StatusCode::BAD_REQUEST,
                "error",
                "name, path are missing, at least one parameter must be provided",
            )
        }
        (Some(n), None) => (n.clone(), slug(&n)),
        (None, Some(p)) => (p.clone(), p),
        (Some(n), Some(p)) => (n, p),
    };
    let u = caller.user_id;
    let created = kit.change(|d| {
        let ns_id = match form.get("namespace_id") {
            Some(id) => match id
                .parse::<u64>()
                .ok()
                .and_then(|id| d.namespace(id))
                .or_else(|| d.namespace_by_path(id))
            {
                Some(ns) => ns.id,
                None => {
                    return Err(error_json(
                        StatusCode::NOT_FOUND,
                        "message",
                        "404 Namespace Not Found",
                    ))
                }
            },
            None => match d.namespaces.iter().find(|n| n.owner_id == Some(u)) {
                Some(ns) => ns.id,
                None => {
                    return Err(error_json(
                        StatusCode::NOT_FOUND,
                        "message",
                        "404 Namespace Not Found",
                    ))
                }
            },
        };
        let ns = d.namespace(ns_id).expect("found above");
        let can_create =
            ns.owner_id == Some(u) || ns.members.get(&u).copied().unwrap_or(0) >= access::DEVELOPER;
        if !can_create {
            return Err(error_json(
                StatusCode::FORBIDDEN,
                "message",
                "403 Forbidden",
            ));
        }
        let taken = d.projects.iter().any(|p| {
            p.namespace_id == ns_id
                && (p.path.eq_ignore_ascii_case(&path) || p.name.eq_ignore_ascii_case(&name))
        });
        if taken {
            return Err(ok_json(
                StatusCode::BAD_REQUEST,
                json!({"message": {
                    "project_namespace.name": ["has already been taken"],
                    "name": ["has already been taken"],
                    "path": ["has already been taken"],
                }}),
            ));
        }
        let id = d.add_project(ns_id, &path, &name);
        let p = d
            .projects
            .iter_mut()
            .find(|p| p.id == id)
            .expect("just added");
        if let Some(v) = form.get("visibility") {
            p.visibility = v.clone();
        }
        p.description = form.get("description").cloned();
        let readme = flag(&form, "initialize_with_readme").unwrap_or(false);
        if readme {
            if let Some(b) = form.get("default_branch").filter(|b| !b.is_empty()) {
                p.default_branch = b.clone();
            }
        }
        let full = d.full_path(d.projects.iter().find(|p| p.id == id).expect("added"));
        Ok((id, full, readme))
    });
    let (id, full, readme) = match created {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (branch, author) = {
        let d = kit.data();
        let p = d.projects.iter().find(|p| p.id == id).expect("added");
        let user = d.user(u).expect("caller exists");
        (
            p.default_branch.clone(),
            (user.name.clone(), user.email.clone()),
        )
    };
    let dir = kit.repo_dir(&full);
    let made = git_setup(&dir, &branch, readme, &name, (&author.0, &author.1)).await;
    if let Err(e) = made {
        tracing::error!("creating repository {full}: {e:#}");
        return error_json(
            StatusCode::INTERNAL_SERVER_ERROR,
            "message",
            "500 Internal Server Error",
        );
    }
    let d = kit.data();
    let p = d.projects.iter().find(|p| p.id == id).expect("added");
    ok_json(
        StatusCode::CREATED,
        project_json(&kit, &d, p, Some(u), false),
    )
}

async fn git_setup(
    dir: &std::path::Path,
    branch: &str,
    readme: bool,
    name: &str,
    author: (&str, &str),
) -> anyhow::Result<()> {
    let dir = dir.to_path_buf();
    let branch = branch.to_string();
    let content = format!("# {name}\n");
    let author = (author.0.to_string(), author.1.to_string());
    tokio::task::spawn_blocking(move || {
        crate::git::ensure_bare(&dir, &branch)?;
        if readme {
            crate::git::seed(
                &dir,
                &branch,
                (&author.0, &author.1),
                "Initial commit",
                &[("README.md", content.as_bytes())],
            )?;
        }
        Ok(())
    })
    .await?
}

async fn branch(
    State(kit): Kitted,
    Path((id, branch)): Path<(String, String)>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let caller = match authenticate(&kit, &headers, &params, READ_API) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (full, p) = {
        let d = kit.data();
        match d.project_by_ref(&id) {
            Some(p) if d.can_see(p, Some(caller.user_id)) => (d.full_path(p), p.clone()),
            _ => return error_json(StatusCode::NOT_FOUND, "message", "404 Project Not Found"),
        }
    };
    let dir = kit.repo_dir(&full);
    let name = branch.clone();
    let tip = tokio::task::spawn_blocking(move || crate::git::branch_tip(&dir, &name))
        .await
        .ok()
        .flatten();
    let Some(c) = tip else {
        return error_json(StatusCode::NOT_FOUND, "message", "404 Branch Not Found");
    };
    let level = kit.data().access_level(&p, caller.user_id);
    let needed = p.protected_branches.get(&branch).copied();
    let web = format!("{}/{}", kit.url, full);
    ok_json(
        StatusCode::OK,
        json!({
            "name": branch,
            "merged": false,
            "protected": needed.is_some(),
            "default": branch == p.default_branch,
            "developers_can_push": needed.is_none_or(|n| n <= access::DEVELOPER),
            "developers_can_merge": needed.is_none_or(|n| n <= access::DEVELOPER),
            "can_push": level >= needed.unwrap_or(access::DEVELOPER),
            "web_url": format!("{web}/-/tree/{branch}"),
            "commit": {
                "id": c.id,
                "short_id": &c.id[..8.min(c.id.len())],
                "created_at": c.committed_date,
                "parent_ids": c.parent_ids,
                "title": c.title,
                "message": c.message,
                "author_name": c.author_name,
                "author_email": c.author_email,
                "authored_date": c.authored_date,
                "committer_name": c.committer_name,
                "committer_email": c.committer_email,
                "committed_date": c.committed_date,
                "trailers": {},
                "extended_trailers": {},
                "web_url": format!("{web}/-/commit/{}", c.id),
            },
        }),
    )
}

async fn token_self(State(kit): Kitted, headers: HeaderMap, Query(params): Params) -> Response {
    let all: Vec<&str> = crate::state::ALL_SCOPES.to_vec();
    let caller = match authenticate(&kit, &headers, &params, &all) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !caller.personal {
        return error_json(
            StatusCode::BAD_REQUEST,
            "message",
            "400 Bad request - This endpoint requires token type to be a personal access token",
        );
    }
    let d = kit.data();
    let Some(t) = d.tokens.iter().find(|t| t.id == caller.token_id) else {
        return error_json(StatusCode::UNAUTHORIZED, "message", "401 Unauthorized");
    };
    ok_json(
        StatusCode::OK,
        json!({
            "id": t.id,
            "name": t.name,
            "revoked": t.revoked,
            "created_at": ts(t.created_at),
            "description": "",
            "scopes": t.scopes,
            "user_id": t.user_id,
            "last_used_at": t.last_used_at.map(ts),
            "active": !t.revoked,
            "expires_at": t.expires_at.map(|d| d.format("%Y-%m-%d").to_string()),
            "last_used_ips": ["127.0.0.1"],
        }),
    )
}

async fn namespaces(State(kit): Kitted, headers: HeaderMap, Query(params): Params) -> Response {
    let caller = match authenticate(&kit, &headers, &params, READ_API) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let d = kit.data();
    let search = params.get("search").map(|s| s.to_lowercase());
    let owned_only = flag(&params, "owned_only").unwrap_or(false);
    let min_level = params
        .get("min_access_level")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let u = caller.user_id;
    let items: Vec<Value> = d
        .namespaces_for(u)
        .into_iter()
        .filter(|n| {
            let level = if n.owner_id == Some(u) {
                access::OWNER
            } else {
                n.members.get(&u).copied().unwrap_or(0)
            };
            level >= min_level && (!owned_only || level >= access::OWNER)
        })
        .filter(|n| {
            search.as_ref().is_none_or(|s| {
                n.path.to_lowercase().contains(s) || n.name.to_lowercase().contains(s)
            })
        })
        .map(|n| {
            let mut v = namespace_json(&kit, &d, n.id);
            if n.kind == "group" {
                v["members_count_with_descendants"] = json!(n.members.len());
            }
            v["billable_members_count"] = json!(n.members.len().max(1));
            v["plan"] = json!("default");
            v["trial_ends_on"] = Value::Null;
            v["trial"] = json!(false);
            v
        })
        .collect();
    paginate(&kit, "/namespaces", &params, items)
}
