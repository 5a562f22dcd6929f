//! Signing in with an OAuth application the user registered on their
//! GitLab: authorization code + PKCE (S256) + `state`, in the system browser,
//! redirected to a one-shot listener on 127.0.0.1.
//!
//! Promises (DESIGN.md rule 6): the listener binds 127.0.0.1 only, on a port
//! the OS picks unless one is asked for (GitLab ignores the port of a
//! loopback redirect URI registered as `http://127.0.0.1/callback`); it
//! accepts one callback, checks `state`, answers with a page that says the
//! tab can be closed, and gives up after a timeout. The verifier, code and
//! tokens never appear in logs or errors.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::address::{self, OAUTH_SCOPES};
use super::client::Server;
use super::Error;
use crate::secrets::Sensitive;

/// Why the browser sign-in did not complete.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FlowError {
    /// The user pressed Deny on GitLab's page.
    #[error("You declined to let Ferry use your GitLab account. To connect, start again and choose Authorize.")]
    Denied,
    /// GitLab sent the user back with an error.
    #[error("GitLab could not complete the sign-in: {0}. Check the Application ID and that the application's redirect URI is http://127.0.0.1/callback with the scopes api, read_user, read_repository, write_repository and openid.")]
    Refused(String),
    /// The callback carried another `state` (not from this sign-in).
    #[error("The sign-in answer did not match the sign-in Ferry started, so Ferry ignored it. Start the sign-in again.")]
    StateMismatch,
    /// No callback before the timeout.
    #[error("The sign-in was not completed within {} minutes. Start it again and finish it in the browser window that opens.", .0.as_secs().div_ceil(60))]
    TimedOut(Duration),
    /// The listener could not start.
    #[error("Ferry couldn't wait for the sign-in on this computer ({0}).")]
    Listener(String),
    /// The code could not be exchanged for tokens.
    #[error("GitLab refused to finish the sign-in ({0}). Check the Application ID and Secret, then start again.")]
    Exchange(String),
    /// The refresh token no longer works.
    #[error("GitLab no longer accepts Ferry's sign-in for this account (it was revoked or expired). Sign in again from Settings → Accounts.")]
    RefreshRefused,
}

impl FlowError {
    /// A stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Denied => "oauth_denied",
            Self::Refused(_) => "oauth_refused",
            Self::StateMismatch => "oauth_state_mismatch",
            Self::TimedOut(_) => "oauth_timeout",
            Self::Listener(_) => "oauth_listener",
            Self::Exchange(_) => "oauth_exchange",
            Self::RefreshRefused => "oauth_refresh_refused",
        }
    }
}

/// The registered application Ferry signs in through.
#[derive(Debug, Clone)]
pub struct App {
    /// The Application ID.
    pub client_id: String,
    /// The Secret, for a confidential application.
    pub client_secret: Option<Sensitive<String>>,
}

/// Fresh tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Access token.
    pub access_token: Sensitive<String>,
    /// Refresh token.
    pub refresh_token: Sensitive<String>,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    /// The verifier (secret until the exchange).
    pub verifier: Sensitive<String>,
    /// BASE64URL(SHA256(verifier)).
    pub challenge: String,
}

fn random_urlsafe(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A new PKCE pair (RFC 7636, 64 random bytes → 86 characters).
pub fn pkce() -> Pkce {
    let verifier = random_urlsafe(64);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier: Sensitive::new(verifier),
        challenge,
    }
}

/// Options for [`sign_in`].
#[derive(Debug, Clone)]
pub struct SignInOptions {
    /// Listen on this port instead of one the OS picks (for servers that
    /// don't ignore the port of loopback redirect URIs).
    pub port: Option<u16>,
    /// Give up after this long.
    pub timeout: Duration,
    /// Open the system browser (honouring `$BROWSER`).
    pub open_browser: bool,
}

impl Default for SignInOptions {
    fn default() -> Self {
        Self {
            port: None,
            timeout: Duration::from_secs(300),
            open_browser: true,
        }
    }
}

/// The authorization URL for `redirect_uri`.
pub fn authorize_url(
    server: &Server,
    app: &App,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> String {
    let mut url = url::Url::parse(&address::join(server.base(), "/oauth/authorize"))
        .expect("a base URL plus a path parses");
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("state", state)
        .append_pair("scope", &OAUTH_SCOPES.join(" "))
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

/// Runs the whole browser sign-in: listener, browser, callback, exchange.
/// `show_url` gets the address to open (for "open it yourself" fallbacks).
pub async fn sign_in(
    server: &Server,
    app: &App,
    options: &SignInOptions,
    show_url: impl FnOnce(&str),
) -> Result<Tokens, Error> {
    let listener = TcpListener::bind(("127.0.0.1", options.port.unwrap_or(0)))
        .await
        .map_err(|e| FlowError::Listener(e.to_string()))?;
    let port = listener
        .local_addr()
        .map_err(|e| FlowError::Listener(e.to_string()))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let pkce = pkce();
    let state = random_urlsafe(24);
    let url = authorize_url(server, app, &redirect_uri, &state, &pkce.challenge);
    tracing::info!(port, "waiting for the OAuth callback on 127.0.0.1");
    show_url(&url);
    if options.open_browser {
        // The address is shown too: a missing browser isn't a failure.
        let _ = crate::open::web_page(&url);
    }
    let code = tokio::time::timeout(options.timeout, wait_for_callback(&listener, &state))
        .await
        .map_err(|_| FlowError::TimedOut(options.timeout))??;
    drop(listener);
    exchange(
        server,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", pkce.verifier.expose()),
        ],
    )
    .await
}

/// Uses a refresh token; the answer carries a new pair (the old one stops working).
pub async fn refresh(
    server: &Server,
    app: &App,
    refresh_token: &Sensitive<String>,
) -> Result<Tokens, Error> {
    exchange(
        server,
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ],
    )
    .await
    .map_err(|e| match e {
        Error::OAuth(FlowError::Exchange(_)) => Error::OAuth(FlowError::RefreshRefused),
        other => other,
    })
}

