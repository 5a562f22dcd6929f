//! The connect wizard and the main window, clicked through in a real
//! WebKitGTK window against ferry-testkit (real git over HTTP), with a real
//! Secret Service holding the sign-in: a token and an OAuth sign-in, a bad
//! address and an untrusted certificate, a folder with files, and then the
//! folder syncing both ways, pausing, and showing a conflict.

mod flow;

use std::time::{Duration, Instant};

use ferry_e2e::{wait_for, Driver, Session};
use ferry_testkit::Options;
use flow::*;

const PROJECT: &str = "editor/website";

fn card_state(session: &Session<'_>) -> String {
    let card = session.find("li.card[data-folder]");
    session.attribute(&card, "data-state").unwrap_or_default()
}

fn activity(session: &Session<'_>, direction: &str, file: &str, timeout: Duration) {
    session.wait_text(
        &format!(".activity li[data-direction={direction}]"),
        file,
        timeout,
    );
}

#[test]
fn the_token_wizard_sets_up_a_folder_that_then_syncs_both_ways() {
    let (desktop, kit) = desktop_and_kit(Options::default());
    let driver = Driver::start(&desktop);
    // An installed copy (outside the checkout): its last step offers
    // starting at login.
    let installed = desktop.installed_app();
    let session = driver.session_of(&installed);

    // Steps 1 and 2, with the link to GitLab's token page.
    enter_address(&session, kit.url());
    assert!(server_check_passed(&session));
    let checklist = session.text(&session.find("[data-testid=server-check]"));
    assert!(checklist.contains("GitLab"), "{checklist}");
    session.screenshot("wizard-1-server");
    session.click(&session.find_with_text("button", "Continue"));
    session.click(&session.find_with_text("button", "Open GitLab's token page"));
    let opened = wait_for("the token page to open", Duration::from_secs(10), || {
        desktop
            .opened()
            .into_iter()
            .find(|u| u.contains("personal_access_tokens"))
    });
    assert!(
        opened.starts_with(kit.url()) && opened.contains("scopes=api"),
        "the pre-filled token page: {opened}"
    );
    // A wrong token is explained and nothing moves on.
    let token = session.find("input[name=token]");
    session.type_text(&token, "glpat-not-a-real-token");
    session.click(&session.find_with_text("button", "Connect"));
    let problem = session.find("[data-testid=signin-problem]");
    assert!(
        session.text(&problem).len() > 40,
        "{}",
        session.text(&problem)
    );
    session.screenshot("wizard-2-sign-in-wrong-token");
    session.clear(&token);
    session.type_text(&token, &kit.info().token);
    session.screenshot("wizard-2-sign-in-token");
    session.click(&session.find_with_text("button", "Connect"));

    // Step 3: the list, server-side search.
    session.wait_text("h1", "Which repository?", Duration::from_secs(20));
    let connected = session.find("[data-testid=connected]");
    assert!(session.text(&connected).contains("editor"));
    session.find(&format!("button.repo[data-path='{PROJECT}']"));
    session.find("button.repo[data-path='team/handbook']");
    session.screenshot("wizard-3-repository");
    let search = session.find("input[name=search]");
    session.type_text(&search, "hand");
    wait_for(
        "the search to narrow the list",
        Duration::from_secs(10),
        || {
            let items = session.find_all("button.repo");
            (items.len() == 1
                && session.attribute(&items[0], "data-path").as_deref() == Some("team/handbook"))
            .then_some(())
        },
    );
    session.clear(&search);
    session.type_text(&search, "web");

    // Steps 4 and 5.
    let dir = set_up_folder(&desktop, &session, PROJECT, "Website");
    session.screenshot("wizard-5-done");
    for f in server_files(&kit, PROJECT) {
        assert!(dir.join(&f).is_file(), "{f} is in the folder");
    }
    session.click(&session.find_with_text("button", "Open folder"));
    session.click(&session.find_with_text("button", "Open in GitLab"));
    wait_for(
        "the folder and the project page to open",
        Duration::from_secs(10),
        || {
            let opened = desktop.opened();
            (opened.iter().any(|o| o == &dir.display().to_string())
                && opened
                    .iter()
                    .any(|o| o == &format!("{}/{PROJECT}", kit.url())))
            .then_some(())
        },
    );
    // Starting at login is offered, on by default, and pointed at this copy.
    let offer = session.find("input[name=wizard-start-at-login]");
    assert!(
        session.attribute(&offer, "checked").is_some(),
        "on by default"
    );
    let item = wait_for("the login item", Duration::from_secs(10), || {
        desktop.login_items().into_iter().next()
    });
    let entry = std::fs::read_to_string(&item).unwrap();
    assert!(
        entry.contains(&format!("Exec={} --hidden", installed.display())),
        "{entry}"
    );
    session.click(&session.find_with_text("button", "Go to your folders"));

    // The folder's card: synced, then a save arrives on GitLab and shows as sent.
    wait_for("the folder to be synced", Duration::from_secs(20), || {
        (card_state(&session) == "synced").then_some(())
    });
    std::fs::write(dir.join("hello.md"), "# Hello from Ferry\n").unwrap();
    let saved = Instant::now();
    activity(&session, "out", "hello.md", Duration::from_secs(20));
    assert!(server_files(&kit, PROJECT).contains(&"hello.md".to_string()));
    eprintln!("save → on GitLab and in the list: {:?}", saved.elapsed());

    // A colleague's push arrives in the folder and shows as received.
    let work = tempfile_dir(&desktop);
    let colleague = colleague_clone(&kit, PROJECT, &work);
    std::fs::write(colleague.join("from-rita.md"), "Rita was here\n").unwrap();
    git(&colleague, &["add", "-A"]);
    git(&colleague, &["commit", "-qm", "Add from-rita.md"]);
    git(&colleague, &["push", "-q", "origin", "HEAD:main"]);
    let pushed = Instant::now();
    activity(&session, "in", "from-rita.md", Duration::from_secs(20));
    assert_eq!(
        std::fs::read_to_string(dir.join("from-rita.md")).unwrap(),
        "Rita was here\n"
    );
    eprintln!("push → in the folder and the list: {:?}", pushed.elapsed());
    session.screenshot("main-folders-activity");
    let link = session.find_with_text(".activity li[data-direction=in] button", "View on GitLab");
    session.click(&link);
    let tip = git(&kit.repo_dir(PROJECT), &["rev-parse", "main"]);
    wait_for("the commit page to open", Duration::from_secs(10), || {
        desktop
            .opened()
            .into_iter()
            .find(|u| u == &format!("{}/{PROJECT}/-/commit/{}", kit.url(), tip.trim()))
    });

    // Pause holds changes back; resume sends them.
    let card = session.find("li.card[data-folder]");
    let _ = card;
    session.click(&session.find_with_text("li.card button", "Pause"));
    wait_for("the folder to pause", Duration::from_secs(10), || {
        (card_state(&session) == "paused").then_some(())
    });
    std::fs::write(dir.join("while-paused.md"), "written while paused\n").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !server_files(&kit, PROJECT).contains(&"while-paused.md".to_string()),
        "nothing is sent while paused"
    );
    session.screenshot("main-folder-paused");
    session.click(&session.find_with_text("li.card button", "Resume"));
    wait_for(
        "the held-back file to arrive",
        Duration::from_secs(20),
        || {
            server_files(&kit, PROJECT)
                .contains(&"while-paused.md".to_string())
                .then_some(())
        },
    );
}

