//! Helpers shared by the testkit's tests: an HTTP client that does not
//! follow redirects, and the real git CLI isolated from the user's config.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use ferry_testkit::{Options, Testkit};
use serde_json::Value;

/// A testkit with auto-approve on (no sign-in page).
pub fn kit() -> Testkit {
    Testkit::start(Options {
        auto_approve: true,
        ..Options::default()
    })
    .expect("start the testkit")
}

/// A blocking HTTP client that shows redirects instead of following them.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// GET `path` with a PRIVATE-TOKEN.
pub fn get(kit: &Testkit, path: &str, token: &str) -> reqwest::blocking::Response {
    http()
        .get(format!("{}{path}", kit.url()))
        .header("PRIVATE-TOKEN", token)
        .send()
        .expect("request")
}

/// The JSON body of a response.
pub fn json(r: reqwest::blocking::Response) -> Value {
    r.json().expect("JSON body")
}

/// POSTs JSON to an admin endpoint.
pub fn admin(kit: &Testkit, path: &str, body: Value) -> Value {
    let r = http()
        .post(format!("{}/-/testkit{path}", kit.url()))
        .json(&body)
        .send()
        .expect("admin request");
    assert!(r.status().is_success(), "admin {path}: {}", r.status());
    r.json().expect("admin JSON")
}

/// A clone URL with credentials in it.
pub fn git_url(kit: &Testkit, user: &str, secret: &str, project: &str) -> String {
    let rest = kit.url().split_once("://").expect("url").1;
    let scheme = kit.url().split_once("://").expect("url").0;
    format!("{scheme}://{user}:{secret}@{rest}/{project}.git")
}

/// Runs the real git CLI in `dir`, without the user's or system config.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    git_with(dir, args, &[])
}

/// [`git`] with extra environment variables.
pub fn git_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env_remove("GIT_ASKPASS")
        .env_remove("GIT_SSL_CAINFO")
        .env_remove("SSH_ASKPASS")
        .envs(env.iter().copied())
        .output()
        .expect("run git")
}

/// Runs git and fails the test with its stderr when it fails.
pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// git's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
