//! The connection check (`ferry instance check`, the wizard's "Test
//! connection"): step by step, each with pass/fail, timing and, on failure,
//! a plain explanation and the fix — the way a firewall FAQ explains it.
//!
//! Steps: the address parses → the name resolves → a connection opens →
//! the TLS handshake (untrusted CA, expired, wrong name — said which) → it
//! is a GitLab → the sign-in works → the scopes suffice → the version → git
//! over HTTP answers for one project. After a failure the rest are skipped.
//!
//! # Limitations
//! Through a proxy (`HTTPS_PROXY`), name, connection and TLS are checked on
//! the way through the proxy by the HTTP steps, not separately.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::account::{expiry_warning, missing_scopes, OwnedCredential};
use super::address;
use super::client::{ca_certificates, tls_error, Server};
use super::Error;

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It worked.
    Pass,
    /// It worked, with something to know.
    Warn,
    /// It failed; see the explanation.
    Fail,
    /// Not run (an earlier step failed, or nothing to check).
    Skipped,
}

/// One step of the check.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Step {
    /// Stable id (`dns`, `tls`, ...).
    pub id: &'static str,
    /// What was checked, for people.
    pub title: &'static str,
    /// How it went.
    pub outcome: Outcome,
    /// Milliseconds it took.
    pub millis: u64,
    /// What was found, or what went wrong and what to do.
    pub detail: String,
}

/// The whole check.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Report {
    /// What was checked.
    pub address: String,
    /// The GitLab base URL, once found.
    pub base_url: Option<String>,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// True when no step failed.
    pub ok: bool,
}

impl Report {
    /// The first failure, if any.
    pub fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.outcome == Outcome::Fail)
    }
}

/// What to check with.
pub struct CheckInput<'a> {
    /// The address as typed (or an account's base URL).
    pub address: &'a str,
    /// A CA certificate file to trust.
    pub ca_file: Option<&'a Path>,
    /// The sign-in to test, if any.
    pub credential: Option<OwnedCredential>,
    /// The user name for git (personal tokens).
    pub username: Option<String>,
    /// A project to test git over HTTP with; else the first pushable one.
    pub project: Option<String>,
}

struct Steps {
    steps: Vec<Step>,
    failed: bool,
}

impl Steps {
    fn record(
        &mut self,
        id: &'static str,
        title: &'static str,
        started: Instant,
        result: Result<(Outcome, String), String>,
    ) {
        let millis = started.elapsed().as_millis() as u64;
        let (outcome, detail) = match result {
            Ok(ok) => ok,
            Err(why) => {
                self.failed = true;
                (Outcome::Fail, why)
            }
        };
        self.steps.push(Step {
            id,
            title,
            outcome,
            millis,
            detail,
        });
    }

    fn skip(&mut self, id: &'static str, title: &'static str, why: &str) {
        self.steps.push(Step {
            id,
            title,
            outcome: Outcome::Skipped,
            millis: 0,
            detail: why.to_string(),
        });
    }
}

const STEPS: &[(&str, &str)] = &[
    ("address", "The address"),
    ("dns", "The server's name resolves"),
    ("connect", "A connection opens"),
    ("tls", "The connection is secure"),
    ("gitlab", "It is a GitLab"),
    ("sign_in", "The sign-in works"),
    ("scopes", "The sign-in has the permissions Ferry needs"),
    ("version", "GitLab's version"),
    ("git", "Git over HTTPS answers"),
];