fn tempfile_dir(desktop: &ferry_e2e::Desktop) -> std::path::PathBuf {
    let dir = desktop.root.path().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_oauth_wizard_signs_in_through_the_browser() {
    let (desktop, kit) = desktop_and_kit(Options::default());
    let driver = Driver::start(&desktop);
    let session = driver.session();
    enter_address(&session, kit.url());
    assert!(server_check_passed(&session));
    session.click(&session.find_with_text("button", "Continue"));
    session.click(&session.find_with_text("button[role=tab]", "Sign in with GitLab"));
    let uri = session.find("[data-testid=redirect-uri]");
    assert_eq!(session.text(&uri), "http://127.0.0.1/callback");
    session.click(&session.find_with_text("button", "Open GitLab's applications page"));
    let id = session.find("input[name=client-id]");
    session.type_text(&id, &kit.info().oauth.public_client_id);
    session.screenshot("wizard-2-sign-in-oauth");
    session.click(&session.find_with_text("form button[type=submit]", "Sign in with GitLab"));
    // The test browser fills in GitLab's real sign-in form and authorizes.
    session.wait_text("h1", "Which repository?", Duration::from_secs(30));
    let connected = session.find("[data-testid=connected]");
    assert!(
        session.text(&connected).contains(&kit.info().user),
        "{}",
        session.text(&connected)
    );
    let opened = desktop.opened();
    assert!(
        opened.iter().any(|u| u.ends_with("/applications")),
        "{opened:?}"
    );
    assert!(
        opened
            .iter()
            .any(|u| u.contains("/oauth/authorize") && u.contains("code_challenge=")),
        "{opened:?}"
    );
    session.find(&format!("button.repo[data-path='{PROJECT}']"));
}

#[test]
fn a_bad_address_and_an_untrusted_certificate_are_explained() {
    let (desktop, kit) = desktop_and_kit(Options {
        tls: true,
        ..Options::default()
    });
    let driver = Driver::start(&desktop);
    let session = driver.session();

    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    enter_address(&session, &format!("http://127.0.0.1:{closed}"));
    assert!(!server_check_passed(&session));
    let problem = session.find("[data-testid=server-problem]");
    let text = session.text(&problem);
    assert!(
        text.to_lowercase().contains("firewall") || text.contains("VPN"),
        "{text}"
    );
    let continue_button = session.find_with_text("button", "Continue");
    assert!(
        session.attribute(&continue_button, "disabled").is_some(),
        "no way forward from a server that isn't there"
    );
    session.screenshot("wizard-1-bad-address");

    // The testkit's certificate comes from a CA this machine doesn't trust.
    enter_address(&session, kit.url());
    assert!(!server_check_passed(&session));
    let problem = session.find("[data-testid=server-problem][data-step=tls]");
    let text = session.text(&problem);
    assert!(text.contains("CA certificate"), "{text}");
    session.screenshot("wizard-1-untrusted-certificate");

    // The administrator's CA file, chosen in the system file picker.
    let ca = kit.info().ca_file.clone().expect("a CA file with tls");
    std::fs::copy(&ca, desktop.home().join("company-ca.pem")).unwrap();
    session.click(&session.find_with_text("button", "Choose certificate file"));
    wait_for("the file picker", Duration::from_secs(10), || {
        desktop
            .x11()
            .visible_window("Choose your organisation's CA certificate")
    });
    std::thread::sleep(Duration::from_millis(700));
    desktop.xdotool(&["type", "~"]);
    std::thread::sleep(Duration::from_millis(500));
    desktop.xdotool(&["type", "--delay", "60", "/company-ca.pem"]);
    std::thread::sleep(Duration::from_millis(300));
    desktop.xdotool(&["key", "Return"]);
    session.wait_text(
        "p",
        "Trusting the certificate authority",
        Duration::from_secs(10),
    );
    assert!(server_check_passed(&session), "trusted with the CA file");
    session.screenshot("wizard-1-trusted-with-ca");
    session.click(&session.find_with_text("button", "Continue"));
    let token = session.find("input[name=token]");
    session.type_text(&token, &kit.info().token);
    session.click(&session.find_with_text("button", "Connect"));
    session.wait_text("h1", "Which repository?", Duration::from_secs(20));
    session.find(&format!("button.repo[data-path='{PROJECT}']"));
}

#[test]
fn a_folder_with_files_is_backed_up_before_the_repository_arrives() {
    let (desktop, kit) = desktop_and_kit(Options::default());
    let driver = Driver::start(&desktop);
    let session = driver.session();
    connect_with_token(&session, &kit, None);
    let dir = desktop.home().join("Site");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("draft.md"), "my draft\n").unwrap();
    pick_repository(&session, PROJECT);
    drop_folder(&desktop, &session, &dir);
    let choices = session.find("[data-testid=existing-files]");
    let text = session.text(&choices);
    assert!(
        text.contains("backup folder") && text.contains("Upload"),
        "{text}"
    );
    let backup = session.find("input[name=existing][value=backup]");
    assert!(
        session.attribute(&backup, "checked").is_some(),
        "backing up is the default for a repository with files"
    );
    session.screenshot("wizard-4-folder-with-files");
    // A slow network, so the download step can be seen.
    admin(&kit, "/faults", serde_json::json!({"latency_ms": 1500}));
    session.click(&session.find_with_text("button", "Start syncing"));
    let progress = session.find("[data-testid=clone-progress-text]");
    assert!(!session.text(&progress).is_empty());
    session.find("progress#clone-progress");
    session.screenshot("wizard-5-downloading");
    admin(&kit, "/faults", serde_json::json!({}));
    let done = session.wait_text(
        "[data-testid=sync-done]",
        "backup before Ferry",
        Duration::from_secs(30),
    );
    let text = session.text(&done);
    let backup_dir = std::fs::read_dir(desktop.home())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.display()
                .to_string()
                .contains("Site (backup before Ferry")
        })
        .expect("a backup folder beside the folder");
    assert!(text.contains(&backup_dir.display().to_string()), "{text}");
    assert_eq!(
        std::fs::read_to_string(backup_dir.join("draft.md")).unwrap(),
        "my draft\n"
    );
    assert!(
        dir.join("README.md").is_file(),
        "the repository's files arrived"
    );
    session.screenshot("wizard-5-done-backed-up");
}

