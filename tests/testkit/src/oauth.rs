//! OAuth 2.0 as GitLab serves it (Doorkeeper): the authorization-code flow
//! with PKCE, a real sign-in and consent page (or `--auto-approve`), token
//! exchange and refresh with rotation, token info, revocation, userinfo and
//! OpenID discovery (`doc/api/oauth2.md`, Doorkeeper's behaviour and texts).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::same_secret;
use crate::state::{random_hex, Grant, OAuthApp, OAuthToken};
use crate::Kit;

type Kitted = State<Arc<Kit>>;

const INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
const INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";
const INVALID_REDIRECT: &str = "The redirect URI included is not valid.";
const ACCESS_DENIED: &str = "The resource owner or authorization server denied the request.";

/// The OAuth, sign-in and discovery routes.
pub fn router() -> Router<Arc<Kit>> {
    Router::new()
        .route("/oauth/authorize", get(authorize).post(decide))
        .route("/users/sign_in", get(sign_in_page).post(sign_in))
        .route("/oauth/token", post(token))
        .route("/oauth/token/info", get(token_info))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/oauth-authorization-server", get(discovery))
        .route(
            "/oauth/discovery/keys",
            get(|| async { axum::Json(json!({"keys": []})) }),
        )
}

/// Doorkeeper's rule (RFC 8252 §7.3): equal URIs, except that for loopback
/// IP literals (127.0.0.0/8, ::1 — not `localhost`) the port is ignored.
pub fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let (Ok(r), Ok(g)) = (url::Url::parse(registered), url::Url::parse(given)) else {
        return false;
    };
    let loopback = |u: &url::Url| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    loopback(&r)
        && loopback(&g)
        && r.scheme() == g.scheme()
        && r.host() == g.host()
        && r.path() == g.path()
        && r.query() == g.query()
}

/// A `302 Found` redirect, as Rails' `redirect_to` answers.
fn found(location: &str) -> Found {
    Found(location.to_string())
}

/// See [`found`].
struct Found(String);

impl IntoResponse for Found {
    fn into_response(self) -> Response {
        let mut r = StatusCode::FOUND.into_response();
        if let Ok(v) = HeaderValue::from_str(&self.0) {
            r.headers_mut().insert("location", v);
        }
        r
    }
}