fn proxied(url: &url::Url) -> Option<String> {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
    };
    let proxy = if url.scheme() == "https" {
        var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
    } else {
        var(&["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
    }?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let excluded = var(&["NO_PROXY", "no_proxy"]).is_some_and(|list| {
        list.split(',').map(str::trim).any(|n| {
            let n = n.trim_start_matches('.').to_ascii_lowercase();
            n == "*" || host == n || host.ends_with(&format!(".{n}"))
        })
    });
    (!excluded).then_some(proxy)
}

/// Runs the check. Never fails: failures are steps.
pub async fn check(input: CheckInput<'_>) -> Report {
    let mut s = Steps {
        steps: Vec::new(),
        failed: false,
    };
    let mut base_url = None;

    // 1. The address.
    let t = Instant::now();
    let candidates = match address::candidates(input.address) {
        Ok(c) => {
            let shown = address::base_string(&c[0]);
            s.record(
                "address",
                STEPS[0].1,
                t,
                Ok((Outcome::Pass, format!("Checking {shown}"))),
            );
            c
        }
        Err(e) => {
            s.record("address", STEPS[0].1, t, Err(e.to_string()));
            vec![]
        }
    };
    let first = candidates.first().cloned();
    let host = first
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let port = first
        .as_ref()
        .and_then(|u| u.port_or_known_default())
        .unwrap_or(443);
    let is_https = first.as_ref().is_some_and(|u| u.scheme() == "https");
    let proxy = first.as_ref().and_then(proxied);
    let display_host = first
        .as_ref()
        .map(|u| address::host_of(u.as_str()))
        .unwrap_or_default();

    // 2–4: name, connection, TLS (unless a proxy carries the connection).
    let mut addrs: Vec<SocketAddr> = Vec::new();
    if s.failed {
        for (id, title) in &STEPS[1..4] {
            s.skip(id, title, "Skipped: an earlier step failed.");
        }
    } else if let Some(proxy) = &proxy {
        for (id, title) in &STEPS[1..4] {
            s.skip(
                id,
                title,
                &format!("Checked through the proxy {proxy} by the next steps."),
            );
        }
    } else {
        let t = Instant::now();
        match tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host((host.as_str(), port))).await {
            Ok(Ok(found)) => {
                addrs = found.collect();
                let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                s.record("dns", STEPS[1].1, t, Ok((Outcome::Pass, format!("{host} is {}", list.join(", ")))));
            }
            _ => s.record(
                "dns",
                STEPS[1].1,
                t,
                Err(Error::NameNotFound { host: host.clone() }.to_string()
                    + " Your computer must be able to look up this name: on a company network it may only be known inside the network or VPN."),
            ),
        }
        if s.failed {
            s.skip("connect", STEPS[2].1, "Skipped: an earlier step failed.");
        } else {
            let t = Instant::now();
            let mut connected = None;
            let mut last_error = String::new();
            for addr in &addrs {
                match tokio::time::timeout(
                    Duration::from_secs(10),
                    tokio::net::TcpStream::connect(addr),
                )
                .await
                {
                    Ok(Ok(stream)) => {
                        connected = Some(stream);
                        break;
                    }
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        last_error = "connection refused".into()
                    }
                    Ok(Err(e)) => last_error = e.to_string(),
                    Err(_) => last_error = "no answer within 10 seconds".into(),
                }
            }
            match connected {
                Some(stream) => {
                    s.record(
                        "connect",
                        STEPS[2].1,
                        t,
                        Ok((Outcome::Pass, format!("Connected to {display_host}"))),
                    );
                    // 4. TLS.
                    if is_https {
                        let t = Instant::now();
                        let result = tls_check(stream, &host, input.ca_file).await;
                        s.record("tls", STEPS[3].1, t, result);
                    } else {
                        s.record(
                            "tls",
                            STEPS[3].1,
                            Instant::now(),
                            Ok((Outcome::Warn, "This address uses http://, so the connection is not encrypted. Use https:// if your GitLab offers it.".into())),
                        );
                    }
                }
                None => {
                    s.record(
                        "connect",
                        STEPS[2].1,
                        t,
                        Err(format!(
                            "{} The server must be reachable from this computer on port {port}: check that you are on the right network or VPN, and that no firewall blocks it.",
                            Error::Unreachable { host: display_host.clone(), why: last_error }
                        )),
                    );
                }
            }
        }
        if s.steps.iter().all(|st| st.id != "tls") {
            s.skip("tls", STEPS[3].1, "Skipped: an earlier step failed.");
        }
    }

    // 5. It is a GitLab (and where its root is).
    let server = if s.failed {
        s.skip("gitlab", STEPS[4].1, "Skipped: an earlier step failed.");
        None
    } else {
        let t = Instant::now();
        match Server::find(input.address, input.ca_file).await {
            Ok(server) => {
                base_url = Some(server.base().to_string());
                s.record(
                    "gitlab",
                    STEPS[4].1,
                    t,
                    Ok((Outcome::Pass, format!("GitLab found at {}", server.base()))),
                );
                Some(server)
            }
            Err(e) => {
                s.record("gitlab", STEPS[4].1, t, Err(e.to_string()));
                None
            }
        }
    };

    // 6–9 need a sign-in.
    let cred = input.credential.clone();
    match (&server, &cred) {
        (Some(server), Some(cred)) if !s.failed => {
            let t = Instant::now();
            let user = match server.user(cred.as_credential()).await {
                Ok(u) => {
                    s.record(
                        "sign_in",
                        STEPS[5].1,
                        t,
                        Ok((
                            Outcome::Pass,
                            format!("Signed in as {} ({})", u.name, u.username),
                        )),
                    );
                    Some(u)
                }
                Err(e) => {
                    s.record("sign_in", STEPS[5].1, t, Err(e.to_string()));
                    None
                }
            };
            if user.is_some() {
                let t = Instant::now();
                let scopes = match cred {
                    OwnedCredential::Personal(token) => server
                        .token_self(token)
                        .await
                        .map(|i| (i.scopes, i.expires_at)),
                    OwnedCredential::OAuth(token) => server
                        .oauth_token_info(token)
                        .await
                        .map(|i| (i.scope, None)),
                };
                let result = match scopes {
                    Ok((scopes, expires_at)) => {
                        let missing = missing_scopes(&scopes);
                        let create_url = address::token_creation_url(server.base());
                        let soon = expiry_warning(
                            expires_at,
                            chrono::Utc::now().date_naive(),
                            &create_url,
                        );
                        let listed = format!("Scopes: {}", scopes.join(", "));
                        match (missing.is_empty(), soon) {
                            (true, Some(w)) => Ok((Outcome::Warn, format!("{listed}. {w}"))),
                            (true, None) => Ok((Outcome::Pass, listed)),
                            (false, _) => Err(Error::MissingScopes {
                                missing,
                                create_url,
                            }
                            .to_string()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                s.record("scopes", STEPS[6].1, t, result);
            } else {
                s.skip("scopes", STEPS[6].1, "Skipped: an earlier step failed.");
            }
            if !s.failed {
                let t = Instant::now();
                let result = match server.version(cred.as_credential()).await {
                    Ok(v) => Ok((Outcome::Pass, format!("GitLab {}", v.version))),
                    Err(e) => Err(e.to_string()),
                };
                s.record("version", STEPS[7].1, t, result);
            } else {
                s.skip("version", STEPS[7].1, "Skipped: an earlier step failed.");
            }
            if !s.failed {
                let t = Instant::now();
                let username = input
                    .username
                    .clone()
                    .or_else(|| user.map(|u| u.username))
                    .unwrap_or_default();
                let result = git_check(server, cred, &username, input.project.as_deref()).await;
                s.record("git", STEPS[8].1, t, result);
            } else {
                s.skip("git", STEPS[8].1, "Skipped: an earlier step failed.");
            }
        }
        _ => {
            let why = if s.failed {
                "Skipped: an earlier step failed."
            } else {
                "Skipped: no sign-in to check yet."
            };
            for (id, title) in &STEPS[5..] {
                s.skip(id, title, why);
            }
        }
    }

    Report {
        address: input.address.to_string(),
        base_url,
        ok: !s.failed,
        steps: s.steps,
    }
}

async fn tls_check(
    stream: tokio::net::TcpStream,
    host: &str,
    ca_file: Option<&Path>,
) -> Result<(Outcome, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        for cert in ca_certificates(path).map_err(|e| e.to_string())? {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name =
        rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(10), connector.connect(name, stream)).await {
        Ok(Ok(tls)) => {
            let (_, session) = tls.get_ref();
            let version = session
                .protocol_version()
                .map(|v| format!("{v:?}").replace('_', "."))
                .unwrap_or_default();
            Ok((
                Outcome::Pass,
                format!("The certificate is trusted ({version})"),
            ))
        }
        Ok(Err(e)) => {
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            Err(match inner {
                Some(tls) => tls_error(host, tls).to_string(),
                None => format!("The secure connection failed: {e}"),
            })
        }
        Err(_) => Err(format!(
            "{host} did not complete the secure connection within 10 seconds."
        )),
    }
}

async fn git_check(
    server: &Server,
    cred: &OwnedCredential,
    username: &str,
    project: Option<&str>,
) -> Result<(Outcome, String), String> {
    let project = match project {
        Some(p) => p.to_string(),
        None => match server
            .pushable_projects_page(cred.as_credential(), None, 1, 1)
            .await
        {
            Ok((list, _)) => match list.into_iter().next() {
                Some(p) => p.path_with_namespace,
                None => {
                    return Ok((
                        Outcome::Skipped,
                        "No project to test with yet: this account can't push to any project."
                            .into(),
                    ))
                }
            },
            Err(e) => return Err(e.to_string()),
        },
    };
    let (user, secret) = cred.git_basic(username);
    let url = format!(
        "{}/{project}.git/info/refs?service=git-upload-pack",
        server.base()
    );
    let response = server
        .http()
        .get(&url)
        .basic_auth(user, Some(secret.expose()))
        .header("Git-Protocol", "version=2")
        .send()
        .await
        .map_err(|e| server.network(e).to_string())?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if status.is_success() && content_type.contains("git-upload-pack-advertisement") {
        Ok((Outcome::Pass, format!("Git answers for {project}")))
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(format!(
            "Git over HTTPS did not answer as expected for {project} (HTTP {}{}). If your organisation only allows git over SSH, ask your administrator to enable HTTPS access.",
            status.as_u16(),
            body.lines().next().map(|l| format!(": {l}")).unwrap_or_default()
        ))
    }
}
