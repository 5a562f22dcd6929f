//! The `ferry` CLI with a real Secret Service: gnome-keyring in a private
//! D-Bus session (never the user's own), against ferry-testkit. Proves the
//! token goes to the keyring and nowhere else, survives across processes,
//! and that a missing or locked keyring is explained and saves nothing.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use ferry_testkit::{Options, Testkit};
use serde_json::Value;

#[test]
fn the_token_goes_to_the_keyring_and_nowhere_else() {
    let kit = Testkit::start(Options::default()).unwrap();
    let s = Session::start(true);
    let token = kit.info().token.clone();

    let add = s.ferry(
        &[
            "instance",
            "add",
            kit.url(),
            "--token-stdin",
            "--name",
            "Work",
        ],
        &format!("{token}\n"),
    );
    assert!(add.status.success(), "{}", text(&add));
    assert!(text(&add).contains("Saved as “Work”"), "{}", text(&add));

    let entry = s.keyring_lookup();
    assert!(
        entry.contains(&token),
        "the keyring holds the token: {entry}"
    );

    // Another process finds it there.
    let repos = s.ferry(&["repos", "Work", "--json"], "");
    assert!(repos.status.success(), "{}", text(&repos));
    let list: Value = serde_json::from_slice(&repos.stdout).unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["path_with_namespace"] == "editor/website"));
    let check = s.ferry(&["instance", "check", "Work", "--json"], "");
    assert!(check.status.success(), "{}", text(&check));
    let created = s.ferry(
        &[
            "repos",
            "Work",
            "--create",
            "Launch Notes",
            "--namespace",
            "team",
        ],
        "",
    );
    assert!(
        text(&created).contains("Created team/launch-notes"),
        "a project in a group: {}",
        text(&created)
    );

    // Nowhere else: not in settings, logs, any file of this home (the
    // keyring file is encrypted), nor anything printed.
    let mut leaks = Vec::new();
    files_containing(s.root.path(), &token, &mut leaks);
    assert!(leaks.is_empty(), "the token is in {leaks:?}");
    for out in [&add, &repos, &check] {
        assert!(
            !text(out).contains(&token),
            "printed the token: {}",
            text(out)
        );
    }
    let settings = std::fs::read_to_string(s.config().join("settings.toml")).unwrap();
    assert!(settings.contains("auth = \"token\"") && !settings.contains("glpat-"));

    let remove = s.ferry(&["instance", "remove", "Work"], "");
    assert!(remove.status.success(), "{}", text(&remove));
    assert!(
        !s.keyring_lookup().contains(&token),
        "removing the account forgets the token"
    );
}

#[test]
fn oauth_sign_in_through_the_browser_variable_stores_tokens_in_the_keyring() {
    let kit = Testkit::start(Options {
        auto_approve: true,
        ..Options::default()
    })
    .unwrap();
    let s = Session::start(true);
    let o = &kit.info().oauth;
    let add = s.ferry_with(
        &[
            "instance",
            "add",
            kit.url(),
            "--oauth",
            "--client-id",
            &o.client_id,
            "--client-secret-stdin",
            "--timeout",
            "30",
        ],
        &format!("{}\n", o.client_secret),
        &[("BROWSER", "curl -s -L -o /dev/null")],
    );
    assert!(add.status.success(), "{}", text(&add));
    let entry = s.keyring_lookup();
    assert!(
        entry.contains("\"kind\":\"oauth\"") && entry.contains(&o.client_secret),
        "{entry}"
    );
    let repos = s.ferry(
        &[
            "repos",
            &format!("editor@127.0.0.1:{}", kit.url().rsplit(':').next().unwrap()),
            "--search",
            "website",
        ],
        "",
    );
    assert!(text(&repos).contains("editor/website"), "{}", text(&repos));

    // Signing in again through the browser (the Accounts screen's twin)
    // replaces the stored tokens.
    let before = s.keyring_lookup();
    let account = format!("editor@127.0.0.1:{}", kit.url().rsplit(':').next().unwrap());
    let again = s.ferry_with(
        &[
            "instance",
            "reconnect",
            &account,
            "--oauth",
            "--client-id",
            &o.client_id,
            "--client-secret-stdin",
            "--timeout",
            "30",
        ],
        &format!("{}\n", o.client_secret),
        &[("BROWSER", "curl -s -L -o /dev/null")],
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("Signed in again"), "{}", text(&again));
    let after = s.keyring_lookup();
    assert!(
        after.contains("\"kind\":\"oauth\"") && after != before,
        "new tokens replace the old: {after}"
    );

    let mut leaks = Vec::new();
    files_containing(&s.config(), &o.client_secret, &mut leaks);
    assert!(
        leaks.is_empty(),
        "the application secret stays in the keyring: {leaks:?}"
    );
}

