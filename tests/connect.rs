//! Connecting to GitLab, against ferry-testkit over real HTTP: adding
//! accounts with a token or OAuth, every kind of bad input (each with a
//! clear message and nothing saved), TLS with a private CA, token refresh.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferry::config::{AuthKind, ConfigStore};
use ferry::gitlab::account::{AccountError, Accounts, OwnedCredential};
use ferry::gitlab::client::Server;
use ferry::gitlab::oauth::{App, SignInOptions};
use ferry::gitlab::Error;
use ferry::secrets::{Credentials, MemoryStore, SecretStore, Sensitive};
use ferry_testkit::{tls::CertKind, Options, Testkit};
use serde_json::json;

fn kit() -> Testkit {
    Testkit::start(Options {
        auto_approve: true,
        ..Options::default()
    })
    .unwrap()
}

struct Env {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    secrets: Arc<MemoryStore>,
    accounts: Accounts,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let secrets = Arc::new(MemoryStore::default());
    let accounts = Accounts::new(&config, secrets.clone());
    Env {
        _dir: dir,
        config,
        secrets,
        accounts,
    }
}

/// Calls an admin endpoint (on a plain thread: blocking HTTP can't run on the test's runtime).
fn admin(kit: &Testkit, path: &str, body: serde_json::Value) -> serde_json::Value {
    let url = format!("{}/-/testkit{path}", kit.url());
    std::thread::spawn(move || {
        reqwest::blocking::Client::new()
            .post(url)
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap()
    })
    .join()
    .unwrap()
}

fn token(kit: &Testkit, scopes: &[&str], expires_at: Option<&str>) -> Sensitive<String> {
    let v = admin(
        kit,
        "/tokens",
        json!({"username": "editor", "scopes": scopes, "expires_at": expires_at}),
    );
    Sensitive::new(v["token"].as_str().unwrap().to_string())
}

fn nothing_saved(e: &Env) {
    assert!(
        ConfigStore::new(&e.config)
            .load()
            .unwrap()
            .instances
            .is_empty(),
        "a failed add saves no account"
    );
}