#[test]
fn a_conflict_shows_a_card_that_opens_both_versions_and_a_notification() {
    let (mut desktop, kit) = desktop_and_kit(Options::default());
    desktop.watch_notifications();
    let driver = Driver::start(&desktop);
    let session = driver.session();
    connect_with_token(&session, &kit, None);
    let dir = set_up_folder(&desktop, &session, PROJECT, "Website");
    // Run from the checkout: no offer to start at login, and no login item.
    std::thread::sleep(Duration::from_millis(500));
    assert!(session
        .find_all("input[name=wizard-start-at-login]")
        .is_empty());
    assert!(
        desktop.login_items().is_empty(),
        "{:?}",
        desktop.login_items()
    );
    session.click(&session.find_with_text("button", "Go to your folders"));
    wait_for("the folder to be synced", Duration::from_secs(20), || {
        (card_state(&session) == "synced").then_some(())
    });

    // Both sides change about.md while this folder is paused.
    session.click(&session.find_with_text("li.card button", "Pause"));
    wait_for("the folder to pause", Duration::from_secs(10), || {
        (card_state(&session) == "paused").then_some(())
    });
    std::fs::write(dir.join("about.md"), "# About us\n\nMy version.\n").unwrap();
    let work = tempfile_dir(&desktop);
    let colleague = colleague_clone(&kit, PROJECT, &work);
    std::fs::write(
        colleague.join("about.md"),
        "# About us\n\nRita's version.\n",
    )
    .unwrap();
    git(&colleague, &["commit", "-qam", "Rita rewrites about.md"]);
    git(&colleague, &["push", "-q", "origin", "HEAD:main"]);
    session.click(&session.find_with_text("li.card button", "Resume"));

    let card = session.find("[data-testid=conflict-card]");
    let text = session.text(&card);
    assert!(text.contains("about (conflict"), "{text}");
    wait_for(
        "the folder to show the conflict",
        Duration::from_secs(10),
        || (card_state(&session) == "conflict").then_some(()),
    );
    session.screenshot("main-conflict");
    assert_eq!(
        std::fs::read_to_string(dir.join("about.md")).unwrap(),
        "# About us\n\nRita's version.\n"
    );
    session
        .click(&session.find_with_text("[data-testid=conflict-card] button", "Open your version"));
    session.click(&session.find_with_text("[data-testid=conflict-card] button", "Open about.md"));
    let opened = wait_for("both versions to open", Duration::from_secs(10), || {
        let o = desktop.opened();
        (o.iter().any(|p| p.contains("about (conflict"))
            && o.iter().any(|p| p.ends_with("/about.md")))
        .then_some(o)
    });
    let copy = opened
        .iter()
        .find(|p| p.contains("about (conflict"))
        .unwrap();
    // One desktop notification says so (routine syncs before it said nothing).
    let seen = wait_for("the conflict notification", Duration::from_secs(10), || {
        let n = desktop.notifications();
        n.contains("Two versions of a file were kept in Website")
            .then_some(n)
    });
    assert_eq!(
        seen.matches("member=Notify").count(),
        1,
        "only the conflict was notified:\n{seen}"
    );
    assert_eq!(
        std::fs::read_to_string(copy).unwrap(),
        "# About us\n\nMy version.\n",
        "the copy holds this computer's version"
    );
}