#[test]
fn no_keyring_is_explained_and_saves_nothing() {
    let kit = Testkit::start(Options::default()).unwrap();
    let s = Session::start(true);
    let out = s.ferry_with(
        &["instance", "add", kit.url(), "--token-stdin"],
        &format!("{}\n", kit.info().token),
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("none is available") && t.contains("gnome-keyring"),
        "{t}"
    );
    assert!(!s.config().join("settings.toml").exists(), "nothing saved");
}

#[test]
fn a_locked_keyring_is_explained_and_saves_nothing() {
    let kit = Testkit::start(Options::default()).unwrap();
    let s = Session::start(false);
    let out = s.ferry(
        &["instance", "add", kit.url(), "--token-stdin", "--json"],
        &format!("{}\n", kit.info().token),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "keyring_locked", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Unlock it"));
    assert!(!s.config().join("settings.toml").exists(), "nothing saved");
}

#[test]
fn opting_into_a_plain_file_warns_and_works_without_a_keyring() {
    let kit = Testkit::start(Options::default()).unwrap();
    let s = Session::start(true);
    // A refused token adds nothing, and sign-ins stay where they were.
    let refused = s.ferry_with(
        &[
            "instance",
            "add",
            kit.url(),
            "--token-stdin",
            "--store-token-in-file",
        ],
        "glpat-not-a-real-token\n",
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let settings = std::fs::read_to_string(s.config().join("settings.toml")).unwrap_or_default();
    assert!(
        !settings.contains("sign_ins_in_plain_file = true"),
        "a failed sign-in doesn't move where sign-ins are kept: {settings}"
    );
    let out = s.ferry_with(
        &[
            "instance",
            "add",
            kit.url(),
            "--token-stdin",
            "--store-token-in-file",
        ],
        &format!("{}\n", kit.info().token),
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Anyone who can read your files"),
        "warned: {}",
        text(&out)
    );
    let file = s.config().join("secrets.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o077,
            0
        );
    }
    let repos = s.ferry_with(
        &[
            "repos",
            &format!("editor@127.0.0.1:{}", kit.url().rsplit(':').next().unwrap()),
        ],
        "",
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert!(repos.status.success(), "{}", text(&repos));
}

#[test]
fn instance_check_explains_each_step_and_fails_with_exit_1() {
    let s = Session::start(true);
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let out = s.ferry(
        &[
            "instance",
            "check",
            &format!("http://127.0.0.1:{port}"),
            "--json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = report["steps"].as_array().unwrap();
    let by_id = |id: &str| steps.iter().find(|s| s["id"] == id).unwrap().clone();
    assert_eq!(by_id("dns")["outcome"], "pass");
    let connect = by_id("connect");
    assert_eq!(connect["outcome"], "fail");
    assert!(
        connect["detail"].as_str().unwrap().contains("firewall"),
        "{connect}"
    );
    assert_eq!(by_id("gitlab")["outcome"], "skipped");
    assert!(steps.iter().all(|s| s["millis"].is_u64()));

    let kit = Testkit::start(Options {
        tls: true,
        ..Options::default()
    })
    .unwrap();
    let out = s.ferry(
        &["instance", "check", kit.url(), "--token-stdin", "--json"],
        &format!("{}\n", kit.info().token),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tls = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "tls")
        .unwrap()
        .clone();
    assert_eq!(tls["outcome"], "fail");
    assert!(
        tls["detail"].as_str().unwrap().contains("doesn't trust"),
        "{tls}"
    );

    let ca = kit.info().ca_file.clone().unwrap();
    let out = s.ferry(
        &[
            "instance",
            "check",
            kit.url(),
            "--ca-file",
            ca.to_str().unwrap(),
            "--token-stdin",
        ],
        &format!("{}\n", kit.info().token),
    );
    assert!(
        out.status.success(),
        "every step passes with the CA: {}",
        text(&out)
    );
    let t = text(&out);
    for line in [
        "The connection is secure",
        "It is a GitLab",
        "Scopes: api, read_user, read_repository, write_repository",
        "GitLab 17.",
        "Git answers for",
    ] {
        assert!(t.contains(line), "{line} in:\n{t}");
    }
}