async fn exchange(server: &Server, app: &App, params: &[(&str, &str)]) -> Result<Tokens, Error> {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("client_id", &app.client_id));
    if let Some(secret) = &app.client_secret {
        form.push(("client_secret", secret.expose()));
    }
    let response = server
        .http()
        .post(address::join(server.base(), "/oauth/token"))
        .form(&form)
        .send()
        .await
        .map_err(|e| server.network(e))?;
    let status = response.status();
    // A busy or failing server (its answer may be any page): try again later.
    if status.as_u16() == 429 {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Err(Error::RateLimited {
            host: server.host().to_string(),
            retry_after,
        });
    }
    if status.is_server_error() {
        return Err(Error::Server {
            host: server.host().to_string(),
            status: status.as_u16(),
        });
    }
    let body: serde_json::Value = response.json().await.map_err(|e| server.network(e))?;
    if !status.is_success() {
        let error = body["error"].as_str().unwrap_or("unknown error");
        let text = match error {
            "invalid_client" => "the Application ID or Secret is not right".to_string(),
            "invalid_grant" => "the sign-in code or refresh token is no longer valid".to_string(),
            other => other.to_string(),
        };
        if status.is_server_error() {
            return Err(Error::Server {
                host: server.host().to_string(),
                status: status.as_u16(),
            });
        }
        return Err(FlowError::Exchange(text).into());
    }
    let token = |k: &str| {
        body[k]
            .as_str()
            .map(|s| Sensitive::new(s.to_string()))
            .ok_or_else(|| Error::Unexpected {
                host: server.host().to_string(),
                detail: format!("the token answer has no {k}"),
            })
    };
    let expires_in = body["expires_in"].as_i64().unwrap_or(7200);
    Ok(Tokens {
        access_token: token("access_token")?,
        refresh_token: token("refresh_token")?,
        expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
        scopes: body["scope"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    })
}

const DONE_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ferry is connected</title></head><body style=\"font-family:sans-serif;max-width:30rem;margin:4rem auto\"><h1>You're signed in</h1><p>Ferry is now connected to your GitLab account. You can close this tab and go back to Ferry.</p></body></html>";
const FAILED_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ferry: sign-in not completed</title></head><body style=\"font-family:sans-serif;max-width:30rem;margin:4rem auto\"><h1>Sign-in not completed</h1><p>Ferry did not get access to your GitLab account. You can close this tab; Ferry explains what to do next.</p></body></html>";

/// Accepts connections until the one callback arrives; returns its code.
async fn wait_for_callback(
    listener: &TcpListener,
    state: &str,
) -> Result<Sensitive<String>, Error> {
    loop {
        let (mut stream, peer) = listener
            .accept()
            .await
            .map_err(|e| FlowError::Listener(e.to_string()))?;
        if !peer.ip().is_loopback() {
            continue;
        }
        let mut buf = vec![0u8; 8192];
        let n = match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => continue,
        };
        let request = String::from_utf8_lossy(&buf[..n]);
        let target = request
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        let Some(query) = target
            .strip_prefix("/callback?")
            .or_else(|| target.strip_prefix("/callback/?"))
        else {
            // A favicon or a stray request: not the callback.
            respond(&mut stream, "404 Not Found", "Not found").await;
            continue;
        };
        let params: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        let state_ok = params.get("state").is_some_and(|s| same(s, state));
        let outcome = if !state_ok {
            Err(FlowError::StateMismatch)
        } else if let Some(error) = params.get("error") {
            if error == "access_denied" {
                Err(FlowError::Denied)
            } else {
                Err(FlowError::Refused(
                    params
                        .get("error_description")
                        .cloned()
                        .unwrap_or_else(|| error.clone()),
                ))
            }
        } else if let Some(code) = params.get("code") {
            Ok(Sensitive::new(code.clone()))
        } else {
            Err(FlowError::Refused("no code in the answer".into()))
        };
        let page = if outcome.is_ok() {
            DONE_PAGE
        } else {
            FAILED_PAGE
        };
        respond(&mut stream, "200 OK", page).await;
        return outcome.map_err(Error::from);
    }
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn respond(stream: &mut tokio::net::TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_pairs_are_long_random_and_s256() {
        let a = pkce();
        let b = pkce();
        assert_eq!(a.verifier.expose().len(), 86, "within RFC 7636's 43..128");
        assert_ne!(a.verifier.expose(), b.verifier.expose());
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(a.verifier.expose().as_bytes()));
        assert_eq!(a.challenge, expected);
    }
}