fn admin(kit: &ferry_testkit::Testkit, path: &str, body: serde_json::Value) -> serde_json::Value {
    reqwest::blocking::Client::new()
        .post(format!("{}/-/testkit{path}", kit.url()))
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap_or_default()
}

#[test]
fn a_revoked_token_asks_to_sign_in_again_and_nothing_waits_after() {
    let (mut desktop, kit) = desktop_and_kit(Options::default());
    desktop.watch_notifications();
    let driver = Driver::start(&desktop);
    let session = driver.session();
    connect_with_token(&session, &kit, None);
    let dir = set_up_folder(&desktop, &session, PROJECT, "Website");
    session.click(&session.find_with_text("button", "Go to your folders"));
    wait_for("the folder to be synced", Duration::from_secs(20), || {
        (card_state(&session) == "synced").then_some(())
    });

    // Someone revokes the token on GitLab; the next save can't be sent.
    admin(
        &kit,
        "/tokens/revoke",
        serde_json::json!({"username": "editor"}),
    );
    std::fs::write(dir.join("after-revoke.md"), "written after the revoke\n").unwrap();
    wait_for(
        "the folder to need the user",
        Duration::from_secs(20),
        || (card_state(&session) == "error").then_some(()),
    );
    let message = session.text(&session.find("[data-testid=folder-message]"));
    assert!(message.contains("Sign in again"), "{message}");
    wait_for("a notification", Duration::from_secs(10), || {
        desktop
            .notifications()
            .contains("Website needs you")
            .then_some(())
    });
    session.screenshot("main-sign-in-again");

    // Settings → Accounts shows why, and takes a new token.
    session.click(&session.find_with_text("button", "Settings"));
    session.click(&session.find_with_text("button", "Manage accounts"));
    let state = session.find("[data-testid=account-state][data-kind=sign-in]");
    assert!(
        session.text(&state).starts_with("! Sign in again"),
        "{}",
        session.text(&state)
    );
    session.click(&session.find_with_text("button", "Sign in again…"));
    let fresh = admin(
        &kit,
        "/tokens",
        serde_json::json!({"username": "editor", "scopes": ["api", "read_user", "read_repository", "write_repository"]}),
    );
    let field = session.find("input[name=again-token]");
    session.type_text(&field, fresh["token"].as_str().unwrap());
    session.screenshot("accounts-sign-in-again");
    session.click(&session.find_with_text(".again button", "Sign in again"));
    session.find_with_text("[data-testid=account-done]", "Signed in again as editor");
    session.find("[data-testid=account-state][data-kind=ok]");
    session.screenshot("accounts");

    // What waited is sent.
    wait_for(
        "the waiting save to reach GitLab",
        Duration::from_secs(20),
        || {
            server_files(&kit, PROJECT)
                .contains(&"after-revoke.md".to_string())
                .then_some(())
        },
    );
    session.click(&session.find_with_text("button", "Done"));
    session.click(&session.find_with_text("button", "Done"));
    wait_for(
        "the folder to be synced again",
        Duration::from_secs(20),
        || (card_state(&session) == "synced").then_some(()),
    );
}

