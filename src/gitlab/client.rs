//! The GitLab REST client: finds the server behind an address, calls the
//! endpoints Ferry uses, follows GitLab's pagination (`X-Next-Page`, never
//! `X-Total`), and turns every failure into a [`Error`] a person can act on.
//!
//! TLS: the system's trust store, plus a per-instance CA certificate file for
//! private CAs. Verification is never disabled. `HTTPS_PROXY`/`NO_PROXY` are
//! honoured.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::address::{self, base_string, host_of};
use super::{Error, SignInProblem, TlsProblem};
use crate::secrets::Sensitive;

/// How a request proves who it is.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// A personal access token (`PRIVATE-TOKEN`).
    Personal(&'a Sensitive<String>),
    /// An OAuth access token (`Authorization: Bearer`).
    OAuth(&'a Sensitive<String>),
}

/// A GitLab user, as `/api/v4/user` describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Numeric id.
    pub id: u64,
    /// Login name.
    pub username: String,
    /// Display name (used as the commit author name).
    pub name: String,
    /// Primary email (visible to the user themselves).
    #[serde(default)]
    pub email: Option<String>,
    /// The address GitLab uses for web commits (used as the commit author email).
    #[serde(default)]
    pub commit_email: Option<String>,
    /// Profile page.
    #[serde(default)]
    pub web_url: String,
}

/// A personal access token's own description (`/personal_access_tokens/self`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token's name.
    #[serde(default)]
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Last day it works (`None`: no expiry).
    #[serde(default)]
    pub expires_at: Option<NaiveDate>,
    /// Usable now.
    #[serde(default = "yes")]
    pub active: bool,
    /// Revoked by the user.
    #[serde(default)]
    pub revoked: bool,
}

fn yes() -> bool {
    true
}

/// An OAuth token's description (`/oauth/token/info`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthTokenInfo {
    /// Granted scopes.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Seconds left.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// The server's version (`/api/v4/version`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// e.g. `17.5.0-ee`.
    pub version: String,
    /// The git revision it was built from.
    #[serde(default)]
    pub revision: String,
}

/// The namespace a project lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Namespace {
    /// Numeric id (for creating projects in it).
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Path segment.
    pub path: String,
    /// `user` or `group`.
    pub kind: String,
    /// Full path (`group/subgroup`).
    pub full_path: String,
}

/// A project, as the repository list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Project {
    /// Numeric id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// `namespace/path`.
    pub path_with_namespace: String,
    /// `Namespace / Name`.
    #[serde(default)]
    pub name_with_namespace: String,
    /// `None` while the repository has no commits.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// The git URL (credentials never go in it).
    pub http_url_to_repo: String,
    /// The project's page.
    pub web_url: String,
    /// Last push or change.
    #[serde(default)]
    pub last_activity_at: Option<DateTime<Utc>>,
    /// `private`, `internal` or `public`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Where it lives.
    pub namespace: Namespace,
    /// No commits yet.
    #[serde(default)]
    pub empty_repo: Option<bool>,
    /// Read-only.
    #[serde(default)]
    pub archived: Option<bool>,
}

/// How long a request may take in all, by default.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A GitLab server's API, for one base URL.
#[derive(Clone)]
pub struct Server {
    base: String,
    host: String,
    http: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("base", &self.base).finish()
    }
}

