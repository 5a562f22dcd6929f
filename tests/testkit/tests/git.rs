//! Git over HTTP through the testkit, with the real git CLI: both of
//! GitLab's authentication forms, its failures, scopes and protected branches.

mod common;

use common::*;
use serde_json::json;

#[test]
fn clone_push_fetch_with_a_personal_access_token_and_any_user_name() {
    let kit = kit();
    let tmp = tempfile::tempdir().unwrap();
    let url = git_url(&kit, "whoever", &kit.info().token, "editor/website");
    git_ok(tmp.path(), &["clone", "-q", &url, "a"]);
    let a = tmp.path().join("a");
    assert!(a.join("index.md").exists(), "seeded content arrives");
    assert!(a.join("images/logo.png").exists(), "and the image");

    std::fs::write(a.join("news.md"), "# News\n").unwrap();
    git_ok(&a, &["add", "news.md"]);
    git_ok(&a, &["commit", "-qm", "Add news"]);
    git_ok(&a, &["push", "-q", "origin", "main"]);

    // A second clone by the other user sees the push through fetch.
    let url2 = git_url(&kit, "reviewer", &kit.info().second_token, "editor/website");
    git_ok(tmp.path(), &["clone", "-q", &url2, "b"]);
    let b = tmp.path().join("b");
    assert_eq!(
        std::fs::read_to_string(b.join("news.md")).unwrap(),
        "# News\n"
    );
    std::fs::write(a.join("about.md"), "changed\n").unwrap();
    git_ok(&a, &["commit", "-qam", "Update about"]);
    git_ok(&a, &["push", "-q", "origin", "main"]);
    git_ok(&b, &["pull", "-q", "--ff-only"]);
    assert_eq!(
        std::fs::read_to_string(b.join("about.md")).unwrap(),
        "changed\n"
    );

    let project = json(get(
        &kit,
        "/api/v4/projects/editor%2Fwebsite",
        &kit.info().token,
    ));
    assert_ne!(
        project["last_activity_at"], project["created_at"],
        "a push counts as activity"
    );
}

#[test]
fn clone_and_push_with_an_oauth_token_as_oauth2() {
    let kit = kit();
    let token = oauth_token(&kit);
    let tmp = tempfile::tempdir().unwrap();
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            &git_url(&kit, "oauth2", &token, "editor/empty"),
            "e",
        ],
    );
    let e = tmp.path().join("e");
    std::fs::write(e.join("first.md"), "first\n").unwrap();
    git_ok(&e, &["add", "."]);
    git_ok(&e, &["commit", "-qm", "First"]);
    git_ok(&e, &["push", "-q", "origin", "HEAD:main"]);
    let branch = json(get(
        &kit,
        "/api/v4/projects/editor%2Fempty/repository/branches/main",
        &kit.info().token,
    ));
    assert_eq!(
        branch["commit"]["title"], "First",
        "the empty project got its first commit"
    );
}

