//! Driving the connect wizard the way a user does, shared by the tests
//! that need a connected account: type the address, paste a token, pick a
//! repository, drop a folder.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferry_e2e::{wait_for, Desktop, Session};
use ferry_testkit::{Options, Testkit};

/// The drag source helper (a GTK window that drags paths).
pub fn drag_source() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferry-e2e-drag-source"))
}

/// A desktop with a Secret Service, and a testkit whose user the test
/// browser signs in as.
pub fn desktop_and_kit(options: Options) -> (Desktop, Testkit) {
    let kit = Testkit::start(options).expect("start ferry-testkit");
    let mut desktop = Desktop::start();
    desktop.start_keyring();
    desktop.set_env("FERRY_E2E_LOGIN", &kit.info().user);
    desktop.set_env("FERRY_E2E_PASSWORD", &kit.info().password);
    (desktop, kit)
}

/// Step 1: from the welcome screen, type the address and wait for the check.
pub fn enter_address(session: &Session<'_>, address: &str) {
    // The welcome (first run) or the wizard already open.
    let start = wait_for("the welcome or the wizard", Duration::from_secs(15), || {
        if !session.find_all("input[name=address]").is_empty() {
            return Some(None);
        }
        session
            .find_all("button")
            .into_iter()
            .find(|b| session.text(b).contains("Get started"))
            .map(Some)
    });
    if let Some(start) = start {
        session.click(&start);
    }
    session.find_with_text("h1", "Where is your GitLab?");
    let field = session.find("input[name=address]");
    session.clear(&field);
    session.type_text(&field, address);
}

/// Waits for the server check to finish; true when it passed.
pub fn server_check_passed(session: &Session<'_>) -> bool {
    wait_for("the server check", Duration::from_secs(30), || {
        if !session.find_all("[data-testid=server-problem]").is_empty() {
            return Some(false);
        }
        session
            .find_all("[data-testid=server-check][data-ok=true]")
            .into_iter()
            .next()
            .map(|_| true)
    })
}

/// Steps 1 and 2 with a personal access token; ends on the repository step.
pub fn connect_with_token(session: &Session<'_>, kit: &Testkit, shots: Option<&str>) {
    enter_address(session, kit.url());
    assert!(server_check_passed(session), "the testkit is a GitLab");
    if let Some(p) = shots {
        session.screenshot(&format!("{p}1-server"));
    }
    session.click(&session.find_with_text("button", "Continue"));
    session.find_with_text("h1", "How do you want to sign in?");
    let token = session.find("input[name=token]");
    session.type_text(&token, &kit.info().token);
    if let Some(p) = shots {
        session.screenshot(&format!("{p}2-sign-in-token"));
    }
    session.click(&session.find_with_text("button", "Connect"));
    session.wait_text("h1", "Which repository?", Duration::from_secs(20));
}

/// Step 3: picks `project` from the list; ends on the folder step.
pub fn pick_repository(session: &Session<'_>, project: &str) {
    let item = session.find(&format!("button.repo[data-path='{project}']"));
    session.click(&item);
    session.find_with_text("h1", "Which folder should stay in sync?");
}

/// The drop zone's centre on screen.
pub fn drop_target(desktop: &Desktop, session: &Session<'_>) -> (i32, i32) {
    let window = wait_for("the Ferry window", Duration::from_secs(15), || {
        desktop.x11().visible_window("Ferry")
    });
    let zone = session.find(".dropzone");
    let (x, y, w, h) = session.rect(&zone);
    (
        window.geometry.0 + (x + w / 2.0) as i32,
        window.geometry.1 + (y + h / 2.0) as i32,
    )
}

/// Step 4: drags `folder` from another application onto the window and
/// waits for the check's result.
pub fn drop_folder(desktop: &Desktop, session: &Session<'_>, folder: &Path) {
    let target = drop_target(desktop, session);
    let zone = session.find(".dropzone");
    desktop.drag_and_drop(&drag_source(), &[folder.to_path_buf()], target, || {
        session.attribute(&zone, "data-tone").as_deref() == Some("ready")
    });
    session.find("[data-testid=folder-result]");
}

/// Steps 3 to 5 for `project` into `~/NAME`; ends on "Done".
pub fn set_up_folder(
    desktop: &Desktop,
    session: &Session<'_>,
    project: &str,
    name: &str,
) -> PathBuf {
    let dir = desktop.home().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    pick_repository(session, project);
    drop_folder(desktop, session, &dir);
    session.click(&session.find_with_text("button", "Start syncing"));
    wait_until_set_up(desktop, session);
    dir
}

/// Waits for step 5 to end; a failure to set up the folder fails the test
/// with what the window says.
pub fn wait_until_set_up(desktop: &Desktop, session: &Session<'_>) {
    let outcome = desktop.wait("the folder to be set up", Duration::from_secs(60), || {
        if let Some(p) = session
            .find_all("[data-testid=sync-problem]")
            .into_iter()
            .next()
        {
            return Some(Err(session.text(&p)));
        }
        session
            .find_all("h1")
            .into_iter()
            .any(|h| session.text(&h).contains("Done — your folder is in sync"))
            .then_some(Ok(()))
    });
    if let Err(problem) = outcome {
        desktop.screenshot("FAILED-set-up");
        panic!("the folder could not be set up: {problem}");
    }
}

/// Runs git (isolated from the machine's git config) in `dir`.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Colleague")
        .env("GIT_AUTHOR_EMAIL", "colleague@example.com")
        .env("GIT_COMMITTER_NAME", "Colleague")
        .env("GIT_COMMITTER_EMAIL", "colleague@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files on the server's `main` for `project` (none before its first commit).
pub fn server_files(kit: &Testkit, project: &str) -> Vec<String> {
    let out = Command::new("git")
        .args(["ls-tree", "-r", "--name-only", "main"])
        .current_dir(kit.repo_dir(project))
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A clone of `project` by another person, with the git CLI.
pub fn colleague_clone(kit: &Testkit, project: &str, into: &Path) -> PathBuf {
    let url = kit.url().replacen(
        "://",
        &format!("://reviewer:{}@", kit.info().second_token),
        1,
    ) + &format!("/{project}.git");
    let dir = into.join("colleague");
    git(into, &["clone", "-q", &url, "colleague"]);
    dir
}