/// Builds the HTTP client: system trust store plus `ca_file`, proxies from
/// the environment, sensible timeouts.
pub fn http_client(ca_file: Option<&Path>) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("Ferry/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(REQUEST_TIMEOUT)
        .use_rustls_tls()
        .https_only(false);
    if let Some(path) = ca_file {
        for cert in load_ca_file(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| Error::Unexpected {
        host: String::new(),
        detail: e.to_string(),
    })
}

/// The certificates in a PEM (or DER) CA file, each checked to parse as a
/// trust anchor.
pub fn ca_certificates(
    path: &Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bad = |why: String| Error::BadCaFile {
        path: path.display().to_string(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let ders: Vec<CertificateDer<'static>> = if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("{e:?}")))?
    } else {
        vec![CertificateDer::from(bytes)]
    };
    if ders.is_empty() {
        return Err(bad("it holds no certificate".into()));
    }
    let mut check = rustls::RootCertStore::empty();
    for der in &ders {
        check
            .add(der.clone())
            .map_err(|_| bad("it is not a PEM or DER certificate".into()))?;
    }
    Ok(ders)
}

/// [`ca_certificates`], ready for the HTTP client.
pub fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, Error> {
    ca_certificates(path)?
        .iter()
        .map(|der| {
            reqwest::Certificate::from_der(der).map_err(|e| Error::BadCaFile {
                path: path.display().to_string(),
                why: e.to_string(),
            })
        })
        .collect()
}

impl Server {
    /// The API of the GitLab at `base` (already located).
    pub fn new(base: &str, ca_file: Option<&Path>) -> Result<Server, Error> {
        Ok(Server {
            base: base.trim_end_matches('/').to_string(),
            host: host_of(base),
            http: http_client(ca_file)?,
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// The same server with another overall request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Finds the GitLab behind what the user typed: tries each possible base
    /// (shortest first) for GitLab's OpenID discovery document, which is
    /// public and names the server's real base URL.
    pub async fn find(input: &str, ca_file: Option<&Path>) -> Result<Server, Error> {
        Self::find_with_timeout(input, ca_file, REQUEST_TIMEOUT).await
    }

    /// [`Server::find`] with another request timeout.
    pub async fn find_with_timeout(
        input: &str,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Server, Error> {
        let candidates = address::candidates(input)?;
        let http = http_client(ca_file)?;
        let mut not_gitlab = None;
        for candidate in &candidates {
            let base = base_string(candidate);
            let server = Server {
                host: host_of(&base),
                base: base.clone(),
                http: http.clone(),
                timeout,
            };
            match server.discovery().await {
                Ok(issuer) => {
                    let issuer = issuer.trim_end_matches('/');
                    // Trust the issuer when it names the same server (it may differ in path).
                    let chosen = if host_of(issuer) == server.host && issuer.starts_with("http") {
                        issuer.to_string()
                    } else {
                        base
                    };
                    return Ok(Server {
                        host: host_of(&chosen),
                        base: chosen,
                        http,
                        timeout,
                    });
                }
                Err(e @ Error::NotGitLab { .. }) => {
                    not_gitlab.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(not_gitlab.unwrap_or_else(|| Error::NotGitLab {
            url: input.to_string(),
            what: "no GitLab found".into(),
        }))
    }

    /// The base URL, e.g. `https://git.example.org/gitlab`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Host (and port) for messages.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying HTTP client (same TLS settings), for OAuth and diagnostics.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// GitLab's public OpenID discovery document; returns its `issuer`.
    pub async fn discovery(&self) -> Result<String, Error> {
        let url = format!("{}/.well-known/openid-configuration", self.base);
        let response = self
            .http
            .get(&url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.network(e))?;
        let status = response.status();
        let is_json = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let body = response.text().await.map_err(|e| self.network(e))?;
        let what = if status.is_success() && is_json {
            match serde_json::from_str::<Value>(&body) {
                Ok(v) if v["issuer"].is_string() && v["authorization_endpoint"].is_string() => {
                    return Ok(v["issuer"].as_str().unwrap_or_default().to_string())
                }
                _ => "its answer has no GitLab sign-in settings".to_string(),
            }
        } else if status.is_success() {
            describe_page(&body)
        } else {
            format!("HTTP {} for GitLab's sign-in settings", status.as_u16())
        };
        Err(Error::NotGitLab {
            url: self.base.clone(),
            what,
        })
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        cred: Option<Credential<'_>>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(self.timeout);
        match cred {
            Some(Credential::Personal(t)) => {
                let mut v = HeaderValue::from_str(t.expose())
                    .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
                v.set_sensitive(true);
                req = req.header("PRIVATE-TOKEN", v);
            }
            Some(Credential::OAuth(t)) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose()))
                    .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
                v.set_sensitive(true);
                req = req.header(AUTHORIZATION, v);
            }
            None => {}
        }
        req
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(T, HeaderMap), Error> {
        let response = req.send().await.map_err(|e| self.network(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.network(e))?;
        if !status.is_success() {
            return Err(self.status_error(status, &headers, &body, what));
        }
        let value = serde_json::from_slice(&body).map_err(|e| {
            if body.trim_ascii_start().starts_with(b"<") {
                Error::NotGitLab {
                    url: self.base.clone(),
                    what: describe_page(&String::from_utf8_lossy(&body)),
                }
            } else {
                Error::Unexpected {
                    host: self.host.clone(),
                    detail: format!("{what}: {e}"),
                }
            }
        })?;
        Ok((value, headers))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        cred: Credential<'_>,
        what: &str,
    ) -> Result<T, Error> {
        Ok(self
            .send_json(self.request(reqwest::Method::GET, path, Some(cred)), what)
            .await?
            .0)
    }

    /// The signed-in user.
    pub async fn user(&self, cred: Credential<'_>) -> Result<User, Error> {
        self.get("/api/v4/user", cred, "user").await
    }

    /// A personal access token's scopes and expiry.
    pub async fn token_self(&self, token: &Sensitive<String>) -> Result<TokenInfo, Error> {
        self.get(
            "/api/v4/personal_access_tokens/self",
            Credential::Personal(token),
            "token",
        )
        .await
    }

    /// An OAuth token's scopes and remaining lifetime.
    pub async fn oauth_token_info(
        &self,
        token: &Sensitive<String>,
    ) -> Result<OAuthTokenInfo, Error> {
        self.get("/oauth/token/info", Credential::OAuth(token), "token")
            .await
    }

    /// The server's version.
    pub async fn version(&self, cred: Credential<'_>) -> Result<Version, Error> {
        self.get("/api/v4/version", cred, "version").await
    }

    /// One project by id or `namespace/path`.
    pub async fn project(&self, cred: Credential<'_>, id_or_path: &str) -> Result<Project, Error> {
        let encoded: String = url::form_urlencoded::byte_serialize(id_or_path.as_bytes()).collect();
        self.get(&format!("/api/v4/projects/{encoded}"), cred, "project")
            .await
            .map_err(|e| match e {
                Error::NotFound { host, .. } => Error::NotFound {
                    host,
                    what: format!("project {id_or_path}"),
                },
                other => other,
            })
    }

    /// Every page of a list, following `X-Next-Page` (never `X-Total`, which
    /// GitLab drops past 10,000 results). `on_page` sees each page's size.
    async fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        cred: Credential<'_>,
        what: &str,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut page = "1".to_string();
        loop {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("per_page", "100".into()));
            q.push(("page", page.clone()));
            let req = self
                .request(reqwest::Method::GET, path, Some(cred))
                .query(&q);
            let (items, headers): (Vec<T>, HeaderMap) = self.send_json(req, what).await?;
            let got = items.len();
            out.extend(items);
            let next = headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .unwrap_or_default()
                .to_string();
            if next.is_empty() || got == 0 || next == page {
                return Ok(out);
            }
            page = next;
        }
    }

    /// Projects this account can push to (Developer and up), most recently
    /// active first, optionally matching `search` (server-side).
    pub async fn pushable_projects(
        &self,
        cred: Credential<'_>,
        search: Option<&str>,
    ) -> Result<Vec<Project>, Error> {
        let mut q = vec![
            ("membership", "true".to_string()),
            ("min_access_level", "30".to_string()),
            ("archived", "false".to_string()),
            ("order_by", "last_activity_at".to_string()),
            ("sort", "desc".to_string()),
        ];
        if let Some(s) = search.filter(|s| !s.trim().is_empty()) {
            q.push(("search", s.trim().to_string()));
        }
        self.all_pages("/api/v4/projects", &q, cred, "projects")
            .await
    }

    /// One page of [`Server::pushable_projects`], for a list that loads as
    /// the user scrolls. Returns the projects and the next page, if any.
    pub async fn pushable_projects_page(
        &self,
        cred: Credential<'_>,
        search: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<Project>, Option<u32>), Error> {
        let mut q = vec![
            ("membership", "true".to_string()),
            ("min_access_level", "30".to_string()),
            ("archived", "false".to_string()),
            ("order_by", "last_activity_at".to_string()),
            ("sort", "desc".to_string()),
            ("per_page", per_page.clamp(1, 100).to_string()),
            ("page", page.max(1).to_string()),
        ];
        if let Some(s) = search.filter(|s| !s.trim().is_empty()) {
            q.push(("search", s.trim().to_string()));
        }
        let req = self
            .request(reqwest::Method::GET, "/api/v4/projects", Some(cred))
            .query(&q);
        let (items, headers): (Vec<Project>, HeaderMap) = self.send_json(req, "projects").await?;
        let next = headers
            .get("x-next-page")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        Ok((items, next))
    }

    /// Namespaces this account can create projects in: its own, and groups
    /// where it is at least a Developer.
    pub async fn project_namespaces(&self, cred: Credential<'_>) -> Result<Vec<Namespace>, Error> {
        self.all_pages(
            "/api/v4/namespaces",
            &[("min_access_level", "30".into())],
            cred,
            "namespaces",
        )
        .await
    }

    /// Creates a private project (in `namespace_id`, or the user's own namespace).
    pub async fn create_project(
        &self,
        cred: Credential<'_>,
        name: &str,
        namespace_id: Option<u64>,
    ) -> Result<Project, Error> {
        let mut body = serde_json::json!({"name": name, "visibility": "private"});
        if let Some(ns) = namespace_id {
            body["namespace_id"] = ns.into();
        }
        let req = self
            .request(reqwest::Method::POST, "/api/v4/projects", Some(cred))
            .json(&body);
        Ok(self.send_json(req, "new project").await?.0)
    }

    /// Turns an HTTP failure into a typed error, reading GitLab's error body.
    fn status_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        what: &str,
    ) -> Error {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |v: &Value| -> String {
            match v {
                Value::String(s) => s.clone(),
                Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| format!("{k} {}", text_of(v)))
                    .collect::<Vec<_>>()
                    .join("; "),
                Value::Null => String::new(),
                other => other.to_string(),
            }
        };
        let message = text(&json["message"]);
        let error = json["error"].as_str().unwrap_or_default().to_string();
        let host = self.host.clone();
        match status.as_u16() {
            401 => {
                let description = json["error_description"].as_str().unwrap_or_default();
                let problem = if description.contains("expired") {
                    SignInProblem::Expired
                } else if description.contains("revoked") {
                    SignInProblem::Revoked
                } else {
                    SignInProblem::Invalid
                };
                Error::SignIn { host, problem }
            }
            403 if error == "insufficient_scope" => Error::MissingScopes {
                missing: json["scope"]
                    .as_str()
                    .unwrap_or("api")
                    .split_whitespace()
                    .take(1)
                    .map(str::to_string)
                    .collect(),
                create_url: address::token_creation_url(&self.base),
            },
            403 => Error::Forbidden {
                host,
                message: if message.is_empty() {
                    "403 Forbidden".into()
                } else {
                    message
                },
            },
            404 => {
                if json.is_null() && !body.is_empty() {
                    Error::NotGitLab {
                        url: self.base.clone(),
                        what: describe_page(&String::from_utf8_lossy(body)),
                    }
                } else {
                    Error::NotFound {
                        host,
                        what: what.to_string(),
                    }
                }
            }
            400 | 409 | 422 => Error::Rejected {
                host,
                message: if !message.is_empty() { message } else { error },
            },
            429 => Error::RateLimited {
                host,
                retry_after: headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            },
            s if s >= 500 => Error::Server { host, status: s },
            s => Error::Unexpected {
                host,
                detail: format!("HTTP {s} for {what}"),
            },
        }
    }

    /// Turns a transport failure into a typed error.
    pub fn network(&self, e: reqwest::Error) -> Error {
        classify_transport(&self.host, &e)
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Array(a) => a.iter().map(text_of).collect::<Vec<_>>().join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// "an HTML page titled “Welcome to nginx!”" and the like.
fn describe_page(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let title = lower
        .find("<title>")
        .and_then(|start| {
            let rest = &body[start + 7..];
            rest.find("</title>")
                .map(|end| rest[..end].trim().to_string())
        })
        .filter(|t| !t.is_empty());
    match title {
        Some(t) => format!("an HTML page titled “{t}”"),
        None if lower.contains("<html") => "an HTML page".into(),
        None if body.trim().is_empty() => "an empty answer".into(),
        None => "an answer that is not GitLab's".into(),
    }
}

/// Finds what went wrong below an HTTP request: TLS, DNS, refused, timeout.
pub fn classify_transport(host: &str, e: &(dyn std::error::Error + 'static)) -> Error {
    let mut chain_text = String::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut refused = false;
    let mut timed_out = false;
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return tls_error(host, tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return tls_error(host, tls);
                }
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => refused = true,
                std::io::ErrorKind::TimedOut => timed_out = true,
                _ => {}
            }
        }
        if let Some(r) = err.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                timed_out = true;
            }
        }
        chain_text.push_str(&err.to_string().to_ascii_lowercase());
        chain_text.push(' ');
        current = err.source();
    }
    // Some layers keep only the TLS error's text: read it.
    if let Some(pos) = chain_text.find("invalid peer certificate") {
        let rest = &chain_text[pos..];
        let problem = if rest.contains("unknownissuer")
            || rest.contains("unknown issuer")
            || rest.contains("badsignature")
        {
            TlsProblem::UntrustedIssuer
        } else if rest.contains("expired")
            || rest.contains("notvalidyet")
            || rest.contains("not valid yet")
        {
            TlsProblem::Expired
        } else if rest.contains("notvalidforname") || rest.contains("not valid for name") {
            TlsProblem::WrongHost
        } else {
            TlsProblem::Other(rest.split(')').next().unwrap_or(rest).to_string())
        };
        return Error::Tls {
            host: host.to_string(),
            problem,
        };
    }
    if chain_text.contains("dns error")
        || chain_text.contains("failed to lookup address")
        || chain_text.contains("name or service not known")
        || chain_text.contains("no address associated")
    {
        return Error::NameNotFound {
            host: host.to_string(),
        };
    }
    if timed_out || chain_text.contains("timed out") {
        return Error::Timeout {
            host: host.to_string(),
        };
    }
    if refused || chain_text.contains("connection refused") {
        return Error::Unreachable {
            host: host.to_string(),
            why: "connection refused".into(),
        };
    }
    for (needle, why) in [
        ("network is unreachable", "network unreachable"),
        ("no route to host", "no route to the server"),
        ("connection reset", "the connection was reset"),
        ("broken pipe", "the connection broke"),
        ("connection closed", "the connection closed early"),
        ("incomplete message", "the connection closed early"),
    ] {
        if chain_text.contains(needle) {
            return Error::Unreachable {
                host: host.to_string(),
                why: why.into(),
            };
        }
    }
    Error::Unreachable {
        host: host.to_string(),
        why: chain_text.trim().to_string(),
    }
}

/// Names a certificate problem.
pub fn tls_error(host: &str, e: &rustls::Error) -> Error {
    use rustls::CertificateError as C;
    let problem = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => TlsProblem::UntrustedIssuer,
            C::Expired
            | C::NotValidYet
            | C::ExpiredContext { .. }
            | C::NotValidYetContext { .. } => TlsProblem::Expired,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongHost,
            other => TlsProblem::Other(format!("{other:?}")),
        },
        other => TlsProblem::Other(other.to_string()),
    };
    Error::Tls {
        host: host.to_string(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_are_described_by_title() {
        assert_eq!(
            describe_page(
                "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head></html>"
            ),
            "an HTML page titled “Welcome to nginx!”"
        );
        assert_eq!(describe_page(""), "an empty answer");
    }

    #[test]
    fn certificate_problems_are_named() {
        let e = tls_error(
            "g",
            &rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(e.code(), "tls_untrusted");
        let e = tls_error(
            "g",
            &rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
        );
        assert_eq!(e.code(), "tls_expired");
        let e = tls_error(
            "g",
            &rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName),
        );
        assert_eq!(e.code(), "tls_wrong_host");
    }

    #[test]
    fn a_bad_ca_file_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "not a certificate").unwrap();
        let e = load_ca_file(&f).unwrap_err();
        assert_eq!(e.code(), "bad_ca_file");
        assert!(
            e.to_string().contains("Ask your GitLab administrator"),
            "{e}"
        );
        assert_eq!(
            load_ca_file(&dir.path().join("missing.pem"))
                .unwrap_err()
                .code(),
            "bad_ca_file"
        );
    }
}