#[test]
fn with_the_keyboard_a_new_repository_is_created_and_removing_the_folder_keeps_its_files() {
    let (desktop, kit) = desktop_and_kit(Options::default());
    let driver = Driver::start(&desktop);
    let session = driver.session();
    const ENTER: &str = "\u{E007}";

    // Steps 1 and 2 with Enter alone.
    enter_address(&session, kit.url());
    assert!(server_check_passed(&session));
    session.type_text(&session.find("input[name=address]"), ENTER);
    session.find_with_text("h1", "How do you want to sign in?");
    let token = session.find("input[name=token]");
    session.type_text(&token, &kit.info().token);
    session.type_text(&token, ENTER);
    session.wait_text("h1", "Which repository?", Duration::from_secs(20));

    // Step 3: a new repository, created inline.
    session.click(&session.find_with_text("button", "Create a new repository"));
    let name = session.find("input[name=new-repo]");
    session.type_text(&name, "Team notes");
    session.screenshot("wizard-3-create-repository");
    session.type_text(&name, ENTER);
    session.find_with_text("h1", "Which folder should stay in sync?");
    let dir = desktop.home().join("Notes");
    std::fs::create_dir_all(&dir).unwrap();
    drop_folder(&desktop, &session, &dir);
    session.click(&session.find_with_text("button", "Start syncing"));
    wait_until_set_up(&desktop, &session);
    session.click(&session.find_with_text("button", "Go to your folders"));
    wait_for("the folder to be synced", Duration::from_secs(20), || {
        (card_state(&session) == "synced").then_some(())
    });
    std::fs::write(dir.join("first.md"), "The first note\n").unwrap();
    wait_for("the first file on GitLab", Duration::from_secs(20), || {
        server_files(&kit, "editor/team-notes")
            .contains(&"first.md".to_string())
            .then_some(())
    });

    // Remove asks first, then stops syncing and leaves the files alone.
    session.click(&session.find_with_text("li.card button", "Remove"));
    let ask = session.find("[role=alertdialog]");
    assert!(
        session.text(&ask).contains("stay on this computer"),
        "{}",
        session.text(&ask)
    );
    session.screenshot("main-remove-folder");
    session.click(&session.find_with_text("[role=alertdialog] button", "Stop syncing"));
    wait_for("the card to go", Duration::from_secs(10), || {
        session
            .find_all("li.card[data-folder]")
            .is_empty()
            .then_some(())
    });
    assert_eq!(
        std::fs::read_to_string(dir.join("first.md")).unwrap(),
        "The first note\n"
    );
    let settings = std::fs::read_to_string(desktop.config_dir().join("settings.toml")).unwrap();
    assert!(!settings.contains("team-notes"), "{settings}");
    std::fs::write(dir.join("after-removal.md"), "not synced\n").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !server_files(&kit, "editor/team-notes").contains(&"after-removal.md".to_string()),
        "a removed folder is not synced any more"
    );
}