fn html_error(status: StatusCode, title: &str, text: &str) -> Response {
    (
        status,
        Html(page(
            title,
            &format!("<h1>An error has occurred</h1><p>{}</p>", escape(text)),
        )),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · GitLab</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:4rem auto;color:#1f1e24}}\
         input{{display:block;width:100%;padding:.5rem;margin:.3rem 0 1rem}}\
         button{{padding:.5rem 1rem;margin-right:.5rem}}.error{{color:#c91c00}}</style></head>\
         <body>{body}</body></html>",
        escape(title)
    )
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(base) {
        Ok(u) => u,
        Err(_) => return base.to_string(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// The validated parameters of an authorization request.
struct AuthRequest {
    app: OAuthApp,
    redirect_uri: String,
    state: String,
    scopes: Vec<String>,
    challenge: Option<String>,
    method: Option<String>,
}

fn validate(kit: &Kit, p: &HashMap<String, String>) -> Result<AuthRequest, Response> {
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let app = kit
        .data()
        .apps
        .iter()
        .find(|a| a.uid == get("client_id"))
        .cloned();
    let Some(app) = app else {
        return Err(html_error(
            StatusCode::UNAUTHORIZED,
            "Client authentication failed",
            INVALID_CLIENT,
        ));
    };
    let redirect_uri = get("redirect_uri");
    if !app
        .redirect_uris
        .iter()
        .any(|r| redirect_matches(r, &redirect_uri))
    {
        return Err(html_error(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            INVALID_REDIRECT,
        ));
    }
    let state = get("state");
    let fail = |error: &str, description: &str| -> Response {
        found(&with_query(
            &redirect_uri,
            &[
                ("error", error),
                ("error_description", description),
                ("state", &state),
            ],
        ))
        .into_response()
    };
    if get("response_type") != "code" {
        return Err(fail(
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        ));
    }
    let scopes: Vec<String> = {
        let s = get("scope");
        if s.trim().is_empty() {
            vec!["api".to_string()]
        } else {
            s.split_whitespace().map(str::to_string).collect()
        }
    };
    if scopes.iter().any(|s| !app.scopes.contains(s)) {
        return Err(fail(
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        ));
    }
    let challenge = p.get("code_challenge").filter(|c| !c.is_empty()).cloned();
    let method = challenge.as_ref().map(|_| {
        p.get("code_challenge_method")
            .cloned()
            .unwrap_or_else(|| "plain".into())
    });
    if method
        .as_deref()
        .is_some_and(|m| m != "S256" && m != "plain")
    {
        return Err(fail(
            "invalid_request",
            "The code_challenge_method must be one of plain, S256.",
        ));
    }
    Ok(AuthRequest {
        app,
        redirect_uri,
        state,
        scopes,
        challenge,
        method,
    })
}

fn session_user(kit: &Kit, headers: &HeaderMap) -> Option<u64> {
    let cookies = headers.get("cookie")?.to_str().ok()?;
    let id = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == "_gitlab_session")?
        .1;
    kit.sessions().get(id).copied()
}

fn issue_code(kit: &Kit, req: &AuthRequest, user_id: u64) -> Response {
    let code = random_hex(32);
    kit.change(|d| {
        d.grants.push(Grant {
            code: code.clone(),
            app_uid: req.app.uid.clone(),
            user_id,
            redirect_uri: req.redirect_uri.clone(),
            scopes: req.scopes.clone(),
            code_challenge: req.challenge.clone(),
            code_challenge_method: req.method.clone(),
            created_at: Utc::now(),
            used: false,
        })
    });
    found(&with_query(
        &req.redirect_uri,
        &[("code", &code), ("state", &req.state)],
    ))
    .into_response()
}

async fn authorize(
    State(kit): Kitted,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
) -> Response {
    let req = match validate(&kit, &p) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if kit.auto_approve {
        let user = kit.auto_approve_user();
        return issue_code(&kit, &req, user);
    }
    let Some(user) = session_user(&kit, &headers) else {
        let back = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        return found(&format!(
            "/users/sign_in?return_to={}",
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        ))
        .into_response();
    };
    let name = kit
        .data()
        .user(user)
        .map(|u| u.name.clone())
        .unwrap_or_default();
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "state",
        "response_type",
        "scope",
        "code_challenge",
        "code_challenge_method",
    ]
    .iter()
    .map(|k| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            escape(p.get(*k).map(String::as_str).unwrap_or_default())
        )
    })
    .collect();
    let scopes: String = req
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    Html(page(
        "Authorize application",
        &format!(
            "<h1>Authorize {app} to use your account?</h1>\
             <p>Signed in as {name}. An application called {app} is requesting access to your GitLab account.</p>\
             <ul id=\"scopes\">{scopes}</ul>\
             <form method=\"post\" action=\"/oauth/authorize\" id=\"approve\">{hidden}\
             <button type=\"submit\" name=\"commit\" value=\"Authorize\">Authorize {app}</button></form>\
             <form method=\"post\" action=\"/oauth/authorize\" id=\"deny\">{hidden}\
             <input type=\"hidden\" name=\"_method\" value=\"delete\">\
             <button type=\"submit\" name=\"commit\" value=\"Deny\">Deny</button></form>",
            app = escape(&req.app.name),
            name = escape(&name),
        ),
    ))
    .into_response()
}

async fn decide(State(kit): Kitted, headers: HeaderMap, body: Bytes) -> Response {
    let p: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let req = match validate(&kit, &p) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(user) = session_user(&kit, &headers) else {
        return html_error(
            StatusCode::UNAUTHORIZED,
            "Sign in",
            "You need to sign in before continuing.",
        );
    };
    if p.get("_method").map(String::as_str) == Some("delete") {
        return found(&with_query(
            &req.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", ACCESS_DENIED),
                ("state", &req.state),
            ],
        ))
        .into_response();
    }
    issue_code(&kit, &req, user)
}

async fn sign_in_page(Query(p): Query<HashMap<String, String>>) -> Response {
    sign_in_form(p.get("return_to").map(String::as_str).unwrap_or("/"), None)
}