fn assert_no_token_in(dir: &Path, token: &str) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            assert_no_token_in(&path, token);
        } else if let Ok(text) = std::fs::read(&path) {
            assert!(
                !String::from_utf8_lossy(&text).contains(token),
                "the token leaked into {}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn a_personal_token_connects_from_a_pasted_sign_in_page_address() {
    let kit = kit();
    let e = env();
    // As copied from the address bar, with stray spaces and no scheme.
    let pasted = format!(
        "  {}/users/sign_in  ",
        kit.url().trim_start_matches("http://")
    );
    let t = Sensitive::new(kit.info().token.clone());
    let added = e
        .accounts
        .add_with_token(&pasted, t, None, None)
        .await
        .unwrap();
    assert_eq!(
        added.instance.url,
        kit.url(),
        "the sign-in page led to the root"
    );
    assert_eq!(added.instance.auth, AuthKind::Token);
    assert_eq!(added.user.username, "editor");
    assert!(added.warnings.is_empty());
    let port = kit.url().rsplit(':').next().unwrap();
    assert_eq!(added.instance.name, format!("editor@127.0.0.1:{port}"));
    assert_eq!(
        e.secrets.load(&added.instance.id).unwrap(),
        Some(Credentials::Personal {
            token: Sensitive::new(kit.info().token.clone())
        }),
        "the token went to the secret store"
    );
    assert_no_token_in(&e.config, &kit.info().token);

    let again = e
        .accounts
        .add_with_token(
            kit.url(),
            Sensitive::new(kit.info().token.clone()),
            None,
            Some("Work".into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(again, AccountError::AlreadyConnected { .. }),
        "{again}"
    );

    // A second account on the same server coexists.
    let other = e
        .accounts
        .add_with_token(
            kit.url(),
            Sensitive::new(kit.info().second_token.clone()),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(other.user.username, "reviewer");
    assert_eq!(e.accounts.list().unwrap().len(), 2);
    assert_eq!(
        e.accounts.find(&other.instance.name).unwrap().id,
        other.instance.id
    );
}

#[tokio::test]
async fn bad_tokens_are_explained_and_nothing_is_saved() {
    let kit = kit();
    let e = env();
    let wrong = e
        .accounts
        .add_with_token(
            kit.url(),
            Sensitive::new("glpat-not-a-real-token-x".into()),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "token_invalid");
    assert!(
        wrong.to_string().contains("the token is not valid"),
        "{wrong}"
    );

    let expired = token(&kit, &["api"], Some("2020-01-01"));
    let err = e
        .accounts
        .add_with_token(kit.url(), expired, None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "token_expired");
    assert!(err.to_string().contains("has expired"), "{err}");

    let revoked = token(&kit, &["api"], None);
    admin(&kit, "/tokens/revoke", json!({"token": revoked.expose()}));
    let err = e
        .accounts
        .add_with_token(kit.url(), revoked, None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "token_revoked");

    let narrow = token(&kit, &["read_user", "read_repository"], None);
    let err = e
        .accounts
        .add_with_token(kit.url(), narrow, None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "missing_scopes");
    let text = err.to_string();
    assert!(
        text.contains("missing the scopes api, write_repository"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}/-/user_settings/personal_access_tokens?name=Ferry&scopes=api,read_user,read_repository,write_repository", kit.url())),
        "says how to fix it: {text}"
    );
    nothing_saved(&e);
}

#[tokio::test]
async fn a_token_expiring_soon_is_accepted_with_a_warning() {
    let kit = kit();
    let e = env();
    let soon = (chrono::Utc::now() + chrono::Duration::days(5))
        .date_naive()
        .to_string();
    let t = token(&kit, &["api"], Some(&soon));
    let added = e
        .accounts
        .add_with_token(kit.url(), t, None, None)
        .await
        .unwrap();
    assert_eq!(added.warnings.len(), 1);
    assert!(
        added.warnings[0].contains("expires in 5 days"),
        "{:?}",
        added.warnings
    );
}

#[tokio::test]
async fn a_taken_name_is_refused() {
    let kit = kit();
    let e = env();
    e.accounts
        .add_with_token(
            kit.url(),
            Sensitive::new(kit.info().token.clone()),
            None,
            Some("Work".into()),
        )
        .await
        .unwrap();
    let err = e
        .accounts
        .add_with_token(
            kit.url(),
            Sensitive::new(kit.info().second_token.clone()),
            None,
            Some("Work".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "name_taken");
    assert!(err
        .to_string()
        .contains("An account named “Work” already exists"));
}

/// Serves the same answer to every request: an nginx welcome page, a sign-in page...
async fn fake_server(
    status: &'static str,
    content_type: &'static str,
    body: &'static str,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_server_that_is_not_gitlab_is_named() {
    let e = env();
    let nginx = fake_server(
        "200 OK",
        "text/html",
        "<html><head><title>Welcome to nginx!</title></head><body>nginx</body></html>",
    )
    .await;
    let err = e
        .accounts
        .add_with_token(&nginx, Sensitive::new("glpat-x".into()), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_gitlab");
    assert!(
        err.to_string()
            .contains("isn't GitLab (an HTML page titled “Welcome to nginx!”)"),
        "{err}"
    );

    let sso = fake_server(
        "200 OK",
        "text/html",
        "<html><head><title>Sign in · Company SSO</title></head></html>",
    )
    .await;
    let err = Server::find(&sso, None).await.unwrap_err();
    assert!(err.to_string().contains("Company SSO"), "{err}");

    let missing = fake_server("404 Not Found", "text/plain", "not here").await;
    assert_eq!(
        Server::find(&missing, None).await.unwrap_err().code(),
        "not_gitlab"
    );
    nothing_saved(&e);
}

#[tokio::test]
async fn gitlab_under_a_relative_root_is_found_from_a_project_address() {
    // The testkit serves at the root; a project page address must lead there.
    let kit = kit();
    let server = Server::find(
        &format!("{}/editor/website/-/blob/main/index.md", kit.url()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(server.base(), kit.url());
}

#[tokio::test]
async fn unreachable_servers_are_explained() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let err = Server::find(&format!("http://127.0.0.1:{port}"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unreachable");
    assert!(
        err.to_string().contains("connection refused") && err.to_string().contains("VPN"),
        "{err}"
    );

    let err = Server::find("https://no-such-host.invalid", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "name_not_found", "{err}");
    assert!(err
        .to_string()
        .contains("can't find a server called no-such-host.invalid"));

    let err = Server::find("ftp://example.org", None).await.unwrap_err();
    assert_eq!(err.code(), "bad_address");

    // Accepts the connection, never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let err =
        Server::find_with_timeout(&format!("http://{addr}"), None, Duration::from_millis(800))
            .await
            .unwrap_err();
    assert_eq!(err.code(), "timeout", "{err}");
}

#[tokio::test]
async fn tls_with_a_private_ca_is_refused_without_it_and_works_with_it() {
    let kit = Testkit::start(Options {
        tls: true,
        ..Options::default()
    })
    .unwrap();
    let e = env();
    let t = || Sensitive::new(kit.info().token.clone());
    let err = e
        .accounts
        .add_with_token(kit.url(), t(), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "tls_untrusted", "{err}");
    assert!(err
        .to_string()
        .contains("Ask your GitLab administrator for the CA certificate"));
    nothing_saved(&e);
    let ca = kit.info().ca_file.clone().unwrap();
    let added = e
        .accounts
        .add_with_token(kit.url(), t(), Some(ca.clone()), None)
        .await
        .unwrap();
    assert_eq!(
        added.instance.ca_file.as_deref(),
        Some(ca.canonicalize().unwrap().as_path())
    );
    let server = e.accounts.server(&added.instance).unwrap();
    let cred = e.accounts.credential(&added.instance).await.unwrap();
    assert!(!server
        .pushable_projects(cred.as_credential(), None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn expired_and_wrong_name_certificates_are_told_apart() {
    for (kind, code) in [
        (CertKind::Expired, "tls_expired"),
        (CertKind::WrongName, "tls_wrong_host"),
    ] {
        let kit = Testkit::start(Options {
            tls: true,
            certificate: kind,
            ..Options::default()
        })
        .unwrap();
        let ca = kit.info().ca_file.clone().unwrap();
        let err = Server::find(kit.url(), Some(&ca)).await.unwrap_err();
        assert_eq!(err.code(), code, "{kind:?}: {err}");
    }
}

fn oauth_app(kit: &Testkit, confidential: bool) -> App {
    let o = &kit.info().oauth;
    if confidential {
        App {
            client_id: o.client_id.clone(),
            client_secret: Some(Sensitive::new(o.client_secret.clone())),
        }
    } else {
        App {
            client_id: o.public_client_id.clone(),
            client_secret: None,
        }
    }
}

/// Plays the browser: follows the authorize address to the loopback callback.
fn browse(url: String) {
    std::thread::spawn(move || {
        let _ = reqwest::blocking::Client::new().get(url).send();
    });
}

fn no_browser(timeout: Duration) -> SignInOptions {
    SignInOptions {
        port: None,
        timeout,
        open_browser: false,
    }
}

#[tokio::test]
async fn oauth_sign_in_saves_tokens_and_refreshes_them_ahead_of_expiry() {
    // Tokens that live 60 s: inside the 5-minute refresh margin from the start.
    let kit = Testkit::start(Options {
        auto_approve: true,
        token_lifetime: Some(60),
        ..Options::default()
    })
    .unwrap();
    let e = env();
    let added = e
        .accounts
        .add_with_oauth(
            kit.url(),
            oauth_app(&kit, true),
            None,
            None,
            &no_browser(Duration::from_secs(20)),
            |u| browse(u.to_string()),
        )
        .await
        .unwrap();
    assert_eq!(added.instance.auth, AuthKind::Oauth);
    assert_eq!(
        added.instance.oauth_client_id.as_deref(),
        Some(kit.info().oauth.client_id.as_str())
    );
    let Some(Credentials::OAuth {
        access_token: first,
        client_secret,
        ..
    }) = e.secrets.load(&added.instance.id).unwrap()
    else {
        panic!("OAuth credentials stored");
    };
    assert!(client_secret.is_some(), "the secret is kept for refreshes");

    // Two callers at once: one refresh, both get the same new token.
    let (a, b) = tokio::join!(
        e.accounts.credential(&added.instance),
        e.accounts.credential(&added.instance)
    );
    let (OwnedCredential::OAuth(a), OwnedCredential::OAuth(b)) = (a.unwrap(), b.unwrap()) else {
        panic!("OAuth credentials");
    };
    assert_eq!(a, b, "one refresh served both callers");
    assert_ne!(a, first, "the token was refreshed");
    let Some(Credentials::OAuth {
        access_token: stored,
        ..
    }) = e.secrets.load(&added.instance.id).unwrap()
    else {
        panic!();
    };
    assert_eq!(stored, a, "the rotated pair was saved before use");
    let server = e.accounts.server(&added.instance).unwrap();
    let user = server
        .user(ferry::gitlab::client::Credential::OAuth(&a))
        .await
        .unwrap();
    assert_eq!(user.username, "editor");
    let old = server
        .user(ferry::gitlab::client::Credential::OAuth(&first))
        .await
        .unwrap_err();
    assert_eq!(
        old.code(),
        "token_revoked",
        "rotation revoked the old token"
    );
}

#[tokio::test]
async fn a_revoked_grant_means_sign_in_again_not_a_retry_loop() {
    let kit = Testkit::start(Options {
        auto_approve: true,
        token_lifetime: Some(60),
        ..Options::default()
    })
    .unwrap();
    let e = env();
    let added = e
        .accounts
        .add_with_oauth(
            kit.url(),
            oauth_app(&kit, false),
            None,
            None,
            &no_browser(Duration::from_secs(20)),
            |u| browse(u.to_string()),
        )
        .await
        .unwrap();
    admin(&kit, "/tokens/revoke", json!({"username": "editor"}));
    let err = e.accounts.credential(&added.instance).await.unwrap_err();
    assert_eq!(err.code(), "oauth_refresh_refused");
    assert!(err.to_string().contains("Sign in again"), "{err}");
}

#[tokio::test]
async fn oauth_honours_the_browser_variable() {
    let kit = kit();
    let e = env();
    // $BROWSER is read when the flow opens the browser; this test owns its process env only briefly.
    std::env::set_var("BROWSER", "curl -s -L -o /dev/null %s");
    let options = SignInOptions {
        port: None,
        timeout: Duration::from_secs(20),
        open_browser: true,
    };
    let added = e
        .accounts
        .add_with_oauth(
            kit.url(),
            oauth_app(&kit, false),
            None,
            Some("Browser".into()),
            &options,
            |_| {},
        )
        .await;
    std::env::remove_var("BROWSER");
    assert_eq!(added.unwrap().instance.name, "Browser");
}

#[tokio::test]
async fn no_callback_before_the_timeout_closes_the_listener() {
    let kit = kit();
    let e = env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = SignInOptions {
        port: Some(port),
        timeout: Duration::from_millis(700),
        open_browser: false,
    };
    let err = e
        .accounts
        .add_with_oauth(
            kit.url(),
            oauth_app(&kit, false),
            None,
            None,
            &options,
            |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oauth_timeout");
    assert!(
        err.to_string().contains("not completed within 1 minutes")
            || err.to_string().contains("Start it again"),
        "{err}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the listener is closed after the timeout"
    );
    nothing_saved(&e);
}

#[tokio::test]
async fn a_callback_with_the_wrong_state_is_refused() {
    let kit = kit();
    let e = env();
    let err = e
        .accounts
        .add_with_oauth(
            kit.url(),
            oauth_app(&kit, false),
            None,
            None,
            &no_browser(Duration::from_secs(20)),
            |u| {
                let redirect = url::Url::parse(u)
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "redirect_uri")
                    .unwrap()
                    .1
                    .into_owned();
                browse(format!("{redirect}?code=stolen&state=not-ours"));
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oauth_state_mismatch");
    nothing_saved(&e);
}

#[tokio::test]
async fn a_user_who_denies_access_is_told_so() {
    let kit = kit();
    let e = env();
    let err = e
        .accounts
        .add_with_oauth(
            kit.url(),
            oauth_app(&kit, false),
            None,
            None,
            &no_browser(Duration::from_secs(20)),
            |u| {
                let q: std::collections::HashMap<String, String> = url::Url::parse(u)
                    .unwrap()
                    .query_pairs()
                    .into_owned()
                    .collect();
                browse(format!(
                    "{}?error=access_denied&error_description=The+resource+owner+denied&state={}",
                    q["redirect_uri"], q["state"]
                ));
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oauth_denied");
    assert!(err.to_string().contains("You declined"), "{err}");
}

#[tokio::test]
async fn wrong_application_secret_is_explained() {
    let kit = kit();
    let e = env();
    let app = App {
        client_id: kit.info().oauth.client_id.clone(),
        client_secret: Some(Sensitive::new("gloas-wrong".into())),
    };
    let err = e
        .accounts
        .add_with_oauth(
            kit.url(),
            app,
            None,
            None,
            &no_browser(Duration::from_secs(20)),
            |u| browse(u.to_string()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oauth_exchange");
    assert!(
        err.to_string()
            .contains("Application ID or Secret is not right"),
        "{err}"
    );
}

#[tokio::test]
async fn repository_list_follows_every_page_and_searches_on_the_server() {
    let kit = kit();
    admin(
        &kit,
        "/projects/bulk",
        json!({"namespace": "editor", "count": 250, "prefix": "page"}),
    );
    let e = env();
    let added = e
        .accounts
        .add_with_token(
            kit.url(),
            Sensitive::new(kit.info().token.clone()),
            None,
            None,
        )
        .await
        .unwrap();
    let server = e.accounts.server(&added.instance).unwrap();
    let cred = e.accounts.credential(&added.instance).await.unwrap();
    let all = server
        .pushable_projects(cred.as_credential(), None)
        .await
        .unwrap();
    assert_eq!(all.len(), 253, "three pages of 100");
    let found = server
        .pushable_projects(cred.as_credential(), Some("website"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path_with_namespace, "editor/website");
    assert_eq!(found[0].default_branch.as_deref(), Some("main"));
    let (page, next) = server
        .pushable_projects_page(cred.as_credential(), None, 1, 20)
        .await
        .unwrap();
    assert_eq!((page.len(), next), (20, Some(2)));

    let made = server
        .create_project(cred.as_credential(), "Team Notes", None)
        .await
        .unwrap();
    assert_eq!(made.path_with_namespace, "editor/team-notes");
    let err = server
        .create_project(cred.as_credential(), "Team Notes", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has already been taken"), "{err}");
}

#[tokio::test]
async fn an_account_in_use_by_a_folder_is_not_removed() {
    let kit = kit();
    let e = env();
    let added = e
        .accounts
        .add_with_token(
            kit.url(),
            Sensitive::new(kit.info().token.clone()),
            None,
            Some("Work".into()),
        )
        .await
        .unwrap();
    ConfigStore::new(&e.config)
        .update(|c| {
            c.folders.push(ferry::config::Folder {
                id: "site".into(),
                path: "/home/e/site".into(),
                instance: added.instance.id.clone(),
                project: "editor/website".into(),
                branch: None,
                paused: false,
            })
        })
        .unwrap();
    let err = e.accounts.remove("Work").unwrap_err();
    assert_eq!(err.code(), "in_use");
    ConfigStore::new(&e.config)
        .update(|c| c.folders.clear())
        .unwrap();
    e.accounts.remove("Work").unwrap();
    assert_eq!(
        e.secrets.load(&added.instance.id).unwrap(),
        None,
        "the secret is forgotten too"
    );
    assert_eq!(
        e.accounts.remove("Work").unwrap_err().code(),
        "unknown_account"
    );
}

#[test]
fn errors_never_carry_the_token() {
    let token = "glpat-supersecretvalue123";
    let e = Error::SignIn {
        host: "h".into(),
        problem: ferry::gitlab::SignInProblem::Invalid,
    };
    assert!(!e.to_string().contains(token));
    let creds = Credentials::Personal {
        token: Sensitive::new(token.into()),
    };
    assert!(!format!("{creds:?}").contains(token));
}

#[tokio::test]
async fn an_access_token_expired_early_is_refreshed_once_and_the_call_retried() {
    let kit = kit();
    let e = env();
    let added = e
        .accounts
        .add_with_oauth(
            kit.url(),
            oauth_app(&kit, true),
            None,
            None,
            &no_browser(Duration::from_secs(20)),
            |u| browse(u.to_string()),
        )
        .await
        .unwrap();
    // The fault switch: every token expires now, though Ferry thinks it has two hours.
    admin(&kit, "/tokens/expire", json!({"which": "oauth"}));
    let server = e.accounts.server(&added.instance).unwrap();
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let user = e
        .accounts
        .with_credential(&added.instance, |cred| {
            attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let server = server.clone();
            async move { server.user(cred.as_credential()).await }
        })
        .await
        .unwrap();
    assert_eq!(user.username, "editor");
    assert_eq!(
        attempts.into_inner(),
        2,
        "one failure, one refresh, one retry"
    );
}