#[test]
fn a_colleagues_mass_deletion_waits_for_a_click_and_unwritable_names_are_listed() {
    let (desktop, kit) = desktop_and_kit(Options::default());
    let driver = Driver::start(&desktop);
    let session = driver.session();
    connect_with_token(&session, &kit, None);
    let dir = set_up_folder(&desktop, &session, PROJECT, "Website");
    session.click(&session.find_with_text("button", "Go to your folders"));
    wait_for("the folder to be synced", Duration::from_secs(20), || {
        (card_state(&session) == "synced").then_some(())
    });
    let before = server_files(&kit, PROJECT);
    assert!(before.len() >= 3, "a few files to delete: {before:?}");

    // A colleague deletes every file but the README, and adds one whose
    // name no disk here can hold.
    let work = tempfile_dir(&desktop);
    let colleague = colleague_clone(&kit, PROJECT, &work);
    for f in before.iter().filter(|f| f.as_str() != "README.md") {
        git(&colleague, &["rm", "-q", f]);
    }
    // (Longer than any file name here: made in git's index directly.)
    let long_name = format!("{}.md", "n".repeat(300));
    std::fs::write(work.join("content.txt"), "too long a name\n").unwrap();
    let blob = git(&colleague, &["hash-object", "-w", "../content.txt"]);
    git(
        &colleague,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{},{long_name}", blob.trim()),
        ],
    );
    git(&colleague, &["commit", "-qm", "Clear out the site"]);
    git(&colleague, &["push", "-q", "origin", "HEAD:main"]);
    session.click(&session.find_with_text("li.card button", "Sync now"));

    // The folder pauses and asks; nothing is deleted before the answer.
    let card = wait_for("the deletion question", Duration::from_secs(20), || {
        session
            .find_all("[data-testid=deletion-card]")
            .into_iter()
            .next()
    });
    let text = session.text(&card);
    assert!(
        text.contains(&format!("deletes {} of", before.len() - 1)),
        "the question says how many: {text}"
    );
    assert_eq!(card_state(&session), "paused");
    assert!(
        dir.join("about.md").exists(),
        "nothing deleted before the answer"
    );
    session.screenshot("main-deletion-question");

    session.click(
        &session.find_with_text("[data-testid=deletion-card] button", "Delete them here too"),
    );
    wait_for(
        "the deletion to be applied",
        Duration::from_secs(20),
        || (!dir.join("about.md").exists()).then_some(()),
    );
    assert!(dir.join("README.md").exists(), "what was kept stays");
    // The name this disk refused is listed, with what to do.
    let notes = wait_for(
        "the list of files not synced",
        Duration::from_secs(20),
        || {
            session
                .find_all("[data-testid=notes-card]")
                .into_iter()
                .next()
        },
    );
    let text = session.text(&notes);
    assert!(text.contains("1 file isn't synced"), "{text}");
    wait_for(
        "the folder to need attention",
        Duration::from_secs(10),
        || (card_state(&session) == "error").then_some(()),
    );
    session.screenshot("main-notes");
    assert!(
        session.find_all("[data-testid=deletion-card]").is_empty(),
        "the question is gone once answered"
    );

    // SEC-12: a link in the folder (a collaborator can push one pointing
    // anywhere) is never handed to the system to open.
    std::os::unix::fs::symlink("/usr/bin/env", dir.join("tool.md")).unwrap();
    let id = session
        .attribute(&session.find("li.card[data-folder]"), "data-folder")
        .unwrap();
    let v = session.invoke(
        "open_file",
        serde_json::json!({"id": id, "path": "tool.md"}),
    );
    assert!(v.get("err").is_some(), "opening a link is refused: {v}");
    let v = session.invoke(
        "open_file",
        serde_json::json!({"id": id, "path": "README.md"}),
    );
    assert!(v.get("err").is_none(), "an ordinary file opens: {v}");
    let opened = wait_for("README.md to open", Duration::from_secs(10), || {
        let o = desktop.opened();
        o.iter().any(|p| p.ends_with("/README.md")).then_some(o)
    });
    assert!(
        !opened
            .iter()
            .any(|p| p.contains("tool.md") || p.contains("/usr/bin")),
        "the link was never opened: {opened:?}"
    );
}