fn sign_in_form(return_to: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    Html(page(
        "Sign in",
        &format!(
            "<h1>Sign in to GitLab</h1>{error}\
             <form method=\"post\" action=\"/users/sign_in\" id=\"new_user\">\
             <input type=\"hidden\" name=\"return_to\" value=\"{}\">\
             <label for=\"user_login\">Username or primary email</label>\
             <input type=\"text\" name=\"user[login]\" id=\"user_login\" autocomplete=\"username\">\
             <label for=\"user_password\">Password</label>\
             <input type=\"password\" name=\"user[password]\" id=\"user_password\" autocomplete=\"current-password\">\
             <button type=\"submit\" name=\"commit\" value=\"Sign in\">Sign in</button></form>",
            escape(return_to)
        ),
    ))
    .into_response()
}

async fn sign_in(State(kit): Kitted, body: Bytes) -> Response {
    let p: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let login = p.get("user[login]").cloned().unwrap_or_default();
    let password = p.get("user[password]").cloned().unwrap_or_default();
    let return_to = p
        .get("return_to")
        .filter(|r| r.starts_with('/') && !r.starts_with("//"))
        .cloned()
        .unwrap_or_else(|| "/".into());
    let user = kit
        .data()
        .users
        .iter()
        .find(|u| (u.username == login || u.email == login) && same_secret(&u.password, &password))
        .map(|u| u.id);
    let Some(user) = user else {
        let mut r = sign_in_form(&return_to, Some("Invalid login or password."));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    let session = random_hex(16);
    kit.sessions().insert(session.clone(), user);
    let mut r = found(&return_to).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "_gitlab_session={session}; path=/; HttpOnly; SameSite=Lax"
    )) {
        r.headers_mut().insert("set-cookie", v);
    }
    r
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        [
            ("content-type", "application/json; charset=utf-8"),
            ("cache-control", "no-store, no-cache"),
            ("pragma", "no-cache"),
        ],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "Bearer realm=\"Doorkeeper\", error=\"{error}\", error_description=\"{description}\""
    )) {
        r.headers_mut().insert("www-authenticate", v);
    }
    r
}

fn form_or_json(headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json {
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) {
            return m
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect();
        }
    }
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The client credentials: HTTP Basic, else `client_id`/`client_secret` params.
fn client_credentials(
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> (String, Option<String>) {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':').map(|(id, secret)| {
                let decode = |x: &str| {
                    url::form_urlencoded::parse(format!("x={x}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                (decode(id), Some(decode(secret)))
            })
        });
    basic.unwrap_or_else(|| {
        (
            p.get("client_id").cloned().unwrap_or_default(),
            p.get("client_secret").cloned().filter(|s| !s.is_empty()),
        )
    })
}

/// Finds the client and checks its secret when it is confidential.
fn authenticate_client(kit: &Kit, id: &str, secret: Option<&str>) -> Result<OAuthApp, Response> {
    let app = kit.data().apps.iter().find(|a| a.uid == id).cloned();
    match app {
        Some(app) => match (&app.secret, secret) {
            (None, _) => Ok(app),
            (Some(expected), Some(given)) if same_secret(expected, given) => Ok(app),
            _ => Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                INVALID_CLIENT,
            )),
        },
        None => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            INVALID_CLIENT,
        )),
    }
}

fn pkce_ok(grant: &Grant, verifier: &str) -> bool {
    match (
        grant.code_challenge.as_deref(),
        grant.code_challenge_method.as_deref(),
    ) {
        (None, _) => true,
        (Some(challenge), Some("S256")) => {
            let digest = Sha256::digest(verifier.as_bytes());
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
            same_secret(&computed, challenge)
        }
        (Some(challenge), _) => same_secret(verifier, challenge),
    }
}

fn token_response(t: &OAuthToken) -> Response {
    (
        StatusCode::OK,
        [
            ("content-type", "application/json; charset=utf-8"),
            ("cache-control", "no-store, no-cache"),
            ("pragma", "no-cache"),
        ],
        json!({
            "access_token": t.access_token,
            "token_type": "Bearer",
            "expires_in": t.expires_in,
            "refresh_token": t.refresh_token,
            "scope": t.scopes.join(" "),
            "created_at": t.created_at.timestamp(),
        })
        .to_string(),
    )
        .into_response()
}

