//! Git over smart HTTP as GitLab serves it: `/ns/project(.git)/info/refs`,
//! `git-upload-pack` and `git-receive-pack`, authenticated by HTTP Basic
//! with `oauth2:<OAuth token>` or any user name and a personal access token,
//! with GitLab's scope and role checks and messages
//! (`app/controllers/repositories/git_http_*`, `lib/gitlab/git_access.rb`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::auth::{self, Caller};
use crate::state::access;
use crate::Kit;

/// A git request's project and what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitTarget {
    /// `namespace/project`.
    pub project: String,
    /// `info/refs`, `git-upload-pack` or `git-receive-pack`.
    pub action: String,
}

/// Recognises `/ns/project(.git)/(info/refs|git-upload-pack|git-receive-pack)`.
pub fn parse_path(path: &str) -> Option<GitTarget> {
    for action in ["/info/refs", "/git-upload-pack", "/git-receive-pack"] {
        if let Some(repo) = path.strip_suffix(action) {
            let repo = repo.trim_start_matches('/').trim_end_matches(".git");
            if repo.contains('/') && !repo.starts_with("api/") && !repo.starts_with("-/") {
                return Some(GitTarget {
                    project: repo.to_string(),
                    action: action.trim_start_matches('/').to_string(),
                });
            }
        }
    }
    None
}

const ACCESS_DENIED: &str = "HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect or you're required to use a token instead of a password. If a token was provided, it was either incorrect, expired, or improperly scoped. See ";

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn challenge(kit: &Kit) -> Response {
    let mut r = text(
        StatusCode::UNAUTHORIZED,
        format!(
            "{ACCESS_DENIED}{}/help/topics/git/troubleshooting_git.md#error-on-git-fetch-http-basic-access-denied",
            kit.url
        ),
    );
    r.headers_mut().insert(
        "www-authenticate",
        axum::http::HeaderValue::from_static("Basic realm=\"GitLab\""),
    );
    r
}

fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "The project you were looking for could not be found or you don't have permission to view it.".into(),
    )
}

fn basic_credentials(req: &Request<Body>) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Serves one git request.
pub async fn handle(kit: Arc<Kit>, target: GitTarget, req: Request<Body>) -> Response {
    let query = req.uri().query().unwrap_or_default().to_string();
    let push = target.action == "git-receive-pack"
        || (target.action == "info/refs" && query.contains("service=git-receive-pack"));

    // Who is asking. The login name is ignored: the token decides (as GitLab).
    let caller: Option<Caller> = match basic_credentials(&req) {
        Some((_user, token)) => match kit.change(|d| auth::resolve(d, &token)) {
            Ok(c) => Some(c),
            Err(_) => return challenge(&kit),
        },
        None => None,
    };

    let (project_id, project, level, username, protected, no_force) = {
        let d = kit.data();
        let Some(p) = d.project_by_ref(&target.project) else {
            return if caller.is_some() {
                not_found()
            } else {
                challenge(&kit)
            };
        };
        let user_id = caller.as_ref().map(|c| c.user_id);
        if !d.can_see(p, user_id) {
            return if caller.is_some() {
                not_found()
            } else {
                challenge(&kit)
            };
        }
        if caller.is_none() && push {
            return challenge(&kit);
        }
        let level = user_id.map(|u| d.access_level(p, u)).unwrap_or(0);
        let username = user_id
            .and_then(|u| d.user(u))
            .map(|u| u.username.clone())
            .unwrap_or_default();
        let protected: Vec<String> = p
            .protected_branches
            .iter()
            .filter(|(_, needed)| level < **needed)
            .map(|(b, _)| b.clone())
            .collect();
        let no_force: Vec<String> = p.protected_branches.keys().cloned().collect();
        (p.id, d.full_path(p), level, username, protected, no_force)
    };

    if let Some(c) = &caller {
        let can_download = c.has_any(&["api", "read_api", "read_repository", "write_repository"]);
        if !can_download {
            return text(
                StatusCode::FORBIDDEN,
                "You are not allowed to download code.".into(),
            );
        }
        if level > 0 && level < access::REPORTER {
            return text(
                StatusCode::FORBIDDEN,
                "You are not allowed to download code from this project.".into(),
            );
        }
        if push {
            if !c.has_any(&["api", "write_repository"]) {
                return text(
                    StatusCode::FORBIDDEN,
                    "You are not allowed to upload code.".into(),
                );
            }
            if level < access::DEVELOPER {
                return text(
                    StatusCode::FORBIDDEN,
                    "You are not allowed to push code to this project.".into(),
                );
            }
            let archived = kit
                .data()
                .projects
                .iter()
                .any(|p| p.id == project_id && p.archived);
            if archived {
                return text(
                    StatusCode::FORBIDDEN,
                    "You are not allowed to push code to this project.".into(),
                );
            }
        }
    }

    let dir = kit.repo_dir(&project);
    if !dir.join("HEAD").exists() {
        let dir2 = dir.clone();
        let made =
            tokio::task::spawn_blocking(move || crate::git::ensure_bare(&dir2, "main")).await;
        if !matches!(made, Ok(Ok(()))) {
            return text(
                StatusCode::NOT_FOUND,
                "A repository for this project does not exist yet.".into(),
            );
        }
    }

    let project_root = kit.dir.join("repos");
    let path_info = format!("/{}.git/{}", project.to_ascii_lowercase(), target.action);
    let (parts, body) = req.into_parts();
    let cgi = crate::git::CgiRequest {
        project_root,
        path_info,
        method: parts.method.to_string(),
        query,
        headers: parts.headers,
        remote_user: if username.is_empty() {
            "anonymous".into()
        } else {
            username
        },
        env: vec![
            ("TESTKIT_PROTECTED".into(), protected.join(" ")),
            ("TESTKIT_NO_FORCE".into(), no_force.join(" ")),
        ],
    };
    let is_receive = target.action == "git-receive-pack";
    match crate::git::run_cgi(cgi, body).await {
        Ok(response) => {
            if is_receive {
                kit.change(|d| {
                    if let Some(p) = d.projects.iter_mut().find(|p| p.id == project_id) {
                        p.last_activity_at = chrono::Utc::now();
                    }
                });
            }
            response
        }
        Err(e) => {
            tracing::error!("git http-backend: {e:#}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error".into(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_paths_are_recognised_with_and_without_dot_git() {
        let t = parse_path("/editor/website.git/info/refs").unwrap();
        assert_eq!(t.project, "editor/website");
        assert_eq!(t.action, "info/refs");
        let t = parse_path("/team/handbook/git-receive-pack").unwrap();
        assert_eq!(t.project, "team/handbook");
        assert!(parse_path("/api/v4/projects").is_none());
        assert!(
            parse_path("/website.git/info/refs").is_none(),
            "needs a namespace"
        );
    }
}