/// Scenario 32: the desktop app and `ferry sync` on the same folder — one
/// owns it, the other says so; `ferry status` shows the app's live state.
#[test]
fn the_cli_sees_the_apps_live_status_and_never_syncs_its_folder_too() {
    let (desktop, kit) = desktop_and_kit(Options::default());
    let driver = Driver::start(&desktop);
    let session = driver.session();
    connect_with_token(&session, &kit, None);
    let dir = set_up_folder(&desktop, &session, PROJECT, "Website");
    session.click(&session.find_with_text("button", "Go to your folders"));
    wait_for("the folder to be synced", Duration::from_secs(20), || {
        (card_state(&session) == "synced").then_some(())
    });
    let cli = |args: &[&str]| {
        let mut c = std::process::Command::new(ferry_e2e::target_dir().join("debug/ferry"));
        c.args(args);
        for (k, v) in desktop.env() {
            c.env(k, v);
        }
        c.output().expect("run ferry")
    };
    // The live state, from the app.
    let status = wait_for(
        "ferry status to show the app's state",
        Duration::from_secs(10),
        || {
            let out = cli(&["status", "--json"]);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            (v["running"].is_u64() && v["folders"][0]["state"] == "synced").then_some(v)
        },
    );
    assert_eq!(
        status["folders"][0]["path"],
        dir.display().to_string(),
        "{status}"
    );
    // A second process doesn't sync the folder the app owns.
    let out = cli(&["sync", "--once", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("already syncing") && m.contains("process")),
        "the CLI says which process owns it: {v}"
    );
    assert_eq!(v["state"], "paused", "{v}");
}