/// An OAuth access token for the editor, through the real code + PKCE flow.
fn oauth_token(kit: &ferry_testkit::Testkit) -> String {
    use base64::Engine;
    use sha2::Digest;
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let info = kit.info();
    let r = http()
        .get(format!("{}/oauth/authorize", kit.url()))
        .query(&[
            ("client_id", info.oauth.public_client_id.as_str()),
            ("redirect_uri", "http://127.0.0.1:43210/callback"),
            ("response_type", "code"),
            ("state", "s"),
            ("scope", "api read_user read_repository write_repository"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let t = json(
        http()
            .post(format!("{}/oauth/token", kit.url()))
            .form(&[
                ("client_id", info.oauth.public_client_id.as_str()),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:43210/callback"),
                ("code_verifier", verifier),
            ])
            .send()
            .unwrap(),
    );
    t["access_token"].as_str().unwrap().to_string()
}

#[test]
fn missing_or_wrong_credentials_fail_like_gitlab() {
    let kit = kit();
    let r = http()
        .get(format!(
            "{}/editor/website.git/info/refs?service=git-upload-pack",
            kit.url()
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"GitLab\"");
    assert!(r.text().unwrap().starts_with("HTTP Basic: Access denied."));

    let tmp = tempfile::tempdir().unwrap();
    let anonymous = format!("{}/editor/website.git", kit.url());
    let out = git(tmp.path(), &["clone", "-q", &anonymous, "x"]);
    assert!(!out.status.success(), "no credentials, no clone");

    let wrong = git_url(&kit, "editor", "glpat-wrong", "editor/website");
    let out = git(tmp.path(), &["clone", "-q", &wrong, "y"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("HTTP Basic: Access denied"), "{err}");
    assert!(err.contains("Authentication failed"), "{err}");

    let missing = git_url(&kit, "editor", &kit.info().token, "editor/no-such-project");
    let out = git(tmp.path(), &["clone", "-q", &missing, "z"]);
    let err = stderr(&out);
    assert!(
        err.contains("could not be found or you don't have permission to view it"),
        "{err}"
    );
}

#[test]
fn a_read_only_token_can_fetch_but_not_push() {
    let kit = kit();
    let read_only = admin(
        &kit,
        "/tokens",
        json!({"username": "editor", "scopes": ["read_repository"]}),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    let tmp = tempfile::tempdir().unwrap();
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            &git_url(&kit, "editor", &read_only, "editor/website"),
            "r",
        ],
    );
    let r = tmp.path().join("r");
    std::fs::write(r.join("x.md"), "x").unwrap();
    git_ok(&r, &["add", "."]);
    git_ok(&r, &["commit", "-qm", "x"]);
    let out = git(&r, &["push", "origin", "main"]);
    assert!(!out.status.success(), "read_repository cannot push");
    let err = stderr(&out);
    assert!(err.contains("You are not allowed to upload code."), "{err}");
    assert!(err.contains("403"), "{err}");
}

#[test]
fn a_protected_branch_rejects_a_developer_with_gitlabs_message() {
    let kit = kit();
    let tmp = tempfile::tempdir().unwrap();
    // editor is a Developer of team/handbook, whose main is protected.
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            &git_url(&kit, "editor", &kit.info().token, "team/handbook"),
            "dev",
        ],
    );
    let dev = tmp.path().join("dev");
    std::fs::write(dev.join("page.md"), "draft").unwrap();
    git_ok(&dev, &["add", "."]);
    git_ok(&dev, &["commit", "-qm", "Draft"]);
    let out = git(&dev, &["push", "origin", "main"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("remote: GitLab: You are not allowed to push code to protected branches on this project."),
        "{err}"
    );
    assert!(
        err.contains("[remote rejected] main -> main (pre-receive hook declined)"),
        "{err}"
    );
    // A branch that is not protected takes the same commit.
    git_ok(&dev, &["push", "-q", "origin", "main:drafts"]);

    // reviewer is a Maintainer: the push goes through, but a force push does not.
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            &git_url(&kit, "reviewer", &kit.info().second_token, "team/handbook"),
            "m",
        ],
    );
    let m = tmp.path().join("m");
    std::fs::write(m.join("page.md"), "final").unwrap();
    git_ok(&m, &["add", "."]);
    git_ok(&m, &["commit", "-qm", "Final"]);
    git_ok(&m, &["push", "-q", "origin", "main"]);
    git_ok(&m, &["reset", "-q", "--hard", "HEAD~1"]);
    git_ok(&m, &["commit", "-q", "--allow-empty", "-m", "Rewrite"]);
    let out = git(&m, &["push", "--force", "origin", "main"]);
    assert!(!out.status.success(), "no force push on a protected branch");
    assert!(
        stderr(&out).contains(
            "You are not allowed to force push code to a protected branch on this project."
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_reporter_cannot_push_and_an_archived_project_refuses_pushes() {
    let kit = kit();
    admin(
        &kit,
        "/members",
        json!({"project": "editor/website", "username": "reviewer", "access_level": 20}),
    );
    let tmp = tempfile::tempdir().unwrap();
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            &git_url(&kit, "reviewer", &kit.info().second_token, "editor/website"),
            "r",
        ],
    );
    let r = tmp.path().join("r");
    std::fs::write(r.join("x.md"), "x").unwrap();
    git_ok(&r, &["add", "."]);
    git_ok(&r, &["commit", "-qm", "x"]);
    let out = git(&r, &["push", "origin", "main"]);
    assert!(
        stderr(&out).contains("You are not allowed to push code to this project."),
        "{}",
        stderr(&out)
    );

    admin(
        &kit,
        "/projects/editor%2Fwebsite/archive",
        json!({"archived": true}),
    );
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            &git_url(&kit, "editor", &kit.info().token, "editor/website"),
            "e",
        ],
    );
    let e = tmp.path().join("e");
    std::fs::write(e.join("y.md"), "y").unwrap();
    git_ok(&e, &["add", "."]);
    git_ok(&e, &["commit", "-qm", "y"]);
    assert!(
        !git(&e, &["push", "origin", "main"]).status.success(),
        "archived: read-only"
    );
}