fn invalid_grant() -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", INVALID_GRANT)
}

/// Issues a new access + refresh token pair and stores it.
fn issue_token(
    d: &mut crate::state::Data,
    kit: &Kit,
    app_uid: &str,
    user_id: u64,
    scopes: Vec<String>,
) -> OAuthToken {
    d.next_id += 1;
    let t = OAuthToken {
        id: d.next_id,
        app_uid: app_uid.to_string(),
        user_id,
        access_token: random_hex(32),
        refresh_token: random_hex(32),
        scopes,
        created_at: Utc::now(),
        expires_in: kit.token_lifetime,
        revoked: false,
    };
    d.oauth_tokens.push(t.clone());
    t
}

async fn token(State(kit): Kitted, headers: HeaderMap, body: Bytes) -> Response {
    let p = form_or_json(&headers, &body);
    let (client_id, secret) = client_credentials(&headers, &p);
    let app = match authenticate_client(&kit, &client_id, secret.as_deref()) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    match get("grant_type").as_str() {
        "authorization_code" => {
            let code = get("code");
            if code.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing required parameter: code.",
                );
            }
            let redirect_uri = get("redirect_uri");
            let verifier = get("code_verifier");
            let issued = kit.change(|d| {
                let Some(grant) = d.grants.iter_mut().find(|g| g.code == code) else {
                    return Err(invalid_grant());
                };
                let expired = Utc::now() - grant.created_at > Duration::minutes(10);
                if grant.used
                    || expired
                    || grant.app_uid != app.uid
                    || !redirect_matches(&grant.redirect_uri, &redirect_uri)
                {
                    return Err(invalid_grant());
                }
                if grant.code_challenge.is_some() && verifier.is_empty() {
                    return Err(oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "Missing required parameter: code_verifier.",
                    ));
                }
                if !pkce_ok(grant, &verifier) {
                    return Err(invalid_grant());
                }
                grant.used = true;
                let (user, scopes) = (grant.user_id, grant.scopes.clone());
                Ok(issue_token(d, &kit, &app.uid, user, scopes))
            });
            match issued {
                Ok(t) => token_response(&t),
                Err(r) => r,
            }
        }
        "refresh_token" => {
            let refresh = get("refresh_token");
            if refresh.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing required parameter: refresh_token.",
                );
            }
            let issued = kit.change(|d| {
                let Some(old) = d
                    .oauth_tokens
                    .iter_mut()
                    .find(|t| t.refresh_token == refresh)
                else {
                    return Err(invalid_grant());
                };
                if old.revoked || old.app_uid != app.uid {
                    return Err(invalid_grant());
                }
                // Rotation: the old access and refresh tokens stop working now.
                old.revoked = true;
                let (user, scopes) = (old.user_id, old.scopes.clone());
                Ok(issue_token(d, &kit, &app.uid, user, scopes))
            });
            match issued {
                Ok(t) => token_response(&t),
                Err(r) => r,
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        ),
    }
}

fn bearer(headers: &HeaderMap, p: &HashMap<String, String>) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| p.get("access_token").cloned())
}

fn live_token(kit: &Kit, access: &str) -> Option<OAuthToken> {
    kit.data()
        .oauth_tokens
        .iter()
        .find(|t| t.access_token == access && !t.revoked && t.remaining(Utc::now()) > 0)
        .cloned()
}

async fn token_info(
    State(kit): Kitted,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let Some(t) = bearer(&headers, &p).and_then(|a| live_token(&kit, &a)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.",
        );
    };
    let remaining = t.remaining(Utc::now());
    axum::Json(json!({
        "resource_owner_id": t.user_id,
        "scope": t.scopes,
        "expires_in": remaining,
        "application": {"uid": t.app_uid},
        "created_at": t.created_at.timestamp(),
        "scopes": t.scopes,
        "expires_in_seconds": remaining,
    }))
    .into_response()
}

async fn revoke(State(kit): Kitted, headers: HeaderMap, body: Bytes) -> Response {
    let p = form_or_json(&headers, &body);
    let (client_id, secret) = client_credentials(&headers, &p);
    let app = match authenticate_client(&kit, &client_id, secret.as_deref()) {
        Ok(a) => a,
        Err(_) => {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "unauthorized_client",
                "You are not authorized to revoke this token",
            )
        }
    };
    let token = p.get("token").cloned().unwrap_or_default();
    let outcome = kit.change(|d| {
        match d
            .oauth_tokens
            .iter_mut()
            .find(|t| t.access_token == token || t.refresh_token == token)
        {
            Some(t) if t.app_uid != app.uid => Err(()),
            Some(t) => {
                t.revoked = true;
                Ok(())
            }
            None => Ok(()),
        }
    });
    match outcome {
        Ok(()) => axum::Json(json!({})).into_response(),
        Err(()) => oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        ),
    }
}

async fn userinfo(
    State(kit): Kitted,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let unauthorized = || {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static(
                "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"The access token is invalid\"",
            ),
        );
        r
    };
    let Some(t) = bearer(&headers, &p).and_then(|a| live_token(&kit, &a)) else {
        return unauthorized();
    };
    if !t.scopes.iter().any(|s| s == "openid") {
        return StatusCode::FORBIDDEN.into_response();
    }
    let d = kit.data();
    let Some(u) = d.user(t.user_id) else {
        return unauthorized();
    };
    let groups: Vec<String> = d
        .namespaces
        .iter()
        .filter(|n| n.kind == "group" && n.members.contains_key(&u.id))
        .map(|n| n.path.clone())
        .collect();
    let mut claims = json!({
        "sub": u.id.to_string(),
        "sub_legacy": random_hex(32),
        "name": u.name,
        "nickname": u.username,
        "preferred_username": u.username,
        "profile": format!("{}/{}", kit.url, u.username),
        "picture": format!("{}/uploads/-/system/user/avatar/{}/avatar.png", kit.url, u.id),
        "groups": groups,
    });
    if t.scopes.iter().any(|s| s == "email") {
        claims["email"] = json!(u.email);
        claims["email_verified"] = json!(true);
    }
    axum::Json(claims).into_response()
}

async fn discovery(State(kit): Kitted) -> Response {
    let u = &kit.url;
    axum::Json(json!({
        "issuer": u,
        "authorization_endpoint": format!("{u}/oauth/authorize"),
        "token_endpoint": format!("{u}/oauth/token"),
        "revocation_endpoint": format!("{u}/oauth/revoke"),
        "introspection_endpoint": format!("{u}/oauth/introspect"),
        "userinfo_endpoint": format!("{u}/oauth/userinfo"),
        "jwks_uri": format!("{u}/oauth/discovery/keys"),
        "scopes_supported": ["api", "read_api", "read_user", "read_repository", "write_repository", "read_registry", "write_registry", "sudo", "admin_mode", "openid", "profile", "email"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials", "device_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claim_types_supported": ["normal"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "sub_legacy", "name", "nickname", "preferred_username", "email", "email_verified", "website", "profile", "picture", "groups", "groups_direct"],
        "code_challenge_methods_supported": ["plain", "S256"],
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_ignore_the_port_and_nothing_else() {
        let reg = "http://127.0.0.1/callback";
        assert!(redirect_matches(reg, "http://127.0.0.1:53682/callback"));
        assert!(!redirect_matches(reg, "http://127.0.0.1:53682/other"));
        assert!(
            !redirect_matches(reg, "http://localhost:53682/callback"),
            "localhost is not an IP literal"
        );
        assert!(!redirect_matches(reg, "http://evil.example/callback"));
        assert!(!redirect_matches(reg, "https://127.0.0.1/callback"));
        assert!(redirect_matches("http://[::1]/cb", "http://[::1]:9000/cb"));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
    }

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        let grant = Grant {
            code: String::new(),
            app_uid: String::new(),
            user_id: 1,
            redirect_uri: String::new(),
            scopes: vec![],
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            code_challenge_method: Some("S256".into()),
            created_at: Utc::now(),
            used: false,
        };
        assert!(pkce_ok(
            &grant,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!pkce_ok(
            &grant,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx"
        ));
    }
}