#[test]
fn server_history_is_recorded_in_the_reflog() {
    let kit = kit();
    let tmp = tempfile::tempdir().unwrap();
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            &git_url(&kit, "editor", &kit.info().token, "editor/website"),
            "a",
        ],
    );
    let a = tmp.path().join("a");
    for n in 0..3 {
        std::fs::write(a.join("n.md"), format!("{n}")).unwrap();
        git_ok(&a, &["add", "n.md"]);
        git_ok(&a, &["commit", "-qm", &format!("n{n}")]);
        git_ok(&a, &["push", "-q", "origin", "main"]);
    }
    let bare = kit.repo_dir("editor/website");
    let reflog = git_ok(&bare, &["reflog", "show", "--format=%H", "refs/heads/main"]);
    assert_eq!(reflog.lines().count(), 4, "seed + three pushes: {reflog}");
}

#[test]
fn pushed_objects_are_checked_like_gitlab_and_backslash_names_pass() {
    let kit = kit();
    let tmp = tempfile::tempdir().unwrap();
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            &git_url(&kit, "editor", &kit.info().token, "editor/website"),
            "a",
        ],
    );
    let a = tmp.path().join("a");
    // A tree with a `.git` entry, made with plumbing (git add would refuse it).
    let blob = git_ok(&a, &["hash-object", "-w", "--stdin"]);
    let blob = blob.trim();
    let hooks = mktree(&a, &format!("100755 blob {blob}\tpost-commit\n"));
    let dotgit = mktree(&a, &format!("040000 tree {hooks}\thooks\n"));
    let root = mktree(
        &a,
        &format!("040000 tree {dotgit}\t.git\n100644 blob {blob}\tok.md\n"),
    );
    let commit = git_ok(&a, &["commit-tree", "-p", "HEAD", "-m", "dotgit", &root]);
    let out = git(
        &a,
        &[
            "push",
            "origin",
            &format!("{}:refs/heads/main", commit.trim()),
        ],
    );
    assert!(!out.status.success(), "GitLab refuses a .git tree entry");
    assert!(
        stderr(&out).contains("hasDotgit"),
        "the refusal names fsck's check: {}",
        stderr(&out)
    );
    // `..\x` is one ordinary name on Linux: fsck lets it through, as GitLab does.
    std::fs::write(a.join("..\\escape.txt"), "x").unwrap();
    git_ok(&a, &["add", "."]);
    git_ok(&a, &["commit", "-qm", "backslash"]);
    git_ok(&a, &["push", "-q", "origin", "main"]);
    let bare = kit.repo_dir("editor/website");
    assert_eq!(
        git_ok(&bare, &["config", "receive.fsckObjects"]).trim(),
        "true"
    );
}

fn mktree(dir: &std::path::Path, entries: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .arg("mktree")
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(entries.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git mktree");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
